;; hw_stream: an http-wasm guest that buffers the response of only the
;; exchanges that ask. No features at initialization.
;; handle_request: with an x-buffer request header, enable_features(2)
;;   (buffer_response) for this exchange; next=1.
;; handle_response: x-seen: 1 on every response; when this exchange has
;;   buffer_response, the body becomes "<" + body + ">" and x-buffered: 1.
(module
  (import "http_handler" "enable_features" (func $features (param i32) (result i32)))
  (import "http_handler" "get_header_values" (func $values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (import "http_handler" "read_body" (func $read (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write (param i32 i32 i32)))
  (memory (export "memory") 2)
  (func (export "handle_request") (result i64)
    (if (i64.ne (call $values (i32.const 0) (i32.const 1024) (i32.const 8) (i32.const 0) (i32.const 0)) (i64.const 0))
      (then (drop (call $features (i32.const 2)))))
    (i64.const 1))
  (func (export "handle_response") (param $ctx i32) (param $err i32)
    (local $n i32)
    (call $set (i32.const 1) (i32.const 1040) (i32.const 6) (i32.const 1060) (i32.const 1))
    (if (i32.and (call $features (i32.const 0)) (i32.const 2))
      (then
        ;; up to 64 KiB of the body at 65536
        (local.set $n (i32.wrap_i64 (i64.and (call $read (i32.const 1) (i32.const 65536) (i32.const 65536)) (i64.const 0xffffffff))))
        (call $write (i32.const 1) (i32.const 1070) (i32.const 1))
        (call $write (i32.const 1) (i32.const 65536) (local.get $n))
        (call $write (i32.const 1) (i32.const 1072) (i32.const 1))
        (call $set (i32.const 1) (i32.const 1050) (i32.const 10) (i32.const 1060) (i32.const 1)))))
  (data (i32.const 1024) "x-buffer")
  (data (i32.const 1040) "x-seen")
  (data (i32.const 1050) "x-buffered")
  (data (i32.const 1060) "1")
  (data (i32.const 1070) "<")
  (data (i32.const 1072) ">"))
