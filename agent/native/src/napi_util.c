/* Argument checks and errno-carrying errors, so every entry point fails the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mgtun.h"

void mgtun_throw_pending_or(napi_env env, const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, NULL, message);
}

void mgtun_throw_type(napi_env env, const char *message) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_type_error(env, NULL, message);
}

bool mgtun_errno_error(napi_env env, int err, const char *syscall, const char *what, const char *hint,
                       napi_value *error) {
  char text[512];
  if (hint != NULL) {
    snprintf(text, sizeof text, "%s: %s (%s)", what, strerror(err), hint);
  } else {
    snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  }
  napi_value message, code, errno_value, syscall_value;
  return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) == napi_ok &&
         napi_create_string_utf8(env, mgtun_errno_name(err), NAPI_AUTO_LENGTH, &code) == napi_ok &&
         napi_create_int32(env, err, &errno_value) == napi_ok &&
         napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) == napi_ok &&
         napi_create_error(env, code, message, error) == napi_ok &&
         napi_set_named_property(env, *error, "errno", errno_value) == napi_ok &&
         napi_set_named_property(env, *error, "syscall", syscall_value) == napi_ok;
}

void mgtun_throw_errno(napi_env env, int err, const char *syscall, const char *what, const char *hint) {
  napi_value error;
  if (mgtun_errno_error(env, err, syscall, what, hint, &error)) {
    napi_throw(env, error);
  } else {
    mgtun_throw_pending_or(env, what);
  }
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

bool mgtun_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, const char *what) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, len, &raw, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    mgtun_throw_type(env, what);
    return false;
  }
  *data = raw;
  return true;
}

bool mgtun_arg_u32_array(napi_env env, napi_value v, uint32_t **data, size_t *len, const char *what) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, len, &raw, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    mgtun_throw_type(env, what);
    return false;
  }
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
