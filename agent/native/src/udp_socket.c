/*
 * Creating, binding and closing the UDP socket, its counters, errors and address conversion.
 * The handle JS holds is an External tagged as a UDP socket (distinct from a TUN handle).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

bool mgudp_errno_error(napi_env env, int err, const char *syscall, const char *what, const char *hint,
                       napi_value *error) {
  char text[512];
  if (hint != NULL) {
    snprintf(text, sizeof text, "%s: %s (%s)", what, strerror(err), hint);
  } else {
    snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  }
  napi_value message, code, errno_value, syscall_value;
  return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) == napi_ok &&
         napi_create_string_utf8(env, mgudp_errno_name(err), NAPI_AUTO_LENGTH, &code) == napi_ok &&
         napi_create_int32(env, err, &errno_value) == napi_ok &&
         napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) == napi_ok &&
         napi_create_error(env, code, message, error) == napi_ok &&
         napi_set_named_property(env, *error, "errno", errno_value) == napi_ok &&
         napi_set_named_property(env, *error, "syscall", syscall_value) == napi_ok;
}

void mgudp_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint) {
  napi_value error;
  if (mgudp_errno_error(env, err, syscall, what, hint, &error)) {
    napi_throw(env, error);
  } else {
    mgtun_throw_pending_or(env, what);
  }
}

/* RangeError for numbers of the right type but the wrong value, so JS can tell it from a type misuse. */
void mgudp_throw_range(napi_env env, const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
}

bool mgudp_arg_uint(napi_env env, napi_value v, uint32_t max, uint32_t *out, const char *what) {
  /* Not napi_get_value_uint32: it reads 1.5 as 1 and -1 as 4294967295, turning a caller's bug into a valid value. */
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    mgtun_throw_type(env, what);
    return false;
  }
  /* NaN fails the first test; the cast is defined once d is known to be in range. */
  if (!(d >= 0 && d <= (double)max) || d != (double)(uint32_t)d) {
    mgudp_throw_range(env, what);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

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

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mgudp *udp = data;
  /* Reading holds a reference to the handle, so only an idle or torn-down environment gets here. */
  mgudp_reader_stop(udp);
  if (udp->fd >= 0) close(udp->fd);
  free(udp);
}

mgudp *mgudp_unwrap(napi_env env, napi_value v, bool need_open) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, v, &HANDLE_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    mgtun_throw_type(env, "expected a UDP handle from udpOpen()");
    return NULL;
  }
  mgudp *udp = data;
  if (need_open && udp->fd < 0) {
    mgudp_throw_errno(env, EBADF, "send", "UDP socket is closed", NULL);
    return NULL;
  }
  return udp;
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
  if (!mgudp_arg_uint(env, argv[1], 0xffff, &port, "port must be an integer in 0-65535") ||
      !mgudp_arg_uint(env, argv[2], UINT32_MAX, &rcvbuf, "receiveBufferSize must be a uint32") ||
      !mgudp_arg_uint(env, argv[3], UINT32_MAX, &sndbuf, "sendBufferSize must be a uint32")) {
    return NULL;
  }
  if (address != NULL && address_len != 4 && address_len != 16) {
    mgudp_throw_range(env, "address must be 4 (IPv4) or 16 (IPv6) bytes");
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

  mgudp *udp = calloc(1, sizeof *udp);
  if (udp == NULL) {
    close(fd);
    mgudp_throw_errno(env, ENOMEM, "calloc", "cannot allocate UDP handle", NULL);
    return NULL;
  }
  udp->fd = fd;
  udp->family = family;
  udp->env = env;

  napi_value handle, result, value;
  if (napi_create_external(env, udp, finalize_handle, NULL, &handle) != napi_ok) {
    close(fd);
    free(udp);
    mgtun_throw_pending_or(env, "cannot create UDP handle");
    return NULL;
  }
  /* From here the finalizer owns udp and the fd. */
  MGTUN_CHECK(env, napi_type_tag_object(env, handle, &HANDLE_TAG));
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

/* udpClose(handle): stops reading and closes the fd; closing twice is a no-op. */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    mgtun_throw_type(env, "expected a UDP handle from udpOpen()");
    return NULL;
  }
  mgudp *udp = mgudp_unwrap(env, argv[0], false);
  if (udp == NULL) return NULL;
  /* The poll watcher must be gone before the fd number can be reused by anyone else. */
  mgudp_reader_stop(udp);
  if (udp->fd >= 0) {
    close(udp->fd);
    udp->fd = -1;
  }
  return NULL;
}

/* udpStats(handle, out: Float64Array) writes the counters in mgudp_stat order. */
static napi_value udp_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    mgtun_throw_type(env, "udpStats(handle, Float64Array)");
    return NULL;
  }
  mgudp *udp = mgudp_unwrap(env, argv[0], false);
  if (udp == NULL) return NULL;
  napi_typedarray_type type;
  size_t len = 0;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &len, &raw, NULL, NULL) != napi_ok ||
      type != napi_float64_array || len < MGUDP_STAT_COUNT) {
    mgtun_throw_type(env, "stats output must be a Float64Array of at least 10 elements");
    return NULL;
  }
  double *out = raw;
  for (int i = 0; i < MGUDP_STAT_COUNT; i++) out[i] = (double)udp->stats[i];
  return NULL;
}

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
