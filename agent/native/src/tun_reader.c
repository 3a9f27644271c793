/*
 * Reading (see poll_reader.c): each readiness event drains up to one batch of packets into the
 * caller's buffer (fixed slots) with one read(2) per packet, a TUN read being always exactly one
 * packet, and makes a single JS call with the count.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mgtun.h"

/* mg_reader arrays. */
enum { BUFFER, LENGTHS, ARRAY_COUNT };

typedef struct {
  mg_reader base;
  uint32_t slot_size;
  uint32_t headroom;
  uint32_t batch;
} tun_reader;

static uint32_t read_batch(tun_reader *r, int *error) {
  void *base, *lengths;
  size_t base_len, lengths_len;
  if (!mg_reader_array(&r->base, BUFFER, napi_uint8_array, &base, &base_len) ||
      !mg_reader_array(&r->base, LENGTHS, napi_uint32_array, &lengths, &lengths_len)) {
    *error = EFAULT;
    return 0;
  }
  uint32_t limit = r->batch;
  if (lengths_len < limit) limit = (uint32_t)lengths_len;
  if (base_len / r->slot_size < limit) limit = (uint32_t)(base_len / r->slot_size);
  mg_handle *tun = r->base.handle;
  uint32_t n = 0;
  while (n < limit) {
    uint8_t *slot = (uint8_t *)base + (size_t)n * r->slot_size + r->headroom;
    ssize_t got = read(tun->fd, slot, r->slot_size - r->headroom);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) *error = errno;
      break;
    }
    ((uint32_t *)lengths)[n++] = (uint32_t)got;
    tun->stats[MGTUN_PACKETS_READ]++;
    tun->stats[MGTUN_BYTES_READ] += (uint64_t)got;
  }
  return n;
}

static void ready(mg_reader *base, int status) {
  tun_reader *r = (tun_reader *)base;
  int error = 0;
  uint32_t count = read_batch(r, &error);
  /* libuv turns POLLERR into UV_EBADF and stops the watcher; the read has the kernel's own reason, if any. */
  if (status < 0 && error == 0) error = -status;
  /* A failing fd (e.g. EBADFD once the link is deleted) stays readable: stop, or the loop spins. */
  if (error != 0) mg_reader_stop(base->handle);
  if (count > 0 || error != 0) mg_reader_deliver(base, count, error, error == EBADFD ? "the interface was deleted" : NULL);
}

static const mg_reader_kind READER_KIND = {
    .resource = "MeshguardTunRead",
    .socket = false,
    .setup_failed = "cannot set up TUN reader",
    .poll_failed = "cannot poll the TUN fd",
    .syscall = "read",
    .failed = "TUN read failed, reading stopped",
    .calls_stat = -1,
    .ready = ready,
};

/*
 * startReading(handle, buffer: Uint8Array, slotSize, headroom, lengths: Uint32Array, batch,
 *              callback(count, error)).
 * Packet i lands at buffer[i*slotSize + headroom], its length in lengths[i]; an Error (with
 * code/errno) as second argument means reading failed and has stopped.
 */
napi_value mgtun_start_reading(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  mg_handle *tun = mg_handle_args(env, info, &mgtun_kind, 7, argv,
                                  "startReading(handle, buffer, slotSize, headroom, lengths, batch, callback)", true);
  if (tun == NULL) return NULL;
  uint8_t *base;
  size_t base_len, lengths_len;
  uint32_t *lengths;
  uint32_t slot_size, headroom, batch;
  if (!mgtun_arg_bytes(env, argv[1], &base, &base_len, "buffer must be a Uint8Array") ||
      !mgtun_arg_u32(env, argv[2], &slot_size, "slotSize must be a uint32") ||
      !mgtun_arg_u32(env, argv[3], &headroom, "headroom must be a uint32") ||
      !mgtun_arg_u32_array(env, argv[4], &lengths, &lengths_len, "lengths must be a Uint32Array") ||
      !mgtun_arg_u32(env, argv[5], &batch, "batch must be a uint32") ||
      !mgtun_arg_function(env, argv[6], "callback must be a function")) {
    return NULL;
  }
  /* 68 bytes is the smallest MTU IPv4 allows; anything less cannot hold a packet. */
  if (slot_size < headroom + 68 || batch == 0 || lengths_len < batch || base_len / slot_size < batch) {
    mgtun_throw_type(env, "buffer, lengths and batch do not fit: need batch slots of slotSize > headroom + 68");
    return NULL;
  }
  if (tun->reader != NULL) mg_reader_stop(tun);

  tun_reader *r = calloc(1, sizeof *r);
  if (r == NULL) {
    mgtun_throw_errno(env, ENOMEM, "calloc", "cannot allocate reader", NULL);
    return NULL;
  }
  r->slot_size = slot_size;
  r->headroom = headroom;
  r->batch = batch;
  const napi_value arrays[ARRAY_COUNT] = {[BUFFER] = argv[1], [LENGTHS] = argv[4]};
  mg_reader_start(env, tun, &r->base, &READER_KIND, argv[0], argv[6], arrays, ARRAY_COUNT);
  return NULL;
}

/* stopReading(handle): idempotent; safe from inside the read callback. */
napi_value mgtun_stop_reading(napi_env env, napi_callback_info info) {
  return mg_reader_stop_js(env, info, &mgtun_kind);
}
