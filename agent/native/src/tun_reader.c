/*
 * Reading: one uv_poll_t on the fd. Each readiness event drains up to one batch of packets into
 * the caller's buffer (fixed slots) and makes a single JS call with the count, so the JS<->native
 * crossing is per batch, not per packet, and nothing is allocated per packet.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mgtun.h"

struct mgtun_reader {
  uv_poll_t poll; /* freed with the reader in the close callback, which libuv runs after any poll callback */
  mgtun *tun;
  napi_env env;
  napi_ref callback;
  napi_ref buffer;
  napi_ref lengths;
  napi_ref resource;
  napi_ref self; /* the handle: keeps the device alive while the loop can still call into it */
  napi_async_context async_context;
  uint32_t slot_size;
  uint32_t headroom;
  uint32_t batch;
  bool in_callback;
  bool release_after_callback;
};

static void release_refs(mgtun_reader *r) {
  napi_env env = r->env;
  if (r->async_context != NULL) napi_async_destroy(env, r->async_context);
  if (r->callback != NULL) napi_delete_reference(env, r->callback);
  if (r->buffer != NULL) napi_delete_reference(env, r->buffer);
  if (r->lengths != NULL) napi_delete_reference(env, r->lengths);
  if (r->resource != NULL) napi_delete_reference(env, r->resource);
  if (r->self != NULL) napi_delete_reference(env, r->self);
  r->async_context = NULL;
  r->callback = r->buffer = r->lengths = r->resource = r->self = NULL;
}

static void on_closed(uv_handle_t *handle) { free(handle->data); }

void mgtun_reader_stop(mgtun *tun) {
  mgtun_reader *r = tun->reader;
  if (r == NULL) return;
  tun->reader = NULL;
  r->tun = NULL;
  /* uv_close now, not later: it deregisters the fd from epoll, which must happen before close(fd). */
  uv_close((uv_handle_t *)&r->poll, on_closed);
  /* Destroying the async context from inside its own make_callback is not safe; defer. */
  if (r->in_callback) {
    r->release_after_callback = true;
  } else {
    release_refs(r);
  }
}

/* Re-fetched per batch: cheap, and a detached or transferred buffer then fails instead of dangling. */
static bool batch_memory(mgtun_reader *r, uint8_t **base, size_t *base_len, uint32_t **lengths, size_t *count) {
  napi_value buffer, lengths_value;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_reference_value(r->env, r->buffer, &buffer) != napi_ok ||
      napi_get_typedarray_info(r->env, buffer, &type, base_len, &raw, NULL, NULL) != napi_ok || raw == NULL) {
    return false;
  }
  *base = raw;
  if (napi_get_reference_value(r->env, r->lengths, &lengths_value) != napi_ok ||
      napi_get_typedarray_info(r->env, lengths_value, &type, count, &raw, NULL, NULL) != napi_ok || raw == NULL) {
    return false;
  }
  *lengths = raw;
  return true;
}

static uint32_t read_batch(mgtun_reader *r, int *error) {
  uint8_t *base;
  size_t base_len, lengths_len;
  uint32_t *lengths;
  if (!batch_memory(r, &base, &base_len, &lengths, &lengths_len)) {
    *error = EFAULT;
    return 0;
  }
  uint32_t limit = r->batch;
  if (lengths_len < limit) limit = (uint32_t)lengths_len;
  if (base_len / r->slot_size < limit) limit = (uint32_t)(base_len / r->slot_size);
  mgtun *tun = r->tun;
  uint32_t n = 0;
  while (n < limit) {
    uint8_t *slot = base + (size_t)n * r->slot_size + r->headroom;
    ssize_t got = read(tun->fd, slot, r->slot_size - r->headroom);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) *error = errno;
      break;
    }
    lengths[n++] = (uint32_t)got;
    tun->stats[MGTUN_PACKETS_READ]++;
    tun->stats[MGTUN_BYTES_READ] += (uint64_t)got;
  }
  return n;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  mgtun_reader *r = handle->data;
  if (r->tun == NULL) return;
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  /* From here until the JS call returns, a stop must leave the references in place. */
  r->in_callback = true;
  int error = 0;
  uint32_t count = read_batch(r, &error);
  /* libuv turns POLLERR into UV_EBADF and stops the watcher; the read has the kernel's own reason, if any. */
  if (status < 0 && error == 0) error = -status;
  /* A failing fd (e.g. EBADFD once the link is deleted) stays readable: stop, or the loop spins. */
  if (error != 0) mgtun_reader_stop(r->tun);

  if (count > 0 || error != 0) {
    napi_value callback, resource, argv[2];
    bool ready = napi_get_reference_value(env, r->callback, &callback) == napi_ok &&
                 napi_get_reference_value(env, r->resource, &resource) == napi_ok &&
                 napi_create_uint32(env, count, &argv[0]) == napi_ok;
    if (ready && error != 0) {
      ready = mgtun_errno_error(env, error, "read", "TUN read failed, reading stopped",
                                error == EBADFD ? "the interface was deleted" : NULL, &argv[1]);
    } else if (ready) {
      ready = napi_get_undefined(env, &argv[1]) == napi_ok;
    }
    if (ready) {
      napi_status s = napi_make_callback(env, r->async_context, resource, callback, 2, argv, NULL);
      if (s == napi_pending_exception) {
        /* Same outcome as a throwing EventEmitter listener: an uncaught exception, not a silent drop. */
        napi_value exception;
        if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
      }
    }
  }
  r->in_callback = false;
  if (r->release_after_callback) release_refs(r);
  napi_close_handle_scope(env, scope);
}

/*
 * startReading(handle, buffer: Uint8Array, slotSize, headroom, lengths: Uint32Array, batch,
 *              callback(count, error)).
 * Packet i lands at buffer[i*slotSize + headroom], its length in lengths[i]; an Error (with
 * code/errno) as second argument means reading failed and has stopped.
 */
napi_value mgtun_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    mgtun_throw_type(env, "startReading(handle, buffer, slotSize, headroom, lengths, batch, callback)");
    return NULL;
  }
  mgtun *tun = mgtun_unwrap(env, argv[0], true);
  if (tun == NULL) return NULL;
  uint8_t *base;
  size_t base_len, lengths_len;
  uint32_t *lengths;
  uint32_t slot_size, headroom, batch;
  napi_valuetype callback_type;
  if (!mgtun_arg_bytes(env, argv[1], &base, &base_len, "buffer must be a Uint8Array") ||
      !mgtun_arg_u32(env, argv[2], &slot_size, "slotSize must be a uint32") ||
      !mgtun_arg_u32(env, argv[3], &headroom, "headroom must be a uint32") ||
      !mgtun_arg_u32_array(env, argv[4], &lengths, &lengths_len, "lengths must be a Uint32Array") ||
      !mgtun_arg_u32(env, argv[5], &batch, "batch must be a uint32")) {
    return NULL;
  }
  MGTUN_CHECK(env, napi_typeof(env, argv[6], &callback_type));
  if (callback_type != napi_function) {
    mgtun_throw_type(env, "callback must be a function");
    return NULL;
  }
  /* 68 bytes is the smallest MTU IPv4 allows; anything less cannot hold a packet. */
  if (slot_size < headroom + 68 || batch == 0 || lengths_len < batch || base_len / slot_size < batch) {
    mgtun_throw_type(env, "buffer, lengths and batch do not fit: need batch slots of slotSize > headroom + 68");
    return NULL;
  }
  if (tun->reader != NULL) mgtun_reader_stop(tun);

  mgtun_reader *r = calloc(1, sizeof *r);
  if (r == NULL) {
    mgtun_throw_errno(env, ENOMEM, "calloc", "cannot allocate reader", NULL);
    return NULL;
  }
  r->tun = tun;
  r->env = env;
  r->slot_size = slot_size;
  r->headroom = headroom;
  r->batch = batch;
  r->poll.data = r;

  napi_value resource, resource_name;
  uv_loop_t *loop = NULL;
  int rc;
  if (napi_create_reference(env, argv[6], 1, &r->callback) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &r->buffer) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &r->lengths) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &r->self) != napi_ok || napi_create_object(env, &resource) != napi_ok ||
      napi_create_reference(env, resource, 1, &r->resource) != napi_ok ||
      napi_create_string_utf8(env, "MeshguardTunRead", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, resource, resource_name, &r->async_context) != napi_ok ||
      napi_get_uv_event_loop(env, &loop) != napi_ok) {
    release_refs(r);
    free(r);
    mgtun_throw_pending_or(env, "cannot set up TUN reader");
    return NULL;
  }
  rc = uv_poll_init(loop, &r->poll, tun->fd);
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
    mgtun_throw_errno(env, -rc, "uv_poll_start", "cannot poll the TUN fd", NULL);
    return NULL;
  }
  tun->reader = r;
  return NULL;
}

/* stopReading(handle): idempotent; safe from inside the read callback. */
napi_value mgtun_stop_reading(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    mgtun_throw_type(env, "expected a TUN handle from open()");
    return NULL;
  }
  mgtun *tun = mgtun_unwrap(env, argv[0], false);
  if (tun == NULL) return NULL;
  mgtun_reader_stop(tun);
  return NULL;
}
