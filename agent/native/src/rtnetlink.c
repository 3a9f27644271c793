/*
 * Interface configuration over rtnetlink: one request, one acknowledgement, errno from the kernel.
 * rtnetlink (not ioctls) because IPv6 addresses and routes have no portable ioctl, and one path
 * for both families is simpler to get right.
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "mgtun.h"

typedef struct {
  struct nlmsghdr header;
  union {
    struct ifinfomsg link;
    struct ifaddrmsg addr;
    struct rtmsg route;
  } body;
  char attrs[256];
} request;

static void request_init(request *req, uint16_t type, uint16_t flags, size_t body_len) {
  memset(req, 0, sizeof *req);
  req->header.nlmsg_len = NLMSG_LENGTH(body_len);
  req->header.nlmsg_type = type;
  req->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* An RTM_*LINK request about the interface with this index. */
static void link_request(request *req, uint16_t type, unsigned int index) {
  request_init(req, type, 0, sizeof(struct ifinfomsg));
  req->body.link.ifi_family = AF_UNSPEC;
  req->body.link.ifi_index = (int)index;
}

static void add_attr(request *req, uint16_t type, const void *data, size_t len) {
  /* Callers add at most three small attributes, far below sizeof attrs; the check keeps it that way. */
  if (NLMSG_ALIGN(req->header.nlmsg_len) + RTA_SPACE(len) > sizeof *req) abort();
  struct rtattr *attr = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->header.nlmsg_len));
  attr->rta_type = type;
  attr->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(attr), data, len);
  req->header.nlmsg_len = NLMSG_ALIGN(req->header.nlmsg_len) + RTA_ALIGN(attr->rta_len);
}

/* Sends the request and waits for its ack; returns 0 or a positive errno. */
static int transact(request *req) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  /* The kernel answers at once; the timeout only guards against a wedged netlink socket. */
  struct timeval timeout = {.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  req->header.nlmsg_seq = 1;
  if (sendto(fd, req, req->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int err = errno;
    close(fd);
    return err;
  }
  char reply[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    ssize_t n = recv(fd, reply, sizeof reply, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return err;
    }
    int len = (int)n;
    for (struct nlmsghdr *msg = (struct nlmsghdr *)reply; NLMSG_OK(msg, len); msg = NLMSG_NEXT(msg, len)) {
      if (msg->nlmsg_seq != 1 || msg->nlmsg_type != NLMSG_ERROR) continue;
      const struct nlmsgerr *ack = NLMSG_DATA(msg);
      close(fd);
      return -ack->error;
    }
  }
}

static bool args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, char *name,
                 unsigned int *index) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    mgtun_throw_type(env, "missing arguments");
    return false;
  }
  if (!mgtun_arg_string(env, argv[0], name, IFNAMSIZ, "interface name must be a string of 1-15 bytes")) return false;
  *index = if_nametoindex(name);
  if (*index == 0) {
    mgtun_throw_errno(env, errno == 0 ? ENODEV : errno, "if_nametoindex", "no such interface", name);
    return false;
  }
  return true;
}

static napi_value finish(napi_env env, int err, const char *what, const char *hint) {
  if (err != 0) mgtun_throw_errno(env, err, "netlink", what, hint);
  return NULL;
}

/* setMtu(name, mtu) */
napi_value mgtun_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  unsigned int index;
  uint32_t mtu;
  if (!args(env, info, 2, argv, name, &index) || !mgtun_arg_u32(env, argv[1], &mtu, "mtu must be a uint32")) {
    return NULL;
  }
  request req;
  link_request(&req, RTM_NEWLINK, index);
  add_attr(&req, IFLA_MTU, &mtu, sizeof mtu);
  return finish(env, transact(&req), "cannot set MTU", NULL);
}

/* setUp(name, up: boolean) */
napi_value mgtun_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[IFNAMSIZ];
  unsigned int index;
  bool up;
  if (!args(env, info, 2, argv, name, &index)) return NULL;
  if (napi_get_value_bool(env, argv[1], &up) != napi_ok) {
    mgtun_throw_type(env, "up must be a boolean");
    return NULL;
  }
  request req;
  link_request(&req, RTM_NEWLINK, index);
  req.body.link.ifi_flags = up ? IFF_UP : 0;
  req.body.link.ifi_change = IFF_UP;
  return finish(env, transact(&req), up ? "cannot set link up" : "cannot set link down", NULL);
}

/* The arguments of addAddress and addRoute. */
typedef struct {
  char name[IFNAMSIZ];
  unsigned int index;
  uint8_t *bytes;
  size_t len;
  uint32_t prefix_len;
} prefix_args;

/* Reads (name, address: Uint8Array of 4 or 16 bytes, prefixLength) and checks the prefix fits the address. */
static bool read_prefix_args(napi_env env, napi_callback_info info, prefix_args *a) {
  napi_value argv[3];
  if (!args(env, info, 3, argv, a->name, &a->index) ||
      !mgtun_arg_bytes(env, argv[1], &a->bytes, &a->len, "address must be a Uint8Array") ||
      !mgtun_arg_u32(env, argv[2], &a->prefix_len, "prefix length must be a uint32")) {
    return false;
  }
  if ((a->len != 4 && a->len != 16) || a->prefix_len > a->len * 8) {
    mgtun_throw_type(env, "address must be 4 or 16 bytes with a prefix length of at most 32 or 128");
    return false;
  }
  return true;
}

/* addAddress(name, address, prefixLength): replaces an identical address, so reconfiguring is idempotent. */
napi_value mgtun_add_address(napi_env env, napi_callback_info info) {
  prefix_args a;
  if (!read_prefix_args(env, info, &a)) return NULL;
  request req;
  request_init(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct ifaddrmsg));
  req.body.addr.ifa_family = a.len == 4 ? AF_INET : AF_INET6;
  req.body.addr.ifa_prefixlen = (unsigned char)a.prefix_len;
  /* A point-to-point tunnel has no one to run duplicate address detection with; DAD only delays use. */
  req.body.addr.ifa_flags = a.len == 16 ? IFA_F_NODAD : 0;
  req.body.addr.ifa_scope = RT_SCOPE_UNIVERSE;
  req.body.addr.ifa_index = a.index;
  add_attr(&req, IFA_LOCAL, a.bytes, a.len);
  add_attr(&req, IFA_ADDRESS, a.bytes, a.len);
  return finish(env, transact(&req), "cannot add address", NULL);
}

/* addRoute(name, destination, prefixLength): a route to the prefix through this interface. */
napi_value mgtun_add_route(napi_env env, napi_callback_info info) {
  prefix_args a;
  if (!read_prefix_args(env, info, &a)) return NULL;
  request req;
  request_init(&req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(struct rtmsg));
  req.body.route.rtm_family = a.len == 4 ? AF_INET : AF_INET6;
  req.body.route.rtm_dst_len = (unsigned char)a.prefix_len;
  req.body.route.rtm_table = RT_TABLE_MAIN;
  req.body.route.rtm_protocol = RTPROT_BOOT;
  /* What `ip route add <prefix> dev <if>` sends: link scope for IPv4, universe for IPv6. */
  req.body.route.rtm_scope = a.len == 4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  req.body.route.rtm_type = RTN_UNICAST;
  if (a.prefix_len > 0) add_attr(&req, RTA_DST, a.bytes, a.len);
  uint32_t oif = a.index;
  add_attr(&req, RTA_OIF, &oif, sizeof oif);
  return finish(env, transact(&req), "cannot add route", NULL);
}

/* deleteLink(name) */
napi_value mgtun_delete_link(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[IFNAMSIZ];
  unsigned int index;
  if (!args(env, info, 1, argv, name, &index)) return NULL;
  request req;
  link_request(&req, RTM_DELLINK, index);
  return finish(env, transact(&req), "cannot delete link", NULL);
}
