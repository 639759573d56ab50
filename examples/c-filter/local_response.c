/*
 * local_response: a Proxy-Wasm filter in C against the raw ABI that answers
 * locally. A request whose :path starts with the configured prefix (default
 * "/blocked") gets 418 with a text body and two headers, serialized by hand in
 * the spec's header-map format; the host never calls the upstream. Other
 * requests continue with "x-c-checked: yes".
 */
#include "proxy_wasm_intrinsics.h"

PROXY_WASM_ABI_VERSION

static char prefix[128] = "/blocked";
static size_t prefix_size = sizeof("/blocked") - 1;

PROXY_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t root_context_id) {}

PROXY_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_context_id, uint32_t vm_configuration_size) { return 1; }

PROXY_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_context_id, uint32_t configuration_size) {
  if (configuration_size == 0) return 1;
  char *data = NULL;
  size_t size = 0;
  if (proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, configuration_size, &data, &size) !=
          WASM_RESULT_OK ||
      size == 0 || size >= sizeof(prefix) || data[0] != '/') {
    LOG_LITERAL(LOG_ERROR, "local_response: the configuration must be a path prefix");
    free(data);
    return 0;
  }
  memcpy(prefix, data, size);
  prefix_size = size;
  free(data);
  return 1;
}

PROXY_EXPORT(proxy_on_request_headers)
Action proxy_on_request_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  char *path = NULL;
  size_t path_size = 0;
  if (proxy_get_header_map_value(MAP_REQUEST_HEADERS, STRLEN(":path"), &path, &path_size) !=
      WASM_RESULT_OK) {
    LOG_LITERAL(LOG_ERROR, "local_response: no :path");
    return ACTION_CONTINUE;
  }
  int blocked = path_size >= prefix_size && memcmp(path, prefix, prefix_size) == 0;
  free(path);
  if (!blocked) {
    proxy_add_header_map_value(MAP_REQUEST_HEADERS, STRLEN("x-c-checked"), STRLEN("yes"));
    return ACTION_CONTINUE;
  }
  static const char *const kv[] = {"content-type", "text/plain", "x-blocked-by", "c-filter"};
  char map[128];
  size_t map_size = proxy_serialize_pairs(map, sizeof(map), kv, 2);
  static const char body[] = "I'm a teapot, and this path is blocked\n";
  LOG_LITERAL(LOG_INFO, "local_response: blocked");
  proxy_send_local_response(418, STRLEN("blocked_by_c_filter"), STRLEN(body), map, map_size, -1);
  return ACTION_PAUSE;
}
