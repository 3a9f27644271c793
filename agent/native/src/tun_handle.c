/* Opening and closing the TUN device; the handle JS holds is an External tagged as ours. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mgtun.h"

/* Random tag: a stray External from another addon must not be mistaken for a device. */
static const napi_type_tag HANDLE_TAG = {0x6d67747566646576ULL, 0x2a1f9c03b7e45d11ULL};

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mgtun *tun = data;
  /* Reading holds a reference to the handle, so only an idle or torn-down environment gets here. */
  mgtun_reader_stop(tun);
  if (tun->fd >= 0) close(tun->fd);
  free(tun);
}

mgtun *mgtun_unwrap(napi_env env, napi_value v, bool need_open) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, v, &HANDLE_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    mgtun_throw_type(env, "expected a TUN handle from open()");
    return NULL;
  }
  mgtun *tun = data;
  if (need_open && tun->fd < 0) {
    mgtun_throw_errno(env, EBADF, "write", "TUN device is closed", NULL);
    return NULL;
  }
  return tun;
}

static const char *open_hint(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return "/dev/net/tun is missing: load the tun module, or in a container pass the device "
             "(--device /dev/net/tun); runc 1.2.0-1.2.3 dropped it from the default device allowlist";
    case EACCES:
    case EPERM:
      return "needs read/write access to /dev/net/tun and CAP_NET_ADMIN";
    default:
      return NULL;
  }
}

static const char *setiff_hint(int err) {
  switch (err) {
    case EPERM:
      return "creating a TUN interface needs CAP_NET_ADMIN";
    case EBUSY:
      return "the interface exists and another process has it open";
    case EINVAL:
      return "invalid name, or an interface of another kind already has this name";
    default:
      return NULL;
  }
}

/* open(name) -> { fd, name, handle } */
napi_value mgtun_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ];
  if (argc < 1 || !mgtun_arg_string(env, argv[0], name, sizeof name, "interface name must be a string of 1-15 bytes")) {
    mgtun_throw_type(env, "interface name must be a string of 1-15 bytes");
    return NULL;
  }
  if (!mgtun_valid_ifname(name)) {
    mgtun_throw_type(env, "invalid interface name");
    return NULL;
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    mgtun_throw_errno(env, err, "open", "cannot open /dev/net/tun", open_hint(err));
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* IFF_NO_PI: every read/write is exactly one IP packet, the version nibble tells the family. */
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    mgtun_throw_errno(env, err, "ioctl", "TUNSETIFF failed", setiff_hint(err));
    return NULL;
  }

  mgtun *tun = calloc(1, sizeof *tun);
  if (tun == NULL) {
    close(fd);
    mgtun_throw_errno(env, ENOMEM, "calloc", "cannot allocate TUN handle", NULL);
    return NULL;
  }
  tun->fd = fd;
  tun->env = env;
  /* The kernel fills in the real name, which differs when a "%d" template was given. */
  memcpy(tun->name, ifr.ifr_name, IFNAMSIZ - 1);

  napi_value handle, result, fd_value, name_value;
  if (napi_create_external(env, tun, finalize_handle, NULL, &handle) != napi_ok) {
    close(fd);
    free(tun);
    mgtun_throw_pending_or(env, "cannot create TUN handle");
    return NULL;
  }
  MGTUN_CHECK(env, napi_type_tag_object(env, handle, &HANDLE_TAG));
  MGTUN_CHECK(env, napi_create_object(env, &result));
  MGTUN_CHECK(env, napi_create_int32(env, fd, &fd_value));
  MGTUN_CHECK(env, napi_create_string_utf8(env, tun->name, NAPI_AUTO_LENGTH, &name_value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "fd", fd_value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "name", name_value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "handle", handle));
  return result;
}

/* close(handle): stops reading and closes the fd; closing twice is a no-op. */
napi_value mgtun_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    mgtun_throw_type(env, "expected a TUN handle from open()");
    return NULL;
  }
  mgtun *tun = mgtun_unwrap(env, argv[0], false);
  if (tun == NULL) return NULL;
  /* The poll watcher must be gone before the fd number can be reused by anyone else. */
  mgtun_reader_stop(tun);
  if (tun->fd >= 0) {
    close(tun->fd);
    tun->fd = -1;
  }
  return NULL;
}

/* stats(handle, out: Float64Array) writes the counters in mgtun_stat order. */
napi_value mgtun_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  MGTUN_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    mgtun_throw_type(env, "stats(handle, Float64Array)");
    return NULL;
  }
  mgtun *tun = mgtun_unwrap(env, argv[0], false);
  if (tun == NULL) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *raw = NULL;
  if (napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &type, &len, &raw, NULL, NULL) != napi_ok ||
      type != napi_float64_array || len < MGTUN_STAT_COUNT) {
    mgtun_throw_type(env, "stats output must be a Float64Array of at least 5 elements");
    return NULL;
  }
  double *out = raw;
  for (int i = 0; i < MGTUN_STAT_COUNT; i++) out[i] = (double)tun->stats[i];
  return NULL;
}
