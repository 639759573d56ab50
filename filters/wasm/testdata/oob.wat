;; oob: hands out-of-range pointers to host functions, and its malloc returns an
;; out-of-range address. Every call must answer INVALID_MEMORY_ACCESS (6), or
;; EFAULT (21) for WASI; if all do, it adds x-oob: ok, else x-oob: bad. Also calls
;; proxy_http_call with an out-of-range upstream name (6), and an unimplemented host
;; function (proxy_grpc_call: 12).
;; Assembled by `make wat` (wat2wasm from wabt) into the .wasm beside it.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write1 (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_call" (func $grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; Scratch: 16..31 return slots; 1024.. strings; 32768.. bump heap, reset per callback.
  (global $heap (mut i32) (i32.const 32768))
  (func (export "malloc") (param i32) (result i32) (i32.const 0xfffffff0))
  (func (export "proxy_abi_version_0_2_1"))
  (func $reset (global.set $heap (i32.const 32768)))
  ;; logret logs the bytes that the last host call returned through slots 16 and 20.
  (func $logret (drop (call $log (i32.const 2) (i32.load (i32.const 16)) (i32.load (i32.const 20)))))

  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param $id i32) (param $n i32) (param $eos i32) (result i32)
    (if (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.and (i32.const 1)
        (i32.eq (call $log (i32.const 2) (i32.const 0xfffffff0) (i32.const 100)) (i32.const 6)))
        (i32.eq (call $log (i32.const 2) (i32.const 1024) (i32.const 0x7fffffff)) (i32.const 6)))
        (i32.eq (call $get (i32.const 0) (i32.const 0xfffffff0) (i32.const 4) (i32.const 16) (i32.const 20)) (i32.const 6)))
        (i32.eq (call $get (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 0xfffffff0) (i32.const 20)) (i32.const 6)))
        (i32.eq (call $get (i32.const 0) (i32.const 1030) (i32.const 7) (i32.const 16) (i32.const 20)) (i32.const 6)))
        (i32.eq (call $pairs (i32.const 0) (i32.const 16) (i32.const 0xfffffff0)) (i32.const 6)))
        (i32.eq (call $add (i32.const 0) (i32.const 1038) (i32.const 3) (i32.const 0xfffffff0) (i32.const 5)) (i32.const 6)))
        (i32.eq (call $prop (i32.const 0xfffffff0) (i32.const 8) (i32.const 16) (i32.const 20)) (i32.const 6)))
        (i32.eq (call $local (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 0xfffffff0) (i32.const 64) (i32.const 0) (i32.const 0) (i32.const -1)) (i32.const 6)))
        (i32.eq (call $fd_write1 (i32.const 1) (i32.const 0xfffffff0) (i32.const 1) (i32.const 24)) (i32.const 21)))
        (i32.eq (call $random (i32.const 0xfffffff0) (i32.const 64)) (i32.const 21)))
        (i32.eq (call $http_call (i32.const 0xfffffff0) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16)) (i32.const 6)))
        (i32.eq (call $grpc_call (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16)) (i32.const 12)))
      (then (drop (call $add (i32.const 0) (i32.const 1042) (i32.const 5) (i32.const 1048) (i32.const 2))))
      (else (drop (call $add (i32.const 0) (i32.const 1042) (i32.const 5) (i32.const 1051) (i32.const 3)))))
    (i32.const 0))
  (data (i32.const 1024) ":path")
  (data (i32.const 1030) ":method")
  (data (i32.const 1038) "x-a")
  (data (i32.const 1042) "x-oob")
  (data (i32.const 1048) "ok")
  (data (i32.const 1051) "bad")
)
