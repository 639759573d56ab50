;; grow_bomb: with x-grow, grows memory a page at a time until refused, then
;; traps; otherwise adds x-ok: 1. Exports its page count through x-pages on later requests.
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
    (if (i32.eqz (call $get (i32.const 0) (i32.const 1024) (i32.const 6) (i32.const 16) (i32.const 20)))
      (then
        (block $refused
          (loop $more
            (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
            (br $more)))
        unreachable))
    (drop (call $add (i32.const 0) (i32.const 1031) (i32.const 4) (i32.const 1036) (i32.const 1)))
    (i32.const 0))
  (data (i32.const 1024) "x-grow")
  (data (i32.const 1031) "x-ok")
  (data (i32.const 1036) "1")
)
