/*
 * meshguard_tun: the TUN device edge of the userspace data plane.
 * Shared declarations for the addon's translation units.
 */
#ifndef MGTUN_H
#define MGTUN_H

/* Node-API 8 is in every supported Node (>= 12.22); pinning it keeps the addon loadable on any of them. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Counters live natively so the hot path never crosses into JS to count. Order = stats() output. */
enum mgtun_stat {
  MGTUN_PACKETS_READ,
  MGTUN_BYTES_READ,
  MGTUN_PACKETS_WRITTEN,
  MGTUN_BYTES_WRITTEN,
  MGTUN_WRITE_DROPS,
  MGTUN_STAT_COUNT
};

typedef struct mgtun_reader mgtun_reader;

typedef struct mgtun {
  int fd; /* -1 once closed: a closed handle must never touch an fd number the kernel has reused */
  char name[16];
  napi_env env;
  mgtun_reader *reader; /* NULL unless reading */
  uint64_t stats[MGTUN_STAT_COUNT];
} mgtun;

/* napi_util.c */
#define MGTUN_CHECK(env, call)                                                                                        \
  do {                                                                                                               \
    if ((call) != napi_ok) {                                                                                         \
      mgtun_throw_pending_or(env, "Node-API call failed: " #call);                                                    \
      return NULL;                                                                                                   \
    }                                                                                                                \
  } while (0)

void mgtun_throw_pending_or(napi_env env, const char *message);
/* An Error whose message is "<what>: <strerror>[ (<hint>)]", with code = errno name, errno and syscall. */
bool mgtun_errno_error(napi_env env, int err, const char *syscall, const char *what, const char *hint,
                       napi_value *error);
/* Throws an Error whose message is "<what>: <strerror>[ (<hint>)]", with code = errno name, errno and syscall. */
void mgtun_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint);
void mgtun_throw_type(napi_env env, const char *message);
const char *mgtun_errno_name(int err);

bool mgtun_arg_string(napi_env env, napi_value v, char *out, size_t cap, const char *what);
bool mgtun_arg_u32(napi_env env, napi_value v, uint32_t *out, const char *what);
bool mgtun_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what);
bool mgtun_arg_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len, const char *what);
bool mgtun_valid_ifname(const char *name);

/* tun_handle.c */
napi_value mgtun_open(napi_env env, napi_callback_info info);
napi_value mgtun_close(napi_env env, napi_callback_info info);
napi_value mgtun_stats(napi_env env, napi_callback_info info);
/* Unwraps a handle from open(); throws and returns NULL if it is not one, or (when need_open) if it is closed. */
mgtun *mgtun_unwrap(napi_env env, napi_value v, bool need_open);

/* tun_reader.c */
napi_value mgtun_start_reading(napi_env env, napi_callback_info info);
napi_value mgtun_stop_reading(napi_env env, napi_callback_info info);
void mgtun_reader_stop(mgtun *tun);

/* tun_writer.c */
napi_value mgtun_write(napi_env env, napi_callback_info info);
napi_value mgtun_write_batch(napi_env env, napi_callback_info info);

/* rtnetlink.c */
napi_value mgtun_set_mtu(napi_env env, napi_callback_info info);
napi_value mgtun_set_up(napi_env env, napi_callback_info info);
napi_value mgtun_add_address(napi_env env, napi_callback_info info);
napi_value mgtun_add_route(napi_env env, napi_callback_info info);
napi_value mgtun_delete_link(napi_env env, napi_callback_info info);

/* aead.c: defines aeadSeal, aeadOpen, aeadSealBatch, aeadOpenBatch on exports (they carry per-env state). */
bool mgaead_register(napi_env env, napi_value exports);

/* udp_socket.c: defines the udp* functions (the batched UDP socket, see udp.h) on exports. */
bool mgudp_register(napi_env env, napi_value exports);

#endif
