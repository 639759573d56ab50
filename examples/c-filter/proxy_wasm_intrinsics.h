/*
 * proxy_wasm_intrinsics.h: the raw Proxy-Wasm ABI 0.2.1 (github.com/proxy-wasm/spec)
 * for C guests — the host functions imported from module "env", the enums, and
 * two helpers. No SDK: every call is the spec's, by hand. wasmgate's own header,
 * written for examples/c-filter; only what the examples need plus the common
 * calls, not the whole ABI.
 *
 * Build (Debian: apt-get install clang lld wasi-libc):
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *         -Wl,--export=malloc -o filter.wasm filter.c
 */
#ifndef PROXY_WASM_INTRINSICS_H
#define PROXY_WASM_INTRINSICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define PROXY_EXPORT(name) __attribute__((export_name(#name)))

/* Statuses every host function returns. */
typedef enum {
  WASM_RESULT_OK = 0,
  WASM_RESULT_NOT_FOUND = 1,
  WASM_RESULT_BAD_ARGUMENT = 2,
  WASM_RESULT_SERIALIZATION_FAILURE = 3,
  WASM_RESULT_PARSE_FAILURE = 4,
  WASM_RESULT_INVALID_MEMORY_ACCESS = 6,
  WASM_RESULT_EMPTY = 7,
  WASM_RESULT_CAS_MISMATCH = 8,
  WASM_RESULT_INTERNAL_FAILURE = 10,
  WASM_RESULT_UNIMPLEMENTED = 12,
} WasmResult;

/* What a stream callback returns. */
typedef enum { ACTION_CONTINUE = 0, ACTION_PAUSE = 1 } Action;

typedef enum {
  LOG_TRACE = 0, LOG_DEBUG = 1, LOG_INFO = 2, LOG_WARN = 3, LOG_ERROR = 4, LOG_CRITICAL = 5,
} LogLevel;

typedef enum {
  MAP_REQUEST_HEADERS = 0, MAP_REQUEST_TRAILERS = 1,
  MAP_RESPONSE_HEADERS = 2, MAP_RESPONSE_TRAILERS = 3,
} MapType;

typedef enum {
  BUFFER_REQUEST_BODY = 0, BUFFER_RESPONSE_BODY = 1,
  BUFFER_VM_CONFIGURATION = 6, BUFFER_PLUGIN_CONFIGURATION = 7,
} BufferType;

/* Host functions (module "env"). Every one returns a WasmResult; results the
 * host allocates come back through return pointers, in memory it got from our
 * exported malloc: the guest frees them. */
PROXY_IMPORT(proxy_log)
WasmResult proxy_log(LogLevel level, const char *msg, size_t size);
PROXY_IMPORT(proxy_get_log_level)
WasmResult proxy_get_log_level(LogLevel *level);
PROXY_IMPORT(proxy_get_current_time_nanoseconds)
WasmResult proxy_get_current_time_nanoseconds(uint64_t *nanos);
PROXY_IMPORT(proxy_get_buffer_bytes)
WasmResult proxy_get_buffer_bytes(BufferType type, size_t start, size_t max_size,
                                  char **data, size_t *size);
PROXY_IMPORT(proxy_get_header_map_value)
WasmResult proxy_get_header_map_value(MapType type, const char *key, size_t key_size,
                                      char **value, size_t *value_size);
PROXY_IMPORT(proxy_add_header_map_value)
WasmResult proxy_add_header_map_value(MapType type, const char *key, size_t key_size,
                                      const char *value, size_t value_size);
PROXY_IMPORT(proxy_replace_header_map_value)
WasmResult proxy_replace_header_map_value(MapType type, const char *key, size_t key_size,
                                          const char *value, size_t value_size);
PROXY_IMPORT(proxy_remove_header_map_value)
WasmResult proxy_remove_header_map_value(MapType type, const char *key, size_t key_size);
PROXY_IMPORT(proxy_get_header_map_pairs)
WasmResult proxy_get_header_map_pairs(MapType type, char **data, size_t *size);
PROXY_IMPORT(proxy_get_property)
WasmResult proxy_get_property(const char *path, size_t path_size, char **value, size_t *value_size);
PROXY_IMPORT(proxy_send_local_response)
WasmResult proxy_send_local_response(uint32_t status_code, const char *details, size_t details_size,
                                     const char *body, size_t body_size,
                                     const char *headers, size_t headers_size, int32_t grpc_status);

/* The ABI version marker every Proxy-Wasm module exports. */
#define PROXY_WASM_ABI_VERSION                                   \
  PROXY_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}

/* Helpers. */
#define LOG_LITERAL(level, s) proxy_log((level), (s), sizeof(s) - 1)
#define STRLEN(s) (s), sizeof(s) - 1

/* A serialized header map of at most 8 pairs in buf (spec format: u32 count,
 * then u32 key and value lengths per pair, then each key and value followed by
 * NUL; little-endian, as wasm32 is). Returns its size, or 0 if buf is too small. */
static inline size_t proxy_serialize_pairs(char *buf, size_t cap, const char *const *kv, uint32_t n) {
  size_t need = 4 + 8 * (size_t)n;
  for (uint32_t i = 0; i < 2 * n; i++) need += strlen(kv[i]) + 1;
  if (need > cap) return 0;
  memcpy(buf, &n, 4);
  char *sizes = buf + 4, *data = buf + 4 + 8 * n;
  for (uint32_t i = 0; i < 2 * n; i++) {
    uint32_t len = (uint32_t)strlen(kv[i]);
    memcpy(sizes + 4 * i, &len, 4);
    memcpy(data, kv[i], len + 1);
    data += len + 1;
  }
  return need;
}

#endif
