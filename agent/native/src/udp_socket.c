/*
 * Creating and binding the UDP socket, its errors and address conversion. The handle JS holds is
 * an External tagged as a UDP socket (distinct from a TUN handle); closing it and its counters
 * are handle.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "udp.h"

/* Random tag: a TUN handle or another addon's External must not be mistaken for a socket. */
static const napi_type_tag HANDLE_TAG = {0x6d67756470736f63ULL, 0x5c3e91d07a2b48f6ULL};

/* The socket errors errno_name.c (written for TUN) does not know; the rest defer to it. */
const char *mgudp_errno_name(int err) {
  switch (err) {
    case EADDRINUSE: return "EADDRINUSE";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EHOSTDOWN: return "EHOSTDOWN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOTSOCK: return "ENOTSOCK";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    default: return mgtun_errno_name(err);
  }
}

void mgudp_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint) {
  mgtun_throw_errno_as(env, mgudp_errno_name, err, syscall, what, hint);
}

const mg_handle_kind mgudp_kind = {
    .tag = &HANDLE_TAG,
    .errno_name = mgudp_errno_name,
    .expected = "expected a UDP handle from udpOpen()",
    .closed_syscall = "send",
    .closed = "UDP socket is closed",
    .alloc_failed = "cannot allocate UDP handle",
    .create_failed = "cannot create UDP handle",
    .stats_usage = "udpStats(handle, Float64Array)",
    .stats_output = "stats output must be a Float64Array of at least 10 elements",
    .stat_count = MGUDP_STAT_COUNT,
};

static bool is_v4_mapped(const uint8_t a[16]) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, prefix, sizeof prefix) == 0;
}

bool mgudp_sockaddr(const mgudp *udp, const uint8_t address[16], uint16_t port, struct sockaddr_in6 *out,
                    socklen_t *len) {
  if (udp->family == AF_INET6) {
    /* A dual-stack socket sends to ::ffff:a.b.c.d as plain IPv4, so no per-family branch is needed. */
    memset(out, 0, sizeof *out);
    out->sin6_family = AF_INET6;
    out->sin6_port = htons(port);
    memcpy(&out->sin6_addr, address, 16);
    *len = sizeof *out;
    return true;
  }
  if (!is_v4_mapped(address)) return false;
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  memset(v4, 0, sizeof *v4);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(port);
  memcpy(&v4->sin_addr, address + 12, 4);
  *len = sizeof *v4;
  return true;
}

void mgudp_from_sockaddr(const struct sockaddr_in6 *in, uint8_t address[16], uint16_t *port, uint8_t *family) {
  if (in->sin6_family == AF_INET6) {
    memcpy(address, &in->sin6_addr, 16);
    *port = ntohs(in->sin6_port);
    *family = is_v4_mapped(address) ? 4 : 6;
    return;
  }
  const struct sockaddr_in *v4 = (const struct sockaddr_in *)in;
  memset(address, 0, 10);
  address[10] = address[11] = 0xff;
  memcpy(address + 12, &v4->sin_addr, 4);
  *port = ntohs(v4->sin_port);
  *family = 4;
}

static const char *bind_hint(int err) {
  switch (err) {
    case EADDRINUSE:
      return "another socket is bound to this port";
    case EACCES:
      return "ports below 1024 need CAP_NET_BIND_SERVICE";
    case EADDRNOTAVAIL:
      return "the address is not assigned to an interface in this network namespace";
    default:
      return NULL;
  }
}

/*
 * Asks for `size` bytes of socket buffer. The *FORCE variants (CAP_NET_ADMIN) exceed
 * net.core.{r,w}mem_max, which is only 208 KiB by default and would drop bursts of a
 * gigabit stream; without the capability the plain option still gets up to that limit.
 */
static void set_buffer(int fd, int force_option, int option, uint32_t size) {
  if (size == 0) return;
  int value = size > INT32_MAX / 2 ? INT32_MAX / 2 : (int)size;
  if (setsockopt(fd, SOL_SOCKET, force_option, &value, sizeof value) == 0) return;
  /* Best effort: a smaller buffer only costs drops under load, never correctness. */
  (void)setsockopt(fd, SOL_SOCKET, option, &value, sizeof value);
}

static int get_buffer(int fd, int option) {
  int value = 0;
  socklen_t len = sizeof value;
  return getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0 ? value : 0;
}

/*
 * udpOpen(address: Uint8Array(4 | 16) | null, port, receiveBufferSize, sendBufferSize)
 *   -> { handle, port, family: 4 | 6, receiveBufferSize, sendBufferSize }
 * null binds the wildcard dual-stack (IPv6 with IPV6_V6ONLY=0; plain IPv4 if the kernel has no IPv6).
 * Buffer sizes of 0 keep the kernel's defaults; the result reports what the kernel granted.
 */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    mgtun_throw_type(env, "udpOpen(address, port, receiveBufferSize, sendBufferSize)");
    return NULL;
  }
  napi_valuetype address_type;
  uint8_t *address = NULL;
  size_t address_len = 0;
  uint32_t port, rcvbuf, sndbuf;
  MGTUN_CHECK(env, napi_typeof(env, argv[0], &address_type));
  if (address_type != napi_null &&
      !mgtun_arg_bytes(env, argv[0], &address, &address_len, "address must be a Uint8Array or null")) {
    return NULL;
  }
  if (!mgtun_arg_uint(env, argv[1], 0xffff, &port, "port must be an integer in 0-65535") ||
      !mgtun_arg_uint(env, argv[2], UINT32_MAX, &rcvbuf, "receiveBufferSize must be a uint32") ||
      !mgtun_arg_uint(env, argv[3], UINT32_MAX, &sndbuf, "sendBufferSize must be a uint32")) {
    return NULL;
  }
  if (address != NULL && address_len != 4 && address_len != 16) {
    mgtun_throw_range(env, "address must be 4 (IPv4) or 16 (IPv6) bytes");
    return NULL;
  }

  int family = address != NULL && address_len == 4 ? AF_INET : AF_INET6;
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0 && errno == EAFNOSUPPORT && address == NULL) {
    /* Booted with ipv6.disable=1: the wildcard can still serve IPv4 peers. */
    family = AF_INET;
    fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  }
  if (fd < 0) {
    mgudp_throw_errno(env, errno, "socket", "cannot create a UDP socket", NULL);
    return NULL;
  }

  struct sockaddr_in6 local;
  socklen_t local_len;
  memset(&local, 0, sizeof local);
  if (family == AF_INET6) {
    /* Explicitly off: the default comes from net.ipv6.bindv6only, which a host may have set. */
    int off = 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) {
      int err = errno;
      close(fd);
      mgudp_throw_errno(env, err, "setsockopt", "cannot make the UDP socket dual-stack", NULL);
      return NULL;
    }
    local.sin6_family = AF_INET6;
    local.sin6_port = htons((uint16_t)port);
    if (address != NULL) memcpy(&local.sin6_addr, address, 16);
    local_len = sizeof local;
  } else {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&local;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    if (address != NULL) memcpy(&v4->sin_addr, address, 4);
    local_len = sizeof *v4;
  }
  set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
  set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);

  if (bind(fd, (struct sockaddr *)&local, local_len) != 0) {
    int err = errno;
    close(fd);
    mgudp_throw_errno(env, err, "bind", "bind failed", bind_hint(err));
    return NULL;
  }
  struct sockaddr_in6 bound;
  socklen_t bound_len = sizeof bound;
  memset(&bound, 0, sizeof bound);
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) {
    int err = errno;
    close(fd);
    mgudp_throw_errno(env, err, "getsockname", "cannot read the bound UDP port", NULL);
    return NULL;
  }
  uint8_t bound_address[16];
  uint16_t bound_port;
  uint8_t bound_family;
  mgudp_from_sockaddr(&bound, bound_address, &bound_port, &bound_family);

  mgudp *udp = mg_handle_new(env, &mgudp_kind, sizeof *udp, fd);
  if (udp == NULL) return NULL;
  udp->family = family;

  napi_value handle, result, value;
  if (!mg_handle_external(env, &udp->base, &handle)) return NULL;
  MGTUN_CHECK(env, napi_create_object(env, &result));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "handle", handle));
  MGTUN_CHECK(env, napi_create_uint32(env, bound_port, &value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "port", value));
  MGTUN_CHECK(env, napi_create_uint32(env, family == AF_INET6 ? 6 : 4, &value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "family", value));
  MGTUN_CHECK(env, napi_create_int32(env, get_buffer(fd, SO_RCVBUF), &value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "receiveBufferSize", value));
  MGTUN_CHECK(env, napi_create_int32(env, get_buffer(fd, SO_SNDBUF), &value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "sendBufferSize", value));
  return result;
}

/* udpClose(handle): see mg_handle_close. */
static napi_value udp_close(napi_env env, napi_callback_info info) { return mg_handle_close(env, info, &mgudp_kind); }

/* udpStats(handle, out: Float64Array) writes the counters in mgudp_stat order. */
static napi_value udp_stats(napi_env env, napi_callback_info info) { return mg_handle_stats(env, info, &mgudp_kind); }

bool mgudp_register(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpClose", NULL, udp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpStats", NULL, udp_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpStartReading", NULL, mgudp_start_reading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpStopReading", NULL, mgudp_stop_reading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSend", NULL, mgudp_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSendBatch", NULL, mgudp_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) == napi_ok;
}
