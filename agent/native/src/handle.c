/*
 * The life of an fd-backed handle, whichever kind (TUN device, UDP socket): the External JS holds,
 * tagged with the kind's type tag, its unwrapping and argument checks, close and the counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mgtun.h"

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mg_handle *h = data;
  /* Reading holds a reference to the handle, so only an idle or torn-down environment gets here. */
  mg_reader_stop(h);
  if (h->fd >= 0) close(h->fd);
  free(h);
}

void *mg_handle_new(napi_env env, const mg_handle_kind *kind, size_t size, int fd) {
  mg_handle *h = calloc(1, size);
  if (h == NULL) {
    close(fd);
    mgtun_throw_errno_as(env, kind->errno_name, ENOMEM, "calloc", kind->alloc_failed, NULL);
    return NULL;
  }
  h->fd = fd;
  h->kind = kind;
  h->env = env;
  return h;
}

bool mg_handle_external(napi_env env, mg_handle *h, napi_value *handle) {
  if (napi_create_external(env, h, finalize_handle, NULL, handle) != napi_ok) {
    const char *message = h->kind->create_failed;
    close(h->fd);
    free(h);
    mgtun_throw_pending_or(env, message);
    return false;
  }
  if (napi_type_tag_object(env, *handle, h->kind->tag) != napi_ok) {
    mgtun_throw_pending_or(env, "Node-API call failed: napi_type_tag_object");
    return false;
  }
  return true;
}

mg_handle *mg_handle_unwrap(napi_env env, napi_value v, const mg_handle_kind *kind, bool need_open) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, v, kind->tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    mgtun_throw_type(env, kind->expected);
    return NULL;
  }
  mg_handle *h = data;
  if (need_open && h->fd < 0) {
    mgtun_throw_errno_as(env, kind->errno_name, EBADF, kind->closed_syscall, kind->closed, NULL);
    return NULL;
  }
  return h;
}

mg_handle *mg_handle_args(napi_env env, napi_callback_info info, const mg_handle_kind *kind, size_t want,
                          napi_value *argv, const char *usage, bool need_open) {
  size_t argc = want;
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    mgtun_throw_type(env, usage);
    return NULL;
  }
  return mg_handle_unwrap(env, argv[0], kind, need_open);
}

napi_value mg_handle_close(napi_env env, napi_callback_info info, const mg_handle_kind *kind) {
  napi_value argv[1];
  mg_handle *h = mg_handle_args(env, info, kind, 1, argv, kind->expected, false);
  if (h == NULL) return NULL;
  /* The poll watcher must be gone before the fd number can be reused by anyone else. */
  mg_reader_stop(h);
  if (h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  return NULL;
}

napi_value mg_handle_stats(napi_env env, napi_callback_info info, const mg_handle_kind *kind) {
  napi_value argv[2];
  mg_handle *h = mg_handle_args(env, info, kind, 2, argv, kind->stats_usage, false);
  if (h == NULL) return NULL;
  void *raw = NULL;
  size_t len = 0;
  if (!mgtun_typed(env, argv[1], napi_float64_array, &raw, &len) || len < kind->stat_count) {
    mgtun_throw_type(env, kind->stats_output);
    return NULL;
  }
  double *out = raw;
  for (uint32_t i = 0; i < kind->stat_count; i++) out[i] = (double)h->stats[i];
  return NULL;
}
