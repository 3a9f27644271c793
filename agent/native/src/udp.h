/*
 * The UDP socket edge of the data plane (udp_socket.c, udp_reader.c, udp_sender.c): one
 * nonblocking dual-stack socket per handle, received with recvmmsg(2) into fixed slots of a
 * caller-owned buffer (one JS call per batch) and sent with sendmmsg(2) straight from caller
 * memory (one JS call per batch, nothing kept after it returns).
 *
 * Addresses cross the JS boundary as 16 bytes (IPv6, IPv4 as ::ffff:a.b.c.d) plus a host-order
 * port, so a received batch's addresses and ports can be handed to sendBatch unchanged.
 */
#ifndef MGUDP_H
#define MGUDP_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "mgtun.h"

/* Counters live natively so the hot path never crosses into JS to count. Order = udpStats() output. */
enum mgudp_stat {
  MGUDP_DATAGRAMS_RECEIVED,
  MGUDP_BYTES_RECEIVED,
  MGUDP_DATAGRAMS_SENT,
  MGUDP_BYTES_SENT,
  MGUDP_SEND_DROPS,        /* the kernel had no room (EAGAIN, ENOBUFS): dropped, never queued */
  MGUDP_SEND_ERRORS,       /* refused for its destination (no route, bad address, EMSGSIZE, ...) */
  MGUDP_RECEIVE_TRUNCATED, /* larger than a slot: dropped rather than delivered cut short */
  MGUDP_RECEIVE_ERRORS,    /* transient socket errors skipped while reading */
  MGUDP_RECEIVE_CALLS,     /* JS callbacks made, so callers and tests can see the batching */
  MGUDP_LAST_SEND_ERRNO,   /* errno of the last drop or refusal, 0 if none */
  MGUDP_STAT_COUNT
};

_Static_assert(MGUDP_STAT_COUNT <= MG_STAT_MAX, "MG_STAT_MAX must hold the UDP counters");

typedef struct mgudp {
  mg_handle base; /* first: an mg_handle of mgudp_kind is an mgudp */
  int family;     /* AF_INET6 (IPv4 peers as mapped addresses) or AF_INET where IPv6 is unavailable */
} mgudp;

/* The largest UDP payload over IPv4 (65535 - 20 - 8); anything longer can never be sent. */
#define MGUDP_MAX_DATAGRAM 65507u

/* udp_socket.c */
extern const mg_handle_kind mgudp_kind;
const char *mgudp_errno_name(int err);
void mgudp_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint);
/* 16-byte address + port -> sockaddr for this socket's family; false (EAFNOSUPPORT) if not representable. */
bool mgudp_sockaddr(const mgudp *udp, const uint8_t address[16], uint16_t port, struct sockaddr_in6 *out,
                    socklen_t *len);
/* sockaddr from the kernel -> 16-byte address (IPv4 mapped), port and family (4 or 6). */
void mgudp_from_sockaddr(const struct sockaddr_in6 *in, uint8_t address[16], uint16_t *port, uint8_t *family);

/* udp_reader.c */
napi_value mgudp_start_reading(napi_env env, napi_callback_info info);
napi_value mgudp_stop_reading(napi_env env, napi_callback_info info);

/* udp_sender.c */
napi_value mgudp_send(napi_env env, napi_callback_info info);
napi_value mgudp_send_batch(napi_env env, napi_callback_info info);

#endif
