/*
 * Sending: sendmmsg(2) straight from the caller's buffer, many datagrams per syscall and per JS
 * call. The kernel copies each datagram before the call returns, so nothing here refers to JS
 * memory afterwards and the caller may reuse its buffer at once.
 *
 * A datagram the kernel has no room for is dropped and counted, never queued (UDP is lossy
 * anyway, and a queue here would only add latency and pin JS memory). A datagram refused for
 * its destination (no route, port 0, too large) is counted and skipped; the rest of the batch
 * still goes out. Only a failure of the socket itself (EBADF, ...) throws.
 */
#include <errno.h>
#include <string.h>

#include "udp.h"

/* sendmmsg chunk: the scratch lives on the stack (~7 KiB), and 64 is what one read batch holds. */
#define SEND_CHUNK 64

static bool queue_full(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM; }

static bool refused_for_destination(int err) {
  switch (err) {
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EMSGSIZE:
    case EINVAL: /* port 0, or an address the kernel will not send to */
    case EPERM:  /* a firewall rule */
    case EACCES: /* broadcast without SO_BROADCAST */
    case EAFNOSUPPORT:
    case EADDRNOTAVAIL:
    case ECONNREFUSED: /* an ICMP error reported on the socket; it is about an earlier datagram */
    case EDESTADDRREQ:
      return true;
    default:
      return false;
  }
}

static void count_failure(mgudp *udp, enum mgudp_stat stat, uint64_t n, int err) {
  udp->base.stats[stat] += n;
  udp->base.stats[MGUDP_LAST_SEND_ERRNO] = (uint64_t)err;
}

/* Sends datagrams [0, count); returns how many the kernel took. *fatal is set if the socket failed. */
static uint32_t send_all(mgudp *udp, const uint8_t *buffer, const uint32_t *offsets, const uint32_t *lengths,
                         const uint8_t *addresses, const uint16_t *ports, uint32_t count, int *fatal) {
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iovs[SEND_CHUNK];
  struct sockaddr_in6 names[SEND_CHUNK];
  uint32_t sent = 0;
  for (uint32_t start = 0; start < count; start += SEND_CHUNK) {
    uint32_t end = count - start < SEND_CHUNK ? count : start + SEND_CHUNK;
    uint32_t built = 0;
    for (uint32_t i = start; i < end; i++) {
      socklen_t name_len;
      if (!mgudp_sockaddr(udp, addresses + (size_t)i * 16, ports[i], &names[built], &name_len)) {
        count_failure(udp, MGUDP_SEND_ERRORS, 1, EAFNOSUPPORT);
        continue;
      }
      iovs[built].iov_base = (void *)(buffer + offsets[i]);
      iovs[built].iov_len = lengths[i];
      memset(&msgs[built], 0, sizeof msgs[built]);
      msgs[built].msg_hdr.msg_name = &names[built];
      msgs[built].msg_hdr.msg_namelen = name_len;
      msgs[built].msg_hdr.msg_iov = &iovs[built];
      msgs[built].msg_hdr.msg_iovlen = 1;
      built++;
    }
    uint32_t k = 0;
    while (k < built) {
      int n = sendmmsg(udp->base.fd, msgs + k, built - k, MSG_DONTWAIT);
      if (n > 0) {
        for (uint32_t j = k; j < k + (uint32_t)n; j++) udp->base.stats[MGUDP_BYTES_SENT] += msgs[j].msg_len;
        udp->base.stats[MGUDP_DATAGRAMS_SENT] += (uint32_t)n;
        sent += (uint32_t)n;
        k += (uint32_t)n;
        /* A short count means msgs[k] failed; the kernel drops that error, so the next call hits it again. */
        continue;
      }
      int err = n == 0 ? EAGAIN : errno;
      if (err == EINTR) continue;
      if (queue_full(err)) {
        /* The queue will not drain within this call: everything not yet sent is dropped. */
        count_failure(udp, MGUDP_SEND_DROPS, (uint64_t)(built - k) + (count - end), err);
        return sent;
      }
      if (!refused_for_destination(err)) {
        *fatal = err;
        return sent;
      }
      count_failure(udp, MGUDP_SEND_ERRORS, 1, err);
      k++;
    }
  }
  return sent;
}

/* udpSend(handle, data: Uint8Array, address: Uint8Array(16), port) -> true if sent, false if dropped or refused. */
napi_value mgudp_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  mgudp *udp = (mgudp *)mg_handle_args(env, info, &mgudp_kind, 4, argv, "udpSend(handle, data, address, port)", true);
  if (udp == NULL) return NULL;
  uint8_t *data, *address;
  size_t len, address_len;
  uint32_t port;
  if (!mgtun_arg_bytes(env, argv[1], &data, &len, "data must be a Uint8Array") ||
      !mgtun_arg_bytes(env, argv[2], &address, &address_len, "address must be a Uint8Array") ||
      !mgtun_arg_uint(env, argv[3], 0xffff, &port, "port must be an integer in 0-65535")) {
    return NULL;
  }
  if (address_len != 16 || len > MGUDP_MAX_DATAGRAM) {
    mgtun_throw_range(env, "need a 16-byte address and at most 65507 bytes of data");
    return NULL;
  }
  uint32_t offset = 0, length = (uint32_t)len;
  uint16_t port16 = (uint16_t)port;
  int fatal = 0;
  uint32_t sent = send_all(udp, data, &offset, &length, address, &port16, 1, &fatal);
  if (fatal != 0) {
    mgudp_throw_errno(env, fatal, "sendmmsg", "UDP send failed", NULL);
    return NULL;
  }
  napi_value result;
  MGTUN_CHECK(env, napi_get_boolean(env, sent == 1, &result));
  return result;
}

/*
 * udpSendBatch(handle, buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array,
 *              addresses: Uint8Array, ports: Uint16Array, count) -> datagrams sent.
 * Datagram i is buffer[offsets[i], +lengths[i]) to addresses[16i, +16) (IPv4 as ::ffff:a.b.c.d)
 * port ports[i]. Every index and range is checked before anything is sent, so a bad batch is
 * refused whole (RangeError) rather than half sent.
 */
napi_value mgudp_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  mgudp *udp = (mgudp *)mg_handle_args(env, info, &mgudp_kind, 7, argv,
                                       "udpSendBatch(handle, buffer, offsets, lengths, addresses, ports, count)", true);
  if (udp == NULL) return NULL;
  uint8_t *buffer, *addresses;
  uint32_t *offsets, *lengths;
  uint16_t *ports;
  size_t buffer_len, offsets_len, lengths_len, addresses_len, ports_len;
  uint32_t count;
  if (!mgtun_arg_bytes(env, argv[1], &buffer, &buffer_len, "buffer must be a Uint8Array") ||
      !mgtun_arg_u32_array(env, argv[2], &offsets, &offsets_len, "offsets must be a Uint32Array") ||
      !mgtun_arg_u32_array(env, argv[3], &lengths, &lengths_len, "lengths must be a Uint32Array") ||
      !mgtun_arg_bytes(env, argv[4], &addresses, &addresses_len, "addresses must be a Uint8Array") ||
      !mgtun_arg_u16_array(env, argv[5], &ports, &ports_len, "ports must be a Uint16Array") ||
      !mgtun_arg_uint(env, argv[6], UINT32_MAX, &count, "count must be a uint32")) {
    return NULL;
  }
  if (count > offsets_len || count > lengths_len || count > ports_len || count > addresses_len / 16) {
    mgtun_throw_range(env, "count exceeds the offsets, lengths, ports or addresses (16 bytes each) array");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if ((uint64_t)offsets[i] + lengths[i] > buffer_len) {
      mgtun_throw_range(env, "a datagram range lies outside the buffer");
      return NULL;
    }
    if (lengths[i] > MGUDP_MAX_DATAGRAM) {
      mgtun_throw_range(env, "a datagram is longer than 65507 bytes");
      return NULL;
    }
  }
  int fatal = 0;
  uint32_t sent = send_all(udp, buffer, offsets, lengths, addresses, ports, count, &fatal);
  if (fatal != 0) {
    mgudp_throw_errno(env, fatal, "sendmmsg", "UDP send failed", NULL);
    return NULL;
  }
  napi_value result;
  MGTUN_CHECK(env, napi_create_uint32(env, sent, &result));
  return result;
}
