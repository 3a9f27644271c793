/* Module entry: the function table JS sees (typed in agent/src/net/tun-binding.ts). */
#include "mgtun.h"

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"open", NULL, mgtun_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, mgtun_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, mgtun_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"startReading", NULL, mgtun_start_reading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stopReading", NULL, mgtun_stop_reading, NULL, NULL, NULL, napi_enumerable, NULL},
      {"write", NULL, mgtun_write, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, mgtun_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMtu", NULL, mgtun_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setUp", NULL, mgtun_set_up, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addAddress", NULL, mgtun_add_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addRoute", NULL, mgtun_add_route, NULL, NULL, NULL, napi_enumerable, NULL},
      {"deleteLink", NULL, mgtun_delete_link, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok ||
      !mgaead_register(env, exports) || !mgudp_register(env, exports)) {
    return NULL;
  }
  return exports;
}
