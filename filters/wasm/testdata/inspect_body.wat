;; inspect_body: reads every body chunk it is given (proxy_get_buffer_bytes into
;; its memory) and lets it go on (Continue): the body-streaming benchmark's guest.
;; Assembled by `make wat` (wat2wasm from wabt) into the .wasm beside it.
(module
  (import "env" "proxy_get_buffer_bytes" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; 16..23 return slots; 32768.. bump heap, reset per callback.
  (global $heap (mut i32) (i32.const 32768))
  (func $malloc (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
      (br_if $ok (i32.ne (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))) (i32.const -1)))
      unreachable)
    (local.get $p))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $inspect (param $buf i32) (param $size i32) (result i32)
    (global.set $heap (i32.const 32768))
    (if (local.get $size)
      (then (drop (call $get (local.get $buf) (i32.const 0) (local.get $size) (i32.const 16) (i32.const 20)))))
    (i32.const 0))
  (func (export "proxy_on_request_body") (param i32) (param $size i32) (param i32) (result i32)
    (call $inspect (i32.const 0) (local.get $size)))
  (func (export "proxy_on_response_body") (param i32) (param $size i32) (param i32) (result i32)
    (call $inspect (i32.const 1) (local.get $size)))
)
