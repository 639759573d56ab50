;; loop_start: a command module whose _start never returns.
;; Assembled by `make wat` (wat2wasm from wabt) into the .wasm beside it.
(module
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; Scratch: 16..31 return slots; 1024.. strings; 32768.. bump heap, reset per callback.
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
  (func $reset (global.set $heap (i32.const 32768)))
  ;; logret logs the bytes that the last host call returned through slots 16 and 20.

  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param $id i32) (param $n i32) (param $eos i32) (result i32)
    (call $reset)

    (drop (call $add (i32.const 0) (i32.const 1024) (i32.const 4) (i32.const 1029) (i32.const 1)))
    (i32.const 0))
  (func (export "_start") (loop $spin (br $spin)))
  (data (i32.const 1024) "x-ok")
  (data (i32.const 1029) "1")
)
