;; hw_body: an http-wasm guest exercising bodies, features and the
;; buffer/limit convention.
;; _initialize: enable buffer_request | buffer_response.
;; handle_request:
;;   x-trap present: set a header with an invalid name (the host traps);
;;   x-deny present: answer 403 "denied" itself (next=0);
;;   else: prefix the request body with "prefix-", copy the method into
;;   x-method and the URI into x-uri, log "small-ok" if get_uri with a
;;   1-byte limit wrote nothing and returned the length; next=1, ctx=7.
;; handle_response(ctx, is_error): wrap the response body as
;;   "wrapped:" + body, status 201, x-ctx: the ctx digit, x-status-was:
;;   "200" if it was 200.
(module
  (import "http_handler" "enable_features" (func $features (param i32) (result i32)))
  (import "http_handler" "get_header_values" (func $values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (import "http_handler" "get_method" (func $method (param i32 i32) (result i32)))
  (import "http_handler" "get_uri" (func $uri (param i32 i32) (result i32)))
  (import "http_handler" "get_status_code" (func $status (result i32)))
  (import "http_handler" "set_status_code" (func $set_status (param i32)))
  (import "http_handler" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (func (export "_initialize")
    (drop (call $features (i32.const 3))))
  (func $has (param $name i32) (param $len i32) (result i32)
    (i64.ne (call $values (i32.const 0) (local.get $name) (local.get $len) (i32.const 0) (i32.const 0)) (i64.const 0)))
  (func (export "handle_request") (result i64)
    (local $n i32)
    (if (call $has (i32.const 1024) (i32.const 6))
      (then (call $set (i32.const 0) (i32.const 1040) (i32.const 8) (i32.const 1040) (i32.const 1))))
    (if (call $has (i32.const 1060) (i32.const 6))
      (then
        (call $set_status (i32.const 403))
        (call $write (i32.const 1) (i32.const 1070) (i32.const 6))
        (return (i64.const 0))))
    ;; read up to 4096 bytes of the request body at 8192
    (local.set $n (i32.wrap_i64 (call $read (i32.const 0) (i32.const 8192) (i32.const 4096))))
    (call $write (i32.const 0) (i32.const 1080) (i32.const 7))
    (call $write (i32.const 0) (i32.const 8192) (local.get $n))
    ;; x-method: the method
    (local.set $n (call $method (i32.const 12288) (i32.const 64)))
    (call $set (i32.const 0) (i32.const 1090) (i32.const 8) (i32.const 12288) (local.get $n))
    ;; the 1-byte probe: nothing written at 12800, the full length returned
    (local.set $n (call $uri (i32.const 12800) (i32.const 1)))
    (if (i32.and (i32.gt_u (local.get $n) (i32.const 1)) (i32.eqz (i32.load8_u (i32.const 12800))))
      (then (call $log (i32.const 0) (i32.const 1100) (i32.const 8))))
    (local.set $n (call $uri (i32.const 12800) (local.get $n)))
    (call $set (i32.const 0) (i32.const 1110) (i32.const 5) (i32.const 12800) (local.get $n))
    (i64.or (i64.shl (i64.const 7) (i64.const 32)) (i64.const 1)))
  (func (export "handle_response") (param $ctx i32) (param $err i32)
    (local $n i32)
    (if (i32.eq (call $status) (i32.const 200))
      (then (call $set (i32.const 1) (i32.const 1120) (i32.const 12) (i32.const 1140) (i32.const 3))))
    (local.set $n (i32.wrap_i64 (call $read (i32.const 1) (i32.const 8192) (i32.const 4096))))
    (call $write (i32.const 1) (i32.const 1150) (i32.const 8))
    (call $write (i32.const 1) (i32.const 8192) (local.get $n))
    (call $set_status (i32.const 201))
    (i32.store8 (i32.const 1170) (i32.add (i32.const 48) (local.get $ctx)))
    (call $set (i32.const 1) (i32.const 1160) (i32.const 5) (i32.const 1170) (i32.const 1)))
  (data (i32.const 1024) "x-trap")
  (data (i32.const 1040) "bad name")
  (data (i32.const 1060) "x-deny")
  (data (i32.const 1070) "denied")
  (data (i32.const 1080) "prefix-")
  (data (i32.const 1090) "x-method")
  (data (i32.const 1100) "small-ok")
  (data (i32.const 1110) "x-uri")
  (data (i32.const 1120) "x-status-was")
  (data (i32.const 1140) "200")
  (data (i32.const 1150) "wrapped:")
  (data (i32.const 1160) "x-ctx")
)
