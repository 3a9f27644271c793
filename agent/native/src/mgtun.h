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

/* Error.code for an errno: mgtun_errno_name, or a kind's own that knows more symbols. */
typedef const char *(*mgtun_errno_namer)(int err);

/* ---- handle.c: what every fd-backed handle (TUN device, UDP socket) shares ---- */

/* Room for the larger kind's counters (the UDP socket's, see udp.h). */
#define MG_STAT_MAX 10

typedef struct mg_reader mg_reader;

/* One per kind of handle: what tells it apart and how it reports misuse. */
typedef struct mg_handle_kind {
  const napi_type_tag *tag;     /* a stray External from another kind or addon must not be mistaken for ours */
  mgtun_errno_namer errno_name; /* Error.code of every errno error about this kind */
  const char *expected;         /* TypeError for an argument that is not such a handle */
  const char *closed_syscall;   /* EBADF error for a handle that must be open but is closed */
  const char *closed;
  const char *alloc_failed;     /* ENOMEM error when the handle cannot be allocated */
  const char *create_failed;    /* thrown when the External cannot be made */
  const char *stats_usage;      /* TypeError for stats() with too few arguments */
  const char *stats_output;     /* TypeError for a stats() output that is not a large enough Float64Array */
  uint32_t stat_count;
} mg_handle_kind;

/* The first member of every handle struct (mgtun, mgudp), so a handle is also an mg_handle. */
typedef struct mg_handle {
  int fd; /* -1 once closed: a closed handle must never touch an fd number the kernel has reused */
  const mg_handle_kind *kind;
  napi_env env;
  mg_reader *reader; /* NULL unless reading */
  uint64_t stats[MG_STAT_MAX]; /* the kind's enum order; only the first kind->stat_count are used */
} mg_handle;

/* A zeroed handle of `size` bytes (the kind's struct, mg_handle first) that owns fd. On failure
 * closes fd, throws and returns NULL. */
void *mg_handle_new(napi_env env, const mg_handle_kind *kind, size_t size, int fd);
/* Wraps h in an External tagged as its kind, whose finalizer stops reading, closes the fd and frees
 * h; from then on it owns them. If the External cannot be made, closes the fd, frees h, throws and
 * returns false. */
bool mg_handle_external(napi_env env, mg_handle *h, napi_value *handle);
/* Unwraps a handle of `kind`; throws and returns NULL if v is not one, or (when need_open) if it is closed. */
mg_handle *mg_handle_unwrap(napi_env env, napi_value v, const mg_handle_kind *kind, bool need_open);
/* For entry points whose first argument is a handle: fetches `want` arguments into argv, throws
 * `usage` (TypeError) if fewer were passed, then unwraps argv[0] as mg_handle_unwrap does. */
mg_handle *mg_handle_args(napi_env env, napi_callback_info info, const mg_handle_kind *kind, size_t want,
                          napi_value *argv, const char *usage, bool need_open);
/* close(handle): stops reading and closes the fd; closing twice is a no-op. */
napi_value mg_handle_close(napi_env env, napi_callback_info info, const mg_handle_kind *kind);
/* stats(handle, out: Float64Array) writes the kind's counters in its enum order. */
napi_value mg_handle_stats(napi_env env, napi_callback_info info, const mg_handle_kind *kind);

/* ---- poll_reader.c: reading a handle's fd on the libuv loop, one JS call per batch ---- */

/* The caller's buffer and typed arrays a reader keeps alive; the UDP reader has the most. */
#define MG_READER_MAX_ARRAYS 5

/* One per kind of reader. */
typedef struct mg_reader_kind {
  const char *resource;     /* the async resource's name, as async_hooks sees it */
  bool socket;              /* poll with uv_poll_init_socket rather than uv_poll_init */
  const char *setup_failed; /* thrown when the references or the async context cannot be made */
  const char *poll_failed;  /* thrown (with libuv's errno) when the fd cannot be polled */
  const char *syscall;      /* the Error passed to the callback once reading has failed and stopped */
  const char *failed;
  int calls_stat;           /* the handle's counter of JS callbacks made, or -1 for none */
  /* Each readiness event (status < 0: libuv's poll error), inside a handle scope, with the reader's
   * references kept until it returns even if it stops reading. r->handle is not NULL on entry. */
  void (*ready)(mg_reader *r, int status);
} mg_reader_kind;

/* The first member of every reader struct; allocated by the kind's start function. */
struct mg_reader {
  uv_poll_t poll;    /* freed with the reader in the close callback, which libuv runs after any poll callback */
  mg_handle *handle; /* NULL once stopped */
  const mg_reader_kind *kind;
  mgtun_errno_namer errno_name; /* the handle kind's, still needed after the handle is gone */
  napi_env env;
  napi_ref callback;
  napi_ref resource;
  napi_ref self; /* the handle: keeps it alive while the loop can still call into it */
  napi_ref arrays[MG_READER_MAX_ARRAYS];
  napi_async_context async_context;
  bool in_callback;
  bool release_after_callback;
};

/*
 * Starts reading h with r (zeroed, the kind's own fields already set), replacing nothing: the
 * caller has stopped any earlier reader. self is the handle's JS value, callback the JS function,
 * arrays the caller's memory that mg_reader_array re-fetches. On failure frees r, throws and
 * returns false.
 */
bool mg_reader_start(napi_env env, mg_handle *h, mg_reader *r, const mg_reader_kind *kind, napi_value self,
                     napi_value callback, const napi_value *arrays, size_t array_count);
/* Stops h's reader, if any; safe from inside its callback. Must run before h->fd is closed. */
void mg_reader_stop(mg_handle *h);
/* stopReading(handle): idempotent; safe from inside the read callback. */
napi_value mg_reader_stop_js(napi_env env, napi_callback_info info, const mg_handle_kind *kind);
/* arrays[i] as a typed array of `want`; false if it has been detached. Re-fetched per batch: cheap,
 * and a detached or transferred buffer then fails instead of dangling. */
bool mg_reader_array(const mg_reader *r, size_t i, napi_typedarray_type want, void **data, size_t *len);
/* One JS call: callback(count, error | undefined); error is an errno (0 for none) reported as the
 * kind's syscall and message, with hint (may be NULL). */
void mg_reader_deliver(mg_reader *r, uint32_t count, int error, const char *hint);
/* Polls again after libuv stopped the watcher for an error; returns 0 or a positive errno. */
int mg_reader_restart(mg_reader *r);

/* napi_util.c */
#define MGTUN_CHECK(env, call)                                                                                        \
  do {                                                                                                               \
    if ((call) != napi_ok) {                                                                                         \
      mgtun_throw_pending_or(env, "Node-API call failed: " #call);                                                    \
      return NULL;                                                                                                   \
    }                                                                                                                \
  } while (0)

/* Throws with `thrower` (napi_throw_error, _type_error or _range_error; code may be NULL) unless an
 * exception is already pending, which then says more. */
void mgtun_throw(napi_env env, napi_status (*thrower)(napi_env, const char *, const char *), const char *code,
                 const char *message);
/* mgtun_throw: an Error, a TypeError, and a RangeError (code ERR_OUT_OF_RANGE) for a value of the right
 * type but the wrong value, so JS can tell it from a type misuse. */
void mgtun_throw_pending_or(napi_env env, const char *message);
void mgtun_throw_type(napi_env env, const char *message);
void mgtun_throw_range(napi_env env, const char *message);
/* An Error whose message is "<what>: <strerror>[ (<hint>)]", with code = name(err), errno and syscall. */
bool mgtun_errno_error(napi_env env, mgtun_errno_namer name, int err, const char *syscall, const char *what,
                       const char *hint, napi_value *error);
/* Throws mgtun_errno_error's Error; mgtun_throw_errno names the errno with mgtun_errno_name. */
void mgtun_throw_errno_as(napi_env env, mgtun_errno_namer name, int err, const char *syscall, const char *what,
                          const char *hint);
void mgtun_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint);
const char *mgtun_errno_name(int err);

/* A typed array of exactly `want` elements (a Uint32Array is not an Int32Array); false, with nothing
 * thrown, for anything else. Inline: the AEAD reads its arguments with it per packet, and
 * napi_get_typedarray_info already rejects a non-typed-array, so no napi_is_typedarray is needed. */
static inline bool mgtun_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) == napi_ok && type == want;
}

/* Argument readers: each throws a TypeError with `what` and returns false if v does not fit. */
bool mgtun_arg_string(napi_env env, napi_value v, char *out, size_t cap, const char *what);
/* Any number, converted as napi_get_value_uint32 does (1.5 -> 1, -1 -> 4294967295). */
bool mgtun_arg_u32(napi_env env, napi_value v, uint32_t *out, const char *what);
/* A whole number in [0, max]: TypeError if not a number, RangeError otherwise (no truncation or wrap). */
bool mgtun_arg_uint(napi_env env, napi_value v, uint32_t max, uint32_t *out, const char *what);
bool mgtun_arg_function(napi_env env, napi_value v, const char *what);
bool mgtun_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what);
bool mgtun_arg_u16_array(napi_env env, napi_value v, uint16_t **data, size_t *len, const char *what);
bool mgtun_arg_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len, const char *what);
bool mgtun_valid_ifname(const char *name);

/* tun_handle.c */
typedef struct mgtun {
  mg_handle base;
  char name[16];
} mgtun;

_Static_assert(MGTUN_STAT_COUNT <= MG_STAT_MAX, "MG_STAT_MAX must hold the TUN counters");

extern const mg_handle_kind mgtun_kind;

napi_value mgtun_open(napi_env env, napi_callback_info info);
napi_value mgtun_close(napi_env env, napi_callback_info info);
napi_value mgtun_stats(napi_env env, napi_callback_info info);

/* tun_reader.c */
napi_value mgtun_start_reading(napi_env env, napi_callback_info info);
napi_value mgtun_stop_reading(napi_env env, napi_callback_info info);

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
