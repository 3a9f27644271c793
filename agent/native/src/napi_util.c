/* Argument checks and errno-carrying errors, so every entry point fails the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mgtun.h"

void mgtun_throw(napi_env env, napi_status (*thrower)(napi_env, const char *, const char *), const char *code,
                 const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  thrower(env, code, message);
}

void mgtun_throw_pending_or(napi_env env, const char *message) { mgtun_throw(env, napi_throw_error, NULL, message); }

void mgtun_throw_type(napi_env env, const char *message) { mgtun_throw(env, napi_throw_type_error, NULL, message); }

void mgtun_throw_range(napi_env env, const char *message) {
  mgtun_throw(env, napi_throw_range_error, "ERR_OUT_OF_RANGE", message);
}

bool mgtun_errno_error(napi_env env, mgtun_errno_namer name, int err, const char *syscall, const char *what,
                       const char *hint, napi_value *error) {
  char text[512];
  if (hint != NULL) {
    snprintf(text, sizeof text, "%s: %s (%s)", what, strerror(err), hint);
  } else {
    snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  }
  napi_value message, code, errno_value, syscall_value;
  return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) == napi_ok &&
         napi_create_string_utf8(env, name(err), NAPI_AUTO_LENGTH, &code) == napi_ok &&
         napi_create_int32(env, err, &errno_value) == napi_ok &&
         napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) == napi_ok &&
         napi_create_error(env, code, message, error) == napi_ok &&
         napi_set_named_property(env, *error, "errno", errno_value) == napi_ok &&
         napi_set_named_property(env, *error, "syscall", syscall_value) == napi_ok;
}

void mgtun_throw_errno_as(napi_env env, mgtun_errno_namer name, int err, const char *syscall, const char *what,
                          const char *hint) {
  napi_value error;
  if (mgtun_errno_error(env, name, err, syscall, what, hint, &error)) {
    napi_throw(env, error);
  } else {
    mgtun_throw_pending_or(env, what);
  }
}

void mgtun_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint) {
  mgtun_throw_errno_as(env, mgtun_errno_name, err, syscall, what, hint);
}

bool mgtun_arg_string(napi_env env, napi_value v, char *out, size_t cap, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    mgtun_throw_type(env, what);
    return false;
  }
  if (len + 1 > cap) {
    mgtun_throw_type(env, what);
    return false;
  }
  return napi_get_value_string_utf8(env, v, out, cap, &len) == napi_ok;
}

bool mgtun_arg_u32(napi_env env, napi_value v, uint32_t *out, const char *what) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number || napi_get_value_uint32(env, v, out) != napi_ok) {
    mgtun_throw_type(env, what);
    return false;
  }
  return true;
}

bool mgtun_arg_uint(napi_env env, napi_value v, uint32_t max, uint32_t *out, const char *what) {
  /* Not napi_get_value_uint32: it reads 1.5 as 1 and -1 as 4294967295, turning a caller's bug into a valid value. */
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    mgtun_throw_type(env, what);
    return false;
  }
  /* NaN fails the first test; the cast is defined once d is known to be in range. */
  if (!(d >= 0 && d <= (double)max) || d != (double)(uint32_t)d) {
    mgtun_throw_range(env, what);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

bool mgtun_arg_function(napi_env env, napi_value v, const char *what) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_function) {
    mgtun_throw_type(env, what);
    return false;
  }
  return true;
}

static bool arg_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                      const char *what) {
  if (mgtun_typed(env, v, want, data, len)) return true;
  mgtun_throw_type(env, what);
  return false;
}

/* Each through a void * of its own: a typed pointer must not be written as a void * (strict aliasing). */

bool mgtun_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what) {
  void *raw;
  if (!arg_typed(env, v, napi_uint8_array, &raw, len, what)) return false;
  *data = raw;
  return true;
}

bool mgtun_arg_u16_array(napi_env env, napi_value v, uint16_t **data, size_t *len, const char *what) {
  void *raw;
  if (!arg_typed(env, v, napi_uint16_array, &raw, len, what)) return false;
  *data = raw;
  return true;
}

bool mgtun_arg_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len, const char *what) {
  void *raw;
  if (!arg_typed(env, v, napi_uint32_array, &raw, len, what)) return false;
  *data = raw;
  return true;
}

/* The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace. */
bool mgtun_valid_ifname(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > 15) return false;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
  for (const char *p = name; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}
