;; hw_reroute.wat: an http-wasm (http_handler) probe for route re-selection.
;; Its configuration is a request URI; handle_request sets it with set_uri
;; and calls the next handler. Assemble: wat2wasm hw_reroute.wat -o hw_reroute.wasm
(module
  (import "http_handler" "get_config" (func $get_config (param i32 i32) (result i32)))
  (import "http_handler" "set_uri" (func $set_uri (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (local $len i32)
    (local.set $len (call $get_config (i32.const 1024) (i32.const 1024)))
    (if (i32.le_u (local.get $len) (i32.const 1024))
      (then (call $set_uri (i32.const 1024) (local.get $len))))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32))
)
