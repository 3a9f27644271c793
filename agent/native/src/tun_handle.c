/* Opening the TUN device; the handle JS holds, closing it and its counters are handle.c's. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mgtun.h"

/* Random tag: a stray External from another addon must not be mistaken for a device. */
static const napi_type_tag HANDLE_TAG = {0x6d67747566646576ULL, 0x2a1f9c03b7e45d11ULL};

const mg_handle_kind mgtun_kind = {
    .tag = &HANDLE_TAG,
    .errno_name = mgtun_errno_name,
    .expected = "expected a TUN handle from open()",
    .closed_syscall = "write",
    .closed = "TUN device is closed",
    .alloc_failed = "cannot allocate TUN handle",
    .create_failed = "cannot create TUN handle",
    .stats_usage = "stats(handle, Float64Array)",
    .stats_output = "stats output must be a Float64Array of at least 5 elements",
    .stat_count = MGTUN_STAT_COUNT,
};

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

  mgtun *tun = mg_handle_new(env, &mgtun_kind, sizeof *tun, fd);
  if (tun == NULL) return NULL;
  /* The kernel fills in the real name, which differs when a "%d" template was given. */
  memcpy(tun->name, ifr.ifr_name, IFNAMSIZ - 1);

  napi_value handle, result, fd_value, name_value;
  if (!mg_handle_external(env, &tun->base, &handle)) return NULL;
  MGTUN_CHECK(env, napi_create_object(env, &result));
  MGTUN_CHECK(env, napi_create_int32(env, fd, &fd_value));
  MGTUN_CHECK(env, napi_create_string_utf8(env, tun->name, NAPI_AUTO_LENGTH, &name_value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "fd", fd_value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "name", name_value));
  MGTUN_CHECK(env, napi_set_named_property(env, result, "handle", handle));
  return result;
}

/* close(handle): see mg_handle_close. */
napi_value mgtun_close(napi_env env, napi_callback_info info) { return mg_handle_close(env, info, &mgtun_kind); }

/* stats(handle, out: Float64Array) writes the counters in mgtun_stat order. */
napi_value mgtun_stats(napi_env env, napi_callback_info info) { return mg_handle_stats(env, info, &mgtun_kind); }
