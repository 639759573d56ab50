/*
 * header_filter: a Proxy-Wasm header filter in C against the raw ABI.
 *
 * The plugin configuration names the request header to set (default
 * "x-c-filter"). Each request gets that header with value "c"; an existing
 * "x-remove-me" is removed; the response gets "x-request-path" with the
 * request's :path, as the host's request headers had it, read in the request
 * phase and kept in the stream's context.
 */
#include "proxy_wasm_intrinsics.h"

PROXY_WASM_ABI_VERSION

static char *header_name = NULL; /* from the plugin configuration */
static size_t header_name_size = 0;

#define MAX_STREAMS 64
static struct {
  uint32_t id;
  char *path;
  size_t path_size;
} streams[MAX_STREAMS];

PROXY_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t root_context_id) {
  if (root_context_id == 0) return;
  for (int i = 0; i < MAX_STREAMS; i++) {
    if (streams[i].id == 0) {
      streams[i].id = context_id;
      return;
    }
  }
}

PROXY_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_context_id, uint32_t vm_configuration_size) { return 1; }

PROXY_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_context_id, uint32_t configuration_size) {
  free(header_name);
  header_name = NULL;
  header_name_size = 0;
  if (configuration_size == 0) return 1;
  if (proxy_get_buffer_bytes(BUFFER_PLUGIN_CONFIGURATION, 0, configuration_size, &header_name,
                             &header_name_size) != WASM_RESULT_OK) {
    LOG_LITERAL(LOG_ERROR, "header_filter: cannot read the configuration");
    return 0;
  }
  return 1;
}

PROXY_EXPORT(proxy_on_request_headers)
Action proxy_on_request_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  if (header_name != NULL) {
    proxy_replace_header_map_value(MAP_REQUEST_HEADERS, header_name, header_name_size, STRLEN("c"));
  } else {
    proxy_replace_header_map_value(MAP_REQUEST_HEADERS, STRLEN("x-c-filter"), STRLEN("c"));
  }
  proxy_remove_header_map_value(MAP_REQUEST_HEADERS, STRLEN("x-remove-me"));
  for (int i = 0; i < MAX_STREAMS; i++) {
    if (streams[i].id == context_id) {
      proxy_get_header_map_value(MAP_REQUEST_HEADERS, STRLEN(":path"), &streams[i].path,
                                 &streams[i].path_size);
      break;
    }
  }
  return ACTION_CONTINUE;
}

PROXY_EXPORT(proxy_on_response_headers)
Action proxy_on_response_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream) {
  for (int i = 0; i < MAX_STREAMS; i++) {
    if (streams[i].id == context_id && streams[i].path != NULL) {
      proxy_add_header_map_value(MAP_RESPONSE_HEADERS, STRLEN("x-request-path"), streams[i].path,
                                 streams[i].path_size);
    }
  }
  return ACTION_CONTINUE;
}

PROXY_EXPORT(proxy_on_done)
uint32_t proxy_on_done(uint32_t context_id) { return 1; }

PROXY_EXPORT(proxy_on_delete)
void proxy_on_delete(uint32_t context_id) {
  for (int i = 0; i < MAX_STREAMS; i++) {
    if (streams[i].id == context_id) {
      free(streams[i].path);
      streams[i].id = 0;
      streams[i].path = NULL;
      streams[i].path_size = 0;
    }
  }
}
