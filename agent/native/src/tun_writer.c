/*
 * Writing: one write(2) per packet (a TUN write is always exactly one packet), many packets per
 * JS call. A packet the kernel will not take right now is dropped and counted, never queued:
 * the data plane above is lossy like any link, and queueing here would only add latency.
 */
#include <errno.h>
#include <unistd.h>

#include "mgtun.h"

typedef enum { WRITE_OK, WRITE_DROPPED, WRITE_FAILED } write_outcome;

static write_outcome write_packet(mg_handle *tun, const uint8_t *packet, size_t len, int *error) {
  for (;;) {
    ssize_t n = write(tun->fd, packet, len);
    if (n >= 0) {
      tun->stats[MGTUN_PACKETS_WRITTEN]++;
      tun->stats[MGTUN_BYTES_WRITTEN] += (uint64_t)n;
      return WRITE_OK;
    }
    switch (errno) {
      case EINTR:
        continue;
      /* Full queue, link down (EIO), or a packet the kernel refuses (not IPv4/IPv6, bad size): drop it. */
      case EAGAIN:
      case ENOBUFS:
      case ENOMEM:
      case EIO:
      case EINVAL:
      case EMSGSIZE:
        tun->stats[MGTUN_WRITE_DROPS]++;
        return WRITE_DROPPED;
      default:
        *error = errno;
        return WRITE_FAILED;
    }
  }
}

/* write(handle, packet: Uint8Array) -> true if written, false if dropped. */
napi_value mgtun_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  mg_handle *tun = mg_handle_args(env, info, &mgtun_kind, 2, argv, "write(handle, packet)", true);
  if (tun == NULL) return NULL;
  uint8_t *packet;
  size_t len;
  if (!mgtun_arg_bytes(env, argv[1], &packet, &len, "packet must be a Uint8Array")) return NULL;
  int error = 0;
  write_outcome outcome = write_packet(tun, packet, len, &error);
  if (outcome == WRITE_FAILED) {
    mgtun_throw_errno(env, error, "write", "TUN write failed", NULL);
    return NULL;
  }
  napi_value result;
  MGTUN_CHECK(env, napi_get_boolean(env, outcome == WRITE_OK, &result));
  return result;
}

/*
 * writeBatch(handle, buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count)
 * -> packets written; count - written were dropped. Packet i is buffer[offsets[i], +lengths[i]).
 */
napi_value mgtun_write_batch(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  mg_handle *tun =
      mg_handle_args(env, info, &mgtun_kind, 5, argv, "writeBatch(handle, buffer, offsets, lengths, count)", true);
  if (tun == NULL) return NULL;
  uint8_t *buffer;
  size_t buffer_len, offsets_len, lengths_len;
  uint32_t *offsets, *lengths, count;
  if (!mgtun_arg_bytes(env, argv[1], &buffer, &buffer_len, "buffer must be a Uint8Array") ||
      !mgtun_arg_u32_array(env, argv[2], &offsets, &offsets_len, "offsets must be a Uint32Array") ||
      !mgtun_arg_u32_array(env, argv[3], &lengths, &lengths_len, "lengths must be a Uint32Array") ||
      !mgtun_arg_u32(env, argv[4], &count, "count must be a uint32")) {
    return NULL;
  }
  if (count > offsets_len || count > lengths_len) {
    mgtun_throw_type(env, "count exceeds the offsets or lengths array");
    return NULL;
  }
  /* Check every range before writing anything, so a bad batch is refused whole, not half sent. */
  for (uint32_t i = 0; i < count; i++) {
    if ((uint64_t)offsets[i] + lengths[i] > buffer_len) {
      mgtun_throw_type(env, "a packet range lies outside the buffer");
      return NULL;
    }
  }
  uint32_t written = 0;
  for (uint32_t i = 0; i < count; i++) {
    int error = 0;
    write_outcome outcome = write_packet(tun, buffer + offsets[i], lengths[i], &error);
    if (outcome == WRITE_OK) written++;
    if (outcome == WRITE_FAILED) {
      mgtun_throw_errno(env, error, "write", "TUN write failed", NULL);
      return NULL;
    }
  }
  napi_value result;
  MGTUN_CHECK(env, napi_create_uint32(env, written, &result));
  return result;
}
