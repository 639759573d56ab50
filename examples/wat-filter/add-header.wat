;; add-header.wat: the smallest useful Proxy-Wasm filter, in WebAssembly text.
;; It adds "x-wat-filter: hello" to every request. No SDK, no runtime, no WASI:
;; a few hundred bytes that load in wasmgate and in Envoy alike.
;;
;; Assemble:  wat2wasm add-header.wat -o add-header.wasm   (Debian: apt-get install wabt)
(module
  ;; Host functions come from module "env" (Proxy-Wasm 0.2.1). Every one returns a status.
  (import "env" "proxy_add_header_map_value"
    (func $add_header (param $map i32) (param $key i32) (param $key_len i32)
                      (param $value i32) (param $value_len i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "x-wat-filter")  ;; 12 bytes at 16
  (data (i32.const 32) "hello")         ;; 5 bytes at 32

  ;; The ABI marker: never called, it tells the host which ABI the module speaks.
  (func (export "proxy_abi_version_0_2_1"))

  ;; The host gives the guest data by calling its allocator. This filter never
  ;; reads anything back, so a bump allocator above the static data will do.
  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    ;; Grow memory by the pages the bump pointer passed; 0 tells the host we failed.
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.div_u
                  (i32.add (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
                           (i32.const 65535))
                  (i32.const 65536)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (local.get $ptr))

  ;; Lifecycle: contexts are created and configured; we keep no state.
  (func (export "proxy_on_context_create") (param $id i32) (param $parent i32))
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32) (i32.const 1))

  ;; Request headers: add the header to map 0 (request headers), then continue (0).
  (func (export "proxy_on_request_headers")
        (param $id i32) (param $num_headers i32) (param $end_of_stream i32) (result i32)
    (drop (call $add_header (i32.const 0)
                            (i32.const 16) (i32.const 12)
                            (i32.const 32) (i32.const 5)))
    (i32.const 0))

  (func (export "proxy_on_done") (param $id i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param $id i32))
  (func (export "proxy_on_delete") (param $id i32))
)
