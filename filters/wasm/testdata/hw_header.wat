;; hw_header: an http-wasm (http_handler) guest that adds x-wasm: 1 to
;; every request and calls the next handler: the http-wasm side of the
;; header-filter benchmark.
(module
  (import "http_handler" "add_header_value" (func $add (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (call $add (i32.const 0) (i32.const 1024) (i32.const 6) (i32.const 1031) (i32.const 1))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32))
  (data (i32.const 1024) "x-wasm")
  (data (i32.const 1031) "1")
)
