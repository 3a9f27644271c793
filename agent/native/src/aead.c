/*
 * ChaCha20-Poly1305 (RFC 8439) for the WireGuard data plane, through the OpenSSL that Node itself
 * embeds. The node binary exports the EVP_* symbols and ships their headers next to node_api.h, so
 * the addon needs neither -lcrypto nor a system libssl: the undefined symbols resolve against the
 * process that loads us, and the EVP API used here is the same across OpenSSL 3.x.
 *
 * Why not node:crypto: createCipheriv() builds a fresh cipher object per packet, which costs far
 * more than encrypting 1.4 kB. Here each Node environment keeps one EVP_CIPHER_CTX per direction
 * and only re-keys/re-nonces it (EVP_CipherInit_ex with a NULL cipher), so a packet costs one
 * Node-API call and no allocation.
 *
 * Buffers are (Uint8Array, offset, length) so callers seal straight into a wire buffer. Every range
 * is checked before any byte is read or written; a bad argument throws TypeError/RangeError with a
 * Node-style `code` and leaves the output untouched.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "mgtun.h"

#define AEAD_KEY_BYTES 32
#define AEAD_NONCE_BYTES 12
#define AEAD_TAG_BYTES 16
/* Number.MAX_SAFE_INTEGER. WireGuard counters are JS numbers; above it they stop being exact, and a
 * rounded counter could repeat a nonce, so such values are refused rather than encrypted. */
#define AEAD_MAX_SAFE_INTEGER 9007199254740991.0
/* EVP_CipherUpdate takes an int length; keep the tag's room so len + 16 cannot overflow it. */
#define AEAD_MAX_LENGTH ((size_t)0x7fffffff - AEAD_TAG_BYTES)

/* Per Node environment (main thread, each worker): JS is single-threaded within one, so the two
 * contexts are never used concurrently. Created on first use, so a Node whose OpenSSL lacks the
 * cipher (FIPS mode) still loads the TUN half of the addon. */
typedef struct {
  EVP_CIPHER_CTX *ctx[2]; /* [0] open (decrypt), [1] seal (encrypt) */
} aead_state;

typedef struct {
  const uint8_t *key;
  uint8_t nonce[AEAD_NONCE_BYTES];
  const uint8_t *ad;
  size_t ad_len;
} aead_params;

static void aead_state_free(void *arg) {
  aead_state *state = arg;
  for (int i = 0; i < 2; i++) EVP_CIPHER_CTX_free(state->ctx[i]); /* cleanses the last key */
  free(state);
}

/* TypeErrors carry a Node-style code here (the TUN and UDP entry points' have none). */
static void throw_type(napi_env env, const char *message) {
  mgtun_throw(env, napi_throw_type_error, "ERR_INVALID_ARG_TYPE", message);
}

static void throw_openssl(napi_env env, const char *message) {
  /* Leave nothing on this thread's OpenSSL error queue for node:crypto to misreport later. */
  ERR_clear_error();
  mgtun_throw(env, napi_throw_error, "ERR_MESHGUARD_AEAD", message);
}

static EVP_CIPHER_CTX *state_ctx(napi_env env, aead_state *state, int enc) {
  if (state->ctx[enc] != NULL) return state->ctx[enc];
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL || EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw_openssl(env, "OpenSSL has no usable ChaCha20-Poly1305");
    return NULL;
  }
  state->ctx[enc] = ctx;
  return ctx;
}

/* A descriptor array of exactly the given element type (a Uint32Array is not an Int32Array). Per
 * packet: mgtun_typed and napi_get_value_double already reject the wrong type, so no napi_typeof. */
static bool arg_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                      const char *what) {
  if (mgtun_typed(env, v, want, data, len)) return true;
  throw_type(env, what);
  return false;
}

static bool arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what) {
  void *raw;
  if (!arg_typed(env, v, napi_uint8_array, &raw, len, what)) return false;
  *data = raw;
  return true;
}

/* An integral number in [0, 2^53) (NaN fails the range test; the cast is defined once it passed). */
static bool valid_counter(double d) { return d >= 0 && d <= AEAD_MAX_SAFE_INTEGER && d == (double)(uint64_t)d; }

/* A byte index or length: an integral number in [0, 2^53). Non-integers are refused, not truncated. */
static bool arg_index(napi_env env, napi_value v, size_t *out, const char *what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    throw_type(env, what);
    return false;
  }
  if (!valid_counter(d)) {
    mgtun_throw_range(env, what);
    return false;
  }
  *out = (size_t)d;
  return true;
}


/* WireGuard's nonce: 4 zero bytes ‖ LE64(counter). */
static void wg_nonce(uint8_t nonce[AEAD_NONCE_BYTES], double counter) {
  uint64_t c = (uint64_t)counter;
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(c >> (8 * i));
}

static bool arg_key(napi_env env, napi_value v, const uint8_t **key) {
  uint8_t *data;
  size_t len;
  if (!arg_bytes(env, v, &data, &len, "key must be a Uint8Array")) return false;
  if (len != AEAD_KEY_BYTES) {
    mgtun_throw_range(env, "key must be 32 bytes");
    return false;
  }
  *key = data;
  return true;
}

/* The nonce argument is a WireGuard counter (number) or, for RFC 8439 users, a 12-byte nonce. */
static bool arg_nonce(napi_env env, napi_value v, uint8_t nonce[AEAD_NONCE_BYTES]) {
  double counter;
  if (napi_get_value_double(env, v, &counter) == napi_ok) {
    if (!valid_counter(counter)) {
      mgtun_throw_range(env, "counter must be an integer in [0, 2^53)");
      return false;
    }
    wg_nonce(nonce, counter);
    return true;
  }
  uint8_t *data;
  size_t len;
  if (!arg_bytes(env, v, &data, &len, "counter must be a number or a 12-byte Uint8Array nonce")) return false;
  if (len != AEAD_NONCE_BYTES) {
    mgtun_throw_range(env, "nonce must be 12 bytes");
    return false;
  }
  memcpy(nonce, data, AEAD_NONCE_BYTES);
  return true;
}

/* Optional associated data: a Uint8Array, or null/undefined for none. */
static bool arg_ad(napi_env env, napi_value v, const uint8_t **ad, size_t *ad_len) {
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, v, &type, ad_len, &raw, NULL, NULL) == napi_ok && type == napi_uint8_array) {
    if (*ad_len > AEAD_MAX_LENGTH) {
      mgtun_throw_range(env, "ad is too long");
      return false;
    }
    *ad = raw;
    return true;
  }
  napi_valuetype vt;
  if (napi_typeof(env, v, &vt) == napi_ok && (vt == napi_null || vt == napi_undefined)) {
    *ad = NULL;
    *ad_len = 0;
    return true;
  }
  throw_type(env, "ad must be a Uint8Array or null");
  return false;
}

/* Partial overlap (same bytes, different start) is not something OpenSSL's in-place mode covers:
 * a shifted output would overwrite input not yet read. */
static bool partially_overlapping(const uint8_t *in, const uint8_t *out, size_t len) {
  uintptr_t i = (uintptr_t)in, o = (uintptr_t)out;
  return len > 0 && i != o && i < o + len && o < i + len;
}

/* Seals in[0, len) into out[0, len + 16). Ranges are already checked. */
static bool seal_one(EVP_CIPHER_CTX *ctx, const aead_params *p, const uint8_t *in, size_t len, uint8_t *out) {
  /* Final emits nothing for a stream cipher, but is never pointed at caller memory all the same. */
  uint8_t scratch[EVP_MAX_BLOCK_LENGTH];
  int outl;
  if (EVP_CipherInit_ex(ctx, NULL, NULL, p->key, p->nonce, 1) != 1) return false;
  /* The AD is absorbed before anything is written, so it may lie inside the output range. */
  if (p->ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, p->ad, (int)p->ad_len) != 1) return false;
  if (partially_overlapping(in, out, len)) {
    memmove(out, in, len);
    in = out;
  }
  if (len > 0 && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1) return false;
  if (EVP_CipherFinal_ex(ctx, scratch, &outl) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_BYTES, out + len) > 0;
}

typedef enum { OPEN_OK, OPEN_FORGED, OPEN_ERROR } open_outcome;

/* Opens in[0, len + 16) (body ‖ tag) into out[0, len). Ranges are already checked. */
static open_outcome open_one(EVP_CIPHER_CTX *ctx, const aead_params *p, const uint8_t *in, size_t len,
                             uint8_t *out) {
  uint8_t scratch[EVP_MAX_BLOCK_LENGTH];
  uint8_t tag[AEAD_TAG_BYTES];
  int outl;
  /* Copied first: a shifted in-place open may overwrite where the tag was. */
  memcpy(tag, in + len, AEAD_TAG_BYTES);
  if (EVP_CipherInit_ex(ctx, NULL, NULL, p->key, p->nonce, 0) != 1) return OPEN_ERROR;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_BYTES, tag) <= 0) return OPEN_ERROR;
  if (p->ad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, p->ad, (int)p->ad_len) != 1) return OPEN_ERROR;
  if (partially_overlapping(in, out, len)) {
    memmove(out, in, len);
    in = out;
  }
  if (len > 0 && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1) return OPEN_ERROR;
  if (EVP_CipherFinal_ex(ctx, scratch, &outl) != 1) {
    /* The body was decrypted before the tag could be checked; unauthenticated plaintext must not
     * be left where a careless caller might use it. */
    if (len > 0) OPENSSL_cleanse(out, len);
    ERR_clear_error();
    return OPEN_FORGED;
  }
  return OPEN_OK;
}

/* The arguments shared by aeadSeal and aeadOpen, with src's range checked; dst's is the caller's,
 * since seal and open write different lengths. */
typedef struct {
  aead_params p;
  uint8_t *in;
  size_t len; /* input length */
  uint8_t *out;
  size_t out_cap; /* bytes of dst from dstOffset on */
} single_args;

static bool single_arguments(napi_env env, napi_callback_info info, aead_state **state, single_args *a,
                             const char *usage) {
  size_t argc = 8;
  napi_value argv[8];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) {
    mgtun_throw_pending_or(env, "Node-API call failed: napi_get_cb_info");
    return false;
  }
  *state = data;
  if (argc < 7) {
    throw_type(env, usage);
    return false;
  }
  uint8_t *src, *dst;
  size_t src_len, dst_len, src_offset, dst_offset;
  if (!arg_key(env, argv[0], &a->p.key) || !arg_nonce(env, argv[1], a->p.nonce) ||
      !arg_bytes(env, argv[2], &src, &src_len, "src must be a Uint8Array") ||
      !arg_index(env, argv[3], &src_offset, "srcOffset must be an integer in [0, 2^53)") ||
      !arg_index(env, argv[4], &a->len, "srcLength must be an integer in [0, 2^53)") ||
      !arg_bytes(env, argv[5], &dst, &dst_len, "dst must be a Uint8Array") ||
      !arg_index(env, argv[6], &dst_offset, "dstOffset must be an integer in [0, 2^53)")) {
    return false;
  }
  if (argc >= 8) {
    if (!arg_ad(env, argv[7], &a->p.ad, &a->p.ad_len)) return false;
  } else {
    a->p.ad = NULL;
    a->p.ad_len = 0;
  }
  /* Each operand is below 2^53, so the sums cannot wrap a 64-bit size_t. */
  if (src_offset > src_len || a->len > src_len - src_offset) {
    mgtun_throw_range(env, "src range lies outside src");
    return false;
  }
  if (dst_offset > dst_len) {
    mgtun_throw_range(env, "dstOffset lies outside dst");
    return false;
  }
  if (a->len > AEAD_MAX_LENGTH) {
    mgtun_throw_range(env, "srcLength is too long");
    return false;
  }
  a->in = src + src_offset;
  a->out = dst + dst_offset;
  a->out_cap = dst_len - dst_offset;
  return true;
}

/*
 * aeadSeal(key, counter | nonce, src, srcOffset, srcLength, dst, dstOffset, ad?) -> bytes written
 * (srcLength + 16): src[srcOffset, +srcLength) sealed as ciphertext ‖ tag at dst[dstOffset].
 */
static napi_value aead_seal_js(napi_env env, napi_callback_info info) {
  aead_state *state;
  single_args a;
  if (!single_arguments(env, info, &state, &a,
                        "aeadSeal(key, counter, src, srcOffset, srcLength, dst, dstOffset, ad)")) {
    return NULL;
  }
  if (a.len + AEAD_TAG_BYTES > a.out_cap) {
    mgtun_throw_range(env, "dst is too small for the sealed message");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = state_ctx(env, state, 1);
  if (ctx == NULL) return NULL;
  if (!seal_one(ctx, &a.p, a.in, a.len, a.out)) {
    throw_openssl(env, "ChaCha20-Poly1305 seal failed");
    return NULL;
  }
  napi_value result;
  MGTUN_CHECK(env, napi_create_int32(env, (int32_t)(a.len + AEAD_TAG_BYTES), &result));
  return result;
}

/*
 * aeadOpen(key, counter | nonce, src, srcOffset, srcLength, dst, dstOffset, ad?) -> plaintext bytes
 * written (srcLength - 16), or -1 if the message is shorter than a tag or fails authentication
 * (then the srcLength - 16 output bytes, if they fit, are zeroed).
 */
static napi_value aead_open_js(napi_env env, napi_callback_info info) {
  aead_state *state;
  single_args a;
  if (!single_arguments(env, info, &state, &a,
                        "aeadOpen(key, counter, src, srcOffset, srcLength, dst, dstOffset, ad)")) {
    return NULL;
  }
  int32_t written = -1;
  if (a.len >= AEAD_TAG_BYTES) {
    size_t body = a.len - AEAD_TAG_BYTES;
    if (body > a.out_cap) {
      mgtun_throw_range(env, "dst is too small for the opened message");
      return NULL;
    }
    EVP_CIPHER_CTX *ctx = state_ctx(env, state, 0);
    if (ctx == NULL) return NULL;
    open_outcome outcome = open_one(ctx, &a.p, a.in, body, a.out);
    if (outcome == OPEN_ERROR) {
      throw_openssl(env, "ChaCha20-Poly1305 open failed");
      return NULL;
    }
    if (outcome == OPEN_OK) written = (int32_t)body;
  }
  napi_value result;
  MGTUN_CHECK(env, napi_create_int32(env, written, &result));
  return result;
}

/* The descriptor arrays of a batch call; packet i is src[srcOffsets[i], +srcLengths[i]) under
 * counters[i], and its output starts at dst[dstOffsets[i]]. */
typedef struct {
  const uint8_t *key;
  double *counters;
  uint8_t *src, *dst;
  size_t src_len, dst_len;
  uint32_t *src_offsets, *src_lengths, *dst_offsets;
  int32_t *results; /* open only */
  size_t count;
} batch_args;

static bool batch_arguments(napi_env env, napi_callback_info info, aead_state **state, batch_args *b, bool open) {
  size_t argc = 9;
  napi_value argv[9];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) {
    mgtun_throw_pending_or(env, "Node-API call failed: napi_get_cb_info");
    return false;
  }
  *state = data;
  size_t need = open ? 9 : 8;
  if (argc < need) {
    throw_type(env, open ? "aeadOpenBatch(key, counters, src, srcOffsets, srcLengths, dst, dstOffsets, results, count)"
                         : "aeadSealBatch(key, counters, src, srcOffsets, srcLengths, dst, dstOffsets, count)");
    return false;
  }
  size_t counters_len, src_offsets_len, src_lengths_len, dst_offsets_len, results_len = 0;
  void *counters, *src_offsets, *src_lengths, *dst_offsets, *results = NULL;
  if (!arg_key(env, argv[0], &b->key) ||
      !arg_typed(env, argv[1], napi_float64_array, &counters, &counters_len, "counters must be a Float64Array") ||
      !arg_bytes(env, argv[2], &b->src, &b->src_len, "src must be a Uint8Array") ||
      !arg_typed(env, argv[3], napi_uint32_array, &src_offsets, &src_offsets_len, "srcOffsets must be a Uint32Array") ||
      !arg_typed(env, argv[4], napi_uint32_array, &src_lengths, &src_lengths_len, "srcLengths must be a Uint32Array") ||
      !arg_bytes(env, argv[5], &b->dst, &b->dst_len, "dst must be a Uint8Array") ||
      !arg_typed(env, argv[6], napi_uint32_array, &dst_offsets, &dst_offsets_len, "dstOffsets must be a Uint32Array") ||
      (open && !arg_typed(env, argv[7], napi_int32_array, &results, &results_len, "results must be an Int32Array"))) {
    return false;
  }
  b->counters = counters;
  b->src_offsets = src_offsets;
  b->src_lengths = src_lengths;
  b->dst_offsets = dst_offsets;
  b->results = results;
  if (!arg_index(env, argv[open ? 8 : 7], &b->count, "count must be an integer in [0, 2^53)")) return false;
  size_t count = b->count;
  if (count > counters_len || count > src_offsets_len || count > src_lengths_len || count > dst_offsets_len ||
      (open && count > results_len)) {
    mgtun_throw_range(env, "count exceeds a descriptor array");
    return false;
  }
  /* Check every packet before touching any, so a bad batch is refused whole, not half done. */
  for (size_t i = 0; i < count; i++) {
    uint64_t off = b->src_offsets[i], len = b->src_lengths[i], out = b->dst_offsets[i];
    if (!valid_counter(b->counters[i])) {
      mgtun_throw_range(env, "a counter is not an integer in [0, 2^53)");
      return false;
    }
    if (off + len > b->src_len) {
      mgtun_throw_range(env, "a packet's src range lies outside src");
      return false;
    }
    if (len > AEAD_MAX_LENGTH) {
      mgtun_throw_range(env, "a packet is too long");
      return false;
    }
    /* Seal writes len + 16; open writes len - 16 (nothing for a message shorter than the tag). */
    uint64_t written = open ? (len >= AEAD_TAG_BYTES ? len - AEAD_TAG_BYTES : 0) : len + AEAD_TAG_BYTES;
    if (out + written > b->dst_len) {
      mgtun_throw_range(env, "a packet's dst range lies outside dst");
      return false;
    }
  }
  return true;
}

/*
 * aeadSealBatch(key, counters, src, srcOffsets, srcLengths, dst, dstOffsets, count) -> count.
 * Same result as aeadSeal on each packet in order (so packet i's output may overwrite a later
 * packet's input only if the caller lays them out that way); packet i's sealed length is
 * srcLengths[i] + 16. No AD: WireGuard transport messages have none.
 */
static napi_value aead_seal_batch_js(napi_env env, napi_callback_info info) {
  aead_state *state;
  batch_args b;
  if (!batch_arguments(env, info, &state, &b, false)) return NULL;
  EVP_CIPHER_CTX *ctx = state_ctx(env, state, 1);
  if (ctx == NULL) return NULL;
  aead_params p = {.key = b.key, .ad = NULL, .ad_len = 0};
  for (size_t i = 0; i < b.count; i++) {
    wg_nonce(p.nonce, b.counters[i]);
    if (!seal_one(ctx, &p, b.src + b.src_offsets[i], b.src_lengths[i], b.dst + b.dst_offsets[i])) {
      throw_openssl(env, "ChaCha20-Poly1305 seal failed");
      return NULL;
    }
  }
  napi_value result;
  MGTUN_CHECK(env, napi_create_double(env, (double)b.count, &result));
  return result;
}

/*
 * aeadOpenBatch(key, counters, src, srcOffsets, srcLengths, dst, dstOffsets, results, count)
 * -> packets authenticated. results[i] = plaintext length of packet i, or -1 if it failed
 * authentication (or was shorter than a tag), exactly as aeadOpen would return for it.
 */
static napi_value aead_open_batch_js(napi_env env, napi_callback_info info) {
  aead_state *state;
  batch_args b;
  if (!batch_arguments(env, info, &state, &b, true)) return NULL;
  EVP_CIPHER_CTX *ctx = state_ctx(env, state, 0);
  if (ctx == NULL) return NULL;
  aead_params p = {.key = b.key, .ad = NULL, .ad_len = 0};
  double authenticated = 0;
  for (size_t i = 0; i < b.count; i++) {
    uint32_t len = b.src_lengths[i];
    b.results[i] = -1;
    if (len < AEAD_TAG_BYTES) continue;
    wg_nonce(p.nonce, b.counters[i]);
    open_outcome outcome = open_one(ctx, &p, b.src + b.src_offsets[i], len - AEAD_TAG_BYTES, b.dst + b.dst_offsets[i]);
    if (outcome == OPEN_ERROR) {
      throw_openssl(env, "ChaCha20-Poly1305 open failed");
      return NULL;
    }
    if (outcome == OPEN_OK) {
      b.results[i] = (int32_t)(len - AEAD_TAG_BYTES);
      authenticated++;
    }
  }
  napi_value result;
  MGTUN_CHECK(env, napi_create_double(env, authenticated, &result));
  return result;
}

bool mgaead_register(napi_env env, napi_value exports) {
  aead_state *state = calloc(1, sizeof *state);
  if (state == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return false;
  }
  if (napi_add_env_cleanup_hook(env, aead_state_free, state) != napi_ok) {
    free(state);
    mgtun_throw_pending_or(env, "Node-API call failed: napi_add_env_cleanup_hook");
    return false;
  }
  /* The state rides along as each function's data, so no per-call lookup and no instance-data slot. */
  napi_property_descriptor functions[] = {
      {"aeadSeal", NULL, aead_seal_js, NULL, NULL, NULL, napi_enumerable, state},
      {"aeadOpen", NULL, aead_open_js, NULL, NULL, NULL, napi_enumerable, state},
      {"aeadSealBatch", NULL, aead_seal_batch_js, NULL, NULL, NULL, napi_enumerable, state},
      {"aeadOpenBatch", NULL, aead_open_batch_js, NULL, NULL, NULL, napi_enumerable, state},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) == napi_ok;
}
