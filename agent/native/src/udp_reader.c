/*
 * Receiving (see poll_reader.c): each readiness event drains the socket with recvmmsg(2) into
 * fixed slots of the caller's buffer, with lengths and source addresses in the caller's typed
 * arrays, and makes one JS call per batch: the JS<->native crossing and the syscall are per
 * batch, and nothing is allocated per datagram.
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

/* mg_reader arrays. */
enum { BUFFER, LENGTHS, ADDRESSES, PORTS, FAMILIES, ARRAY_COUNT };

typedef struct {
  mg_reader base;
  uint32_t slot_size;
  uint32_t headroom;
  uint32_t batch;
  uint32_t max_batches;
  /* recvmmsg's scratch, `batch` entries each, allocated with the reader (no per-read allocation). */
  struct mmsghdr *msgs;
  struct iovec *iovs;
  struct sockaddr_in6 *names;
} udp_reader;

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

static bool fetch_memory(udp_reader *r, batch_memory *m) {
  size_t lengths_len, addresses_len, ports_len, families_len;
  void *base, *lengths, *addresses, *ports, *families;
  if (!mg_reader_array(&r->base, BUFFER, napi_uint8_array, &base, &m->base_len) ||
      !mg_reader_array(&r->base, LENGTHS, napi_uint32_array, &lengths, &lengths_len) ||
      !mg_reader_array(&r->base, ADDRESSES, napi_uint8_array, &addresses, &addresses_len) ||
      !mg_reader_array(&r->base, PORTS, napi_uint16_array, &ports, &ports_len) ||
      !mg_reader_array(&r->base, FAMILIES, napi_uint8_array, &families, &families_len)) {
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
static uint32_t receive_batch(udp_reader *r, int *error, bool *drained) {
  batch_memory m;
  if (!fetch_memory(r, &m)) {
    *error = EFAULT;
    return 0;
  }
  mg_handle *udp = r->base.handle;
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

/*
 * libuv reports POLLERR as UV_EBADF and stops the watcher. On an unconnected UDP socket without
 * IP_RECVERR the kernel sets no socket error, so this should not happen; if it does, clear the
 * pending error and re-arm rather than stop receiving for good over one ICMP message.
 */
static int recover_from_poll_error(udp_reader *r) {
  int fd = r->base.handle->fd;
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
  r->base.handle->stats[MGUDP_RECEIVE_ERRORS]++;
  return mg_reader_restart(&r->base);
}

static void ready(mg_reader *base, int status) {
  udp_reader *r = (udp_reader *)base;
  int error = 0;
  if (status < 0) error = recover_from_poll_error(r);
  for (uint32_t round = 0; error == 0 && round < r->max_batches && base->handle != NULL; round++) {
    bool drained = false;
    uint32_t count = receive_batch(r, &error, &drained);
    if (count > 0) mg_reader_deliver(base, count, 0, NULL);
    if (drained) break;
  }
  if (error != 0 && base->handle != NULL) {
    /* A failing socket stays readable: stop, or the loop spins. */
    mg_reader_stop(base->handle);
    mg_reader_deliver(base, 0, error, NULL);
  }
}

static const mg_reader_kind READER_KIND = {
    .resource = "MeshguardUdpRead",
    .socket = true,
    .setup_failed = "cannot set up UDP reader",
    .poll_failed = "cannot poll the UDP socket",
    .syscall = "recvmmsg",
    .failed = "UDP receive failed, reading stopped",
    .calls_stat = MGUDP_RECEIVE_CALLS,
    .ready = ready,
};

/*
 * udpStartReading(handle, buffer: Uint8Array, slotSize, headroom, lengths: Uint32Array,
 *                 addresses: Uint8Array, ports: Uint16Array, families: Uint8Array, batch,
 *                 maxBatches, callback(count, error)).
 * Datagram i lands at buffer[i*slotSize + headroom], its length in lengths[i], its source in
 * addresses[16i, +16) (IPv4 as ::ffff:a.b.c.d), ports[i] and families[i] (4 or 6). An Error
 * (with code/errno) as second argument means reading failed and has stopped.
 */
napi_value mgudp_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  mg_handle *udp = mg_handle_args(env, info, &mgudp_kind, 11, argv,
                                  "udpStartReading(handle, buffer, slotSize, headroom, lengths, addresses, ports, "
                                  "families, batch, maxBatches, callback)",
                                  true);
  if (udp == NULL) return NULL;
  uint8_t *base, *addresses, *families;
  size_t base_len, lengths_len, addresses_len, ports_len, families_len;
  uint32_t *lengths;
  uint16_t *ports;
  uint32_t slot_size, headroom, batch, max_batches;
  if (!mgtun_arg_bytes(env, argv[1], &base, &base_len, "buffer must be a Uint8Array") ||
      !mgtun_arg_uint(env, argv[2], UINT32_MAX, &slot_size, "slotSize must be a uint32") ||
      !mgtun_arg_uint(env, argv[3], UINT32_MAX, &headroom, "headroom must be a uint32") ||
      !mgtun_arg_u32_array(env, argv[4], &lengths, &lengths_len, "lengths must be a Uint32Array") ||
      !mgtun_arg_bytes(env, argv[5], &addresses, &addresses_len, "addresses must be a Uint8Array") ||
      !mgtun_arg_u16_array(env, argv[6], &ports, &ports_len, "ports must be a Uint16Array") ||
      !mgtun_arg_bytes(env, argv[7], &families, &families_len, "families must be a Uint8Array") ||
      !mgtun_arg_uint(env, argv[8], UINT32_MAX, &batch, "batch must be a uint32") ||
      !mgtun_arg_uint(env, argv[9], UINT32_MAX, &max_batches, "maxBatches must be a uint32") ||
      !mgtun_arg_function(env, argv[10], "callback must be a function")) {
    return NULL;
  }
  /* recvmmsg takes at most UIO_MAXIOV (1024) messages per call. */
  if (slot_size <= headroom || batch == 0 || batch > 1024 || max_batches == 0 || lengths_len < batch ||
      base_len / slot_size < batch || addresses_len / 16 < batch || ports_len < batch || families_len < batch) {
    mgtun_throw_range(env, "buffer and arrays do not fit: need 1-1024 slots of slotSize > headroom, "
                           "batch lengths/ports/families and 16 address bytes per slot, maxBatches >= 1");
    return NULL;
  }
  if (udp->reader != NULL) mg_reader_stop(udp);

  size_t scratch = (size_t)batch * (sizeof(struct mmsghdr) + sizeof(struct iovec) + sizeof(struct sockaddr_in6));
  udp_reader *r = calloc(1, sizeof *r + scratch);
  if (r == NULL) {
    mgudp_throw_errno(env, ENOMEM, "calloc", "cannot allocate UDP reader", NULL);
    return NULL;
  }
  /* One allocation, in decreasing alignment order (mmsghdr and iovec hold pointers, sockaddr_in6 ints). */
  r->msgs = (struct mmsghdr *)(r + 1);
  r->iovs = (struct iovec *)(r->msgs + batch);
  r->names = (struct sockaddr_in6 *)(r->iovs + batch);
  r->slot_size = slot_size;
  r->headroom = headroom;
  r->batch = batch;
  r->max_batches = max_batches;
  const napi_value arrays[ARRAY_COUNT] = {
      [BUFFER] = argv[1], [LENGTHS] = argv[4], [ADDRESSES] = argv[5], [PORTS] = argv[6], [FAMILIES] = argv[7],
  };
  mg_reader_start(env, udp, &r->base, &READER_KIND, argv[0], argv[10], arrays, ARRAY_COUNT);
  return NULL;
}

/* udpStopReading(handle): idempotent; safe from inside the read callback. */
napi_value mgudp_stop_reading(napi_env env, napi_callback_info info) {
  return mg_reader_stop_js(env, info, &mgudp_kind);
}
