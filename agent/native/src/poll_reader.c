/*
 * Reading a handle's fd, whichever kind: one uv_poll_t on the fd, and on each readiness event the
 * kind's ready() fills fixed slots of the caller's buffer and makes one JS call per batch
 * (mg_reader_deliver), so the JS<->native crossing is per batch, not per packet, and nothing is
 * allocated per packet. Here: the references that keep the caller's memory and callback alive, the
 * async context, and stopping safely, even from inside the callback.
 */
#include <stdlib.h>

#include "mgtun.h"

static void release_refs(mg_reader *r) {
  napi_env env = r->env;
  if (r->async_context != NULL) napi_async_destroy(env, r->async_context);
  r->async_context = NULL;
  napi_ref *refs[3 + MG_READER_MAX_ARRAYS] = {&r->callback, &r->resource, &r->self};
  for (size_t i = 0; i < MG_READER_MAX_ARRAYS; i++) refs[3 + i] = &r->arrays[i];
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(env, *refs[i]);
    *refs[i] = NULL;
  }
}

static void on_closed(uv_handle_t *handle) { free(handle->data); }

void mg_reader_stop(mg_handle *h) {
  mg_reader *r = h->reader;
  if (r == NULL) return;
  h->reader = NULL;
  r->handle = NULL;
  /* uv_close now, not later: it deregisters the fd from epoll, which must happen before close(fd). */
  uv_close((uv_handle_t *)&r->poll, on_closed);
  /* Destroying the async context from inside its own make_callback is not safe; defer. */
  if (r->in_callback) {
    r->release_after_callback = true;
  } else {
    release_refs(r);
  }
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  mg_reader *r = poll->data;
  if (r->handle == NULL) return;
  /* Reading the caller's arrays makes handles too; mg_reader_deliver has its own scope per JS call. */
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  /* From here until the last JS call returns, a stop must leave the references in place. */
  r->in_callback = true;
  r->kind->ready(r, status);
  r->in_callback = false;
  if (r->release_after_callback) release_refs(r);
  napi_close_handle_scope(env, scope);
}

int mg_reader_restart(mg_reader *r) {
  int rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  return rc < 0 ? -rc : 0;
}

bool mg_reader_start(napi_env env, mg_handle *h, mg_reader *r, const mg_reader_kind *kind, napi_value self,
                     napi_value callback, const napi_value *arrays, size_t array_count) {
  r->handle = h;
  r->kind = kind;
  r->errno_name = h->kind->errno_name;
  r->env = env;
  r->poll.data = r;

  napi_value resource, resource_name;
  uv_loop_t *loop = NULL;
  bool ok = array_count <= MG_READER_MAX_ARRAYS && napi_create_reference(env, callback, 1, &r->callback) == napi_ok;
  for (size_t i = 0; ok && i < array_count; i++) ok = napi_create_reference(env, arrays[i], 1, &r->arrays[i]) == napi_ok;
  if (!ok || napi_create_reference(env, self, 1, &r->self) != napi_ok || napi_create_object(env, &resource) != napi_ok ||
      napi_create_reference(env, resource, 1, &r->resource) != napi_ok ||
      napi_create_string_utf8(env, kind->resource, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, resource, resource_name, &r->async_context) != napi_ok ||
      napi_get_uv_event_loop(env, &loop) != napi_ok) {
    release_refs(r);
    free(r);
    mgtun_throw_pending_or(env, kind->setup_failed);
    return false;
  }
  int rc = kind->socket ? uv_poll_init_socket(loop, &r->poll, h->fd) : uv_poll_init(loop, &r->poll, h->fd);
  if (rc == 0) {
    rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
    if (rc != 0) {
      release_refs(r);
      uv_close((uv_handle_t *)&r->poll, on_closed);
    }
  } else {
    release_refs(r);
    free(r);
  }
  if (rc != 0) {
    mgtun_throw_errno_as(env, h->kind->errno_name, -rc, "uv_poll_start", kind->poll_failed, NULL);
    return false;
  }
  h->reader = r;
  return true;
}

napi_value mg_reader_stop_js(napi_env env, napi_callback_info info, const mg_handle_kind *kind) {
  napi_value argv[1];
  mg_handle *h = mg_handle_args(env, info, kind, 1, argv, kind->expected, false);
  if (h == NULL) return NULL;
  mg_reader_stop(h);
  return NULL;
}

bool mg_reader_array(const mg_reader *r, size_t i, napi_typedarray_type want, void **data, size_t *len) {
  napi_value value;
  void *raw = NULL;
  if (napi_get_reference_value(r->env, r->arrays[i], &value) != napi_ok || !mgtun_typed(r->env, value, want, &raw, len) ||
      raw == NULL) {
    return false;
  }
  *data = raw;
  return true;
}

void mg_reader_deliver(mg_reader *r, uint32_t count, int error, const char *hint) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, resource, argv[2];
  bool ready = napi_get_reference_value(env, r->callback, &callback) == napi_ok &&
               napi_get_reference_value(env, r->resource, &resource) == napi_ok &&
               napi_create_uint32(env, count, &argv[0]) == napi_ok;
  if (ready && error != 0) {
    ready = mgtun_errno_error(env, r->errno_name, error, r->kind->syscall, r->kind->failed, hint, &argv[1]);
  } else if (ready) {
    ready = napi_get_undefined(env, &argv[1]) == napi_ok;
  }
  if (ready) {
    if (r->kind->calls_stat >= 0 && r->handle != NULL) r->handle->stats[r->kind->calls_stat]++;
    napi_status s = napi_make_callback(env, r->async_context, resource, callback, 2, argv, NULL);
    if (s == napi_pending_exception) {
      /* Same outcome as a throwing EventEmitter listener: an uncaught exception, not a silent drop. */
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}
