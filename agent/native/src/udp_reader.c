/*
 * Receiving: one uv_poll_t on the socket. Each readiness event drains the socket with
 * recvmmsg(2) into fixed slots of the caller's buffer, with lengths and source addresses in the
 * caller's typed arrays, and makes one JS call per batch: the JS<->native crossing and the
 * syscall are per batch, and nothing is allocated per datagram.
 *
 * A busy socket is read again right after its callback (the queue is usually not empty yet, and
 * another epoll round trip per batch would cost more than the read), but at most maxBatches times
 * per wake-up, so a flood cannot keep timers, the TUN side or anything else on the loop waiting.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udp.h"

struct mgudp_reader {
  uv_poll_t poll; /* freed with the reader in the close callback, which libuv runs after any poll callback */
  mgudp *udp;
  napi_env env;
  napi_ref callback;
  napi_ref buffer;
  napi_ref lengths;
  napi_ref addresses;
  napi_ref ports;
  napi_ref families;
  napi_ref resource;
  napi_ref self; /* the handle: keeps the socket alive while the loop can still call into it */
  napi_async_context async_context;
  uint32_t slot_size;
  uint32_t headroom;
  uint32_t batch;
  uint32_t max_batches;
  bool in_callback;
  bool release_after_callback;
  /* recvmmsg's scratch, `batch` entries each, allocated with the reader (no per-read allocation). */
  struct mmsghdr *msgs;
  struct iovec *iovs;
  struct sockaddr_in6 *names;
};

/* The caller's typed arrays, re-fetched per batch: a detached buffer then fails instead of dangling. */
typedef struct {
  uint8_t *base;
  size_t base_len;
  uint32_t *lengths;
  uint8_t *addresses;
  uint16_t *ports;
  uint8_t *families;
  uint32_t limit; /* slots every array has room for, at most `batch` */
} batch_memory;

/* Transient errors stop one read attempt, not reading: at most this many in a row per batch. */
#define MAX_TRANSIENT_ERRORS 8

static void release_refs(mgudp_reader *r) {
  napi_env env = r->env;
  napi_ref *refs[] = {&r->callback, &r->buffer,   &r->lengths,  &r->addresses,
                      &r->ports,    &r->families, &r->resource, &r->self};
  if (r->async_context != NULL) napi_async_destroy(env, r->async_context);
  r->async_context = NULL;
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i] != NULL) napi_delete_reference(env, *refs[i]);
    *refs[i] = NULL;
  }
}

static void on_closed(uv_handle_t *handle) { free(handle->data); }

void mgudp_reader_stop(mgudp *udp) {
  mgudp_reader *r = udp->reader;
  if (r == NULL) return;
  udp->reader = NULL;
  r->udp = NULL;
  /* uv_close now, not later: it deregisters the fd from epoll, which must happen before close(fd). */
  uv_close((uv_handle_t *)&r->poll, on_closed);
  /* Destroying the async context from inside its own make_callback is not safe; defer. */
  if (r->in_callback) {
    r->release_after_callback = true;
  } else {
    release_refs(r);
  }
}

static bool typed(napi_env env, napi_ref ref, napi_typedarray_type want, void **data, size_t *len) {
  napi_value value;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_reference_value(env, ref, &value) != napi_ok ||
      napi_get_typedarray_info(env, value, &type, len, &raw, NULL, NULL) != napi_ok || type != want || raw == NULL) {
    return false;
  }
  *data = raw;
  return true;
}

static bool fetch_memory(mgudp_reader *r, batch_memory *m) {
  size_t lengths_len, addresses_len, ports_len, families_len;
  void *base, *lengths, *addresses, *ports, *families;
  if (!typed(r->env, r->buffer, napi_uint8_array, &base, &m->base_len) ||
      !typed(r->env, r->lengths, napi_uint32_array, &lengths, &lengths_len) ||
      !typed(r->env, r->addresses, napi_uint8_array, &addresses, &addresses_len) ||
      !typed(r->env, r->ports, napi_uint16_array, &ports, &ports_len) ||
      !typed(r->env, r->families, napi_uint8_array, &families, &families_len)) {
    return false;
  }
  m->base = base;
  m->lengths = lengths;
  m->addresses = addresses;
  m->ports = ports;
  m->families = families;
  size_t limit = r->batch;
  if (m->base_len / r->slot_size < limit) limit = m->base_len / r->slot_size;
  if (lengths_len < limit) limit = lengths_len;
  if (addresses_len / 16 < limit) limit = addresses_len / 16;
  if (ports_len < limit) limit = ports_len;
  if (families_len < limit) limit = families_len;
  m->limit = (uint32_t)limit;
  return m->limit > 0;
}

static bool fatal_receive_error(int err) {
  /* These say the socket or our memory is unusable; anything else (e.g. an ICMP-reported
   * ECONNREFUSED, ENOMEM under pressure) is about one datagram or one moment. */
  return err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL;
}

/*
 * Fills slots [0, n) and returns n. *drained is set when the socket had nothing more to give;
 * *error to an errno when reading must stop.
 */
static uint32_t receive_batch(mgudp_reader *r, int *error, bool *drained) {
  batch_memory m;
  if (!fetch_memory(r, &m)) {
    *error = EFAULT;
    return 0;
  }
  mgudp *udp = r->udp;
  const size_t room = r->slot_size - r->headroom;
  uint32_t n = 0;
  int transient = 0;
  while (n < m.limit) {
    const uint32_t first = n;
    const uint32_t want = m.limit - n;
    for (uint32_t i = 0; i < want; i++) {
      r->iovs[i].iov_base = m.base + (size_t)(first + i) * r->slot_size + r->headroom;
      r->iovs[i].iov_len = room;
      struct msghdr *h = &r->msgs[i].msg_hdr;
      h->msg_name = &r->names[i];
      h->msg_namelen = sizeof r->names[i];
      h->msg_iov = &r->iovs[i];
      h->msg_iovlen = 1;
      h->msg_control = NULL;
      h->msg_controllen = 0;
      h->msg_flags = 0;
      r->msgs[i].msg_len = 0;
    }
    int got = recvmmsg(udp->fd, r->msgs, want, MSG_DONTWAIT, NULL);
    if (got < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        *drained = true;
        break;
      }
      if (fatal_receive_error(err)) {
        *error = err;
        break;
      }
      udp->stats[MGUDP_RECEIVE_ERRORS]++;
      if (++transient >= MAX_TRANSIENT_ERRORS) break;
      continue;
    }
    for (int j = 0; j < got; j++) {
      const struct mmsghdr *msg = &r->msgs[j];
      if (msg->msg_hdr.msg_flags & MSG_TRUNC) {
        /* Cut short to fit the slot: delivering it would hand on a different datagram than was sent. */
        udp->stats[MGUDP_RECEIVE_TRUNCATED]++;
        continue;
      }
      /* A dropped datagram leaves a hole; later ones move down so slots [0, n) stay dense. */
      if (n != first + (uint32_t)j) {
        memmove(m.base + (size_t)n * r->slot_size + r->headroom, r->iovs[j].iov_base, msg->msg_len);
      }
      mgudp_from_sockaddr(&r->names[j], m.addresses + (size_t)n * 16, &m.ports[n], &m.families[n]);
      m.lengths[n] = msg->msg_len;
      udp->stats[MGUDP_DATAGRAMS_RECEIVED]++;
      udp->stats[MGUDP_BYTES_RECEIVED] += msg->msg_len;
      n++;
    }
    /* recvmmsg on a nonblocking socket stops early only when the queue ran dry: skip the EAGAIN call. */
    if ((uint32_t)got < want) {
      *drained = true;
      break;
    }
  }
  return n;
}

/* One JS call: callback(count, error | undefined). */
static void deliver(mgudp_reader *r, uint32_t count, int error) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, resource, argv[2];
  bool ready = napi_get_reference_value(env, r->callback, &callback) == napi_ok &&
               napi_get_reference_value(env, r->resource, &resource) == napi_ok &&
               napi_create_uint32(env, count, &argv[0]) == napi_ok;
  if (ready && error != 0) {
    ready = mgudp_errno_error(env, error, "recvmmsg", "UDP receive failed, reading stopped", NULL, &argv[1]);
  } else if (ready) {
    ready = napi_get_undefined(env, &argv[1]) == napi_ok;
  }
  if (ready) {
    if (r->udp != NULL) r->udp->stats[MGUDP_RECEIVE_CALLS]++;
    napi_status s = napi_make_callback(env, r->async_context, resource, callback, 2, argv, NULL);
    if (s == napi_pending_exception) {
      /* Same outcome as a throwing EventEmitter listener: an uncaught exception, not a silent drop. */
      napi_value exception;
      if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
    }
  }
  napi_close_handle_scope(env, scope);
}

/*
 * libuv reports POLLERR as UV_EBADF and stops the watcher. On an unconnected UDP socket without
 * IP_RECVERR the kernel sets no socket error, so this should not happen; if it does, clear the
 * pending error and re-arm rather than stop receiving for good over one ICMP message.
 */
static int recover_from_poll_error(mgudp_reader *r, uv_poll_cb cb) {
  int fd = r->udp->fd;
  int pending = 0;
  socklen_t len = sizeof pending;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len) != 0) return errno;
  /* The error queue also raises POLLERR, and SO_ERROR does not empty it; bounded, in case it refills. */
  for (int i = 0; i < 64; i++) {
    char discard[256];
    struct iovec iov = {discard, sizeof discard};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
  r->udp->stats[MGUDP_RECEIVE_ERRORS]++;
  int rc = uv_poll_start(&r->poll, UV_READABLE, cb);
  return rc < 0 ? -rc : 0;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  mgudp_reader *r = handle->data;
  if (r->udp == NULL) return;
  /* Reading the caller's arrays makes handles too; deliver() has its own scope per JS call. */
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;

  /* From here until the last JS call returns, a stop must leave the references in place. */
  r->in_callback = true;
  int error = 0;
  if (status < 0) error = recover_from_poll_error(r, on_readable);
  for (uint32_t round = 0; error == 0 && round < r->max_batches && r->udp != NULL; round++) {
    bool drained = false;
    uint32_t count = receive_batch(r, &error, &drained);
    if (count > 0) deliver(r, count, 0);
    if (drained) break;
  }
  if (error != 0 && r->udp != NULL) {
    /* A failing socket stays readable: stop, or the loop spins. */
    mgudp_reader_stop(r->udp);
    deliver(r, 0, error);
  }
  r->in_callback = false;
  if (r->release_after_callback) release_refs(r);
  napi_close_handle_scope(r->env, scope);
}

static bool arg_u16_array(napi_env env, napi_value v, size_t *len, const char *what) {
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, v, &type, len, &raw, NULL, NULL) != napi_ok || type != napi_uint16_array) {
    mgtun_throw_type(env, what);
    return false;
  }
  return true;
}

/*
 * udpStartReading(handle, buffer: Uint8Array, slotSize, headroom, lengths: Uint32Array,
 *                 addresses: Uint8Array, ports: Uint16Array, families: Uint8Array, batch,
 *                 maxBatches, callback(count, error)).
 * Datagram i lands at buffer[i*slotSize + headroom], its length in lengths[i], its source in
 * addresses[16i, +16) (IPv4 as ::ffff:a.b.c.d), ports[i] and families[i] (4 or 6). An Error
 * (with code/errno) as second argument means reading failed and has stopped.
 */
napi_value mgudp_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 11) {
    mgtun_throw_type(env, "udpStartReading(handle, buffer, slotSize, headroom, lengths, addresses, ports, families, "
                          "batch, maxBatches, callback)");
    return NULL;
  }
  mgudp *udp = mgudp_unwrap(env, argv[0], true);
  if (udp == NULL) return NULL;
  uint8_t *base, *addresses, *families;
  size_t base_len, lengths_len, addresses_len, ports_len, families_len;
  uint32_t *lengths;
  uint32_t slot_size, headroom, batch, max_batches;
  napi_valuetype callback_type;
  if (!mgtun_arg_bytes(env, argv[1], &base, &base_len, "buffer must be a Uint8Array") ||
      !mgudp_arg_uint(env, argv[2], UINT32_MAX, &slot_size, "slotSize must be a uint32") ||
      !mgudp_arg_uint(env, argv[3], UINT32_MAX, &headroom, "headroom must be a uint32") ||
      !mgtun_arg_u32_array(env, argv[4], &lengths, &lengths_len, "lengths must be a Uint32Array") ||
      !mgtun_arg_bytes(env, argv[5], &addresses, &addresses_len, "addresses must be a Uint8Array") ||
      !arg_u16_array(env, argv[6], &ports_len, "ports must be a Uint16Array") ||
      !mgtun_arg_bytes(env, argv[7], &families, &families_len, "families must be a Uint8Array") ||
      !mgudp_arg_uint(env, argv[8], UINT32_MAX, &batch, "batch must be a uint32") ||
      !mgudp_arg_uint(env, argv[9], UINT32_MAX, &max_batches, "maxBatches must be a uint32")) {
    return NULL;
  }
  MGTUN_CHECK(env, napi_typeof(env, argv[10], &callback_type));
  if (callback_type != napi_function) {
    mgtun_throw_type(env, "callback must be a function");
    return NULL;
  }
  /* recvmmsg takes at most UIO_MAXIOV (1024) messages per call. */
  if (slot_size <= headroom || batch == 0 || batch > 1024 || max_batches == 0 || lengths_len < batch ||
      base_len / slot_size < batch || addresses_len / 16 < batch || ports_len < batch || families_len < batch) {
    mgudp_throw_range(env, "buffer and arrays do not fit: need 1-1024 slots of slotSize > headroom, "
                           "batch lengths/ports/families and 16 address bytes per slot, maxBatches >= 1");
    return NULL;
  }
  if (udp->reader != NULL) mgudp_reader_stop(udp);

  size_t scratch = (size_t)batch * (sizeof(struct mmsghdr) + sizeof(struct iovec) + sizeof(struct sockaddr_in6));
  mgudp_reader *r = calloc(1, sizeof *r + scratch);
  if (r == NULL) {
    mgudp_throw_errno(env, ENOMEM, "calloc", "cannot allocate UDP reader", NULL);
    return NULL;
  }
  /* One allocation, in decreasing alignment order (mmsghdr and iovec hold pointers, sockaddr_in6 ints). */
  r->msgs = (struct mmsghdr *)(r + 1);
  r->iovs = (struct iovec *)(r->msgs + batch);
  r->names = (struct sockaddr_in6 *)(r->iovs + batch);
  r->udp = udp;
  r->env = env;
  r->slot_size = slot_size;
  r->headroom = headroom;
  r->batch = batch;
  r->max_batches = max_batches;
  r->poll.data = r;

  napi_value resource, resource_name;
  uv_loop_t *loop = NULL;
  int rc;
  if (napi_create_reference(env, argv[10], 1, &r->callback) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &r->buffer) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &r->lengths) != napi_ok ||
      napi_create_reference(env, argv[5], 1, &r->addresses) != napi_ok ||
      napi_create_reference(env, argv[6], 1, &r->ports) != napi_ok ||
      napi_create_reference(env, argv[7], 1, &r->families) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &r->self) != napi_ok || napi_create_object(env, &resource) != napi_ok ||
      napi_create_reference(env, resource, 1, &r->resource) != napi_ok ||
      napi_create_string_utf8(env, "MeshguardUdpRead", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, resource, resource_name, &r->async_context) != napi_ok ||
      napi_get_uv_event_loop(env, &loop) != napi_ok) {
    release_refs(r);
    free(r);
    mgtun_throw_pending_or(env, "cannot set up UDP reader");
    return NULL;
  }
  rc = uv_poll_init_socket(loop, &r->poll, udp->fd);
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
    mgudp_throw_errno(env, -rc, "uv_poll_start", "cannot poll the UDP socket", NULL);
    return NULL;
  }
  udp->reader = r;
  return NULL;
}

/* udpStopReading(handle): idempotent; safe from inside the read callback. */
napi_value mgudp_stop_reading(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    mgtun_throw_type(env, "expected a UDP handle from udpOpen()");
    return NULL;
  }
  mgudp *udp = mgudp_unwrap(env, argv[0], false);
  if (udp == NULL) return NULL;
  mgudp_reader_stop(udp);
  return NULL;
}
