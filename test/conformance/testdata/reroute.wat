;; reroute.wat: a Proxy-Wasm probe for route re-selection (conformance tests).
;; Its plugin configuration is one operation:
;;   "r<name>=<value>"  replace request header <name> (":authority", ":path",
;;                      ":method" or any other) with <value>
;;   "c"                call proxy_clear_route_cache and change nothing
;;   "n"                do nothing (the baseline)
;; In proxy_on_log it logs the route_name property at info, so a test sees
;; which route the host reports as used.
;;
;; Assemble: wat2wasm reroute.wat -o reroute.wasm
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $replace_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_clear_route_cache" (func $clear_route_cache (result i32)))
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "route_name")   ;; 10 bytes: the property path (one segment)
  ;; Return slots at 64 (pointer) and 72 (size).
  (global $cfg (mut i32) (i32.const 0))
  (global $cfg_len (mut i32) (i32.const 0))

  (func (export "proxy_abi_version_0_2_1"))

  (global $heap (mut i32) (i32.const 1024))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
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

  (func (export "proxy_on_context_create") (param $id i32) (param $parent i32))
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32) (i32.const 1))

  ;; Keep the plugin configuration (buffer type 7) for the requests.
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (if (i32.eqz (local.get $size)) (then (return (i32.const 0))))
    (if (call $get_buffer (i32.const 7) (i32.const 0) (local.get $size) (i32.const 64) (i32.const 72))
      (then (return (i32.const 0))))
    (global.set $cfg (i32.load (i32.const 64)))
    (global.set $cfg_len (i32.load (i32.const 72)))
    (i32.const 1))

  (func (export "proxy_on_request_headers")
        (param $id i32) (param $num_headers i32) (param $end_of_stream i32) (result i32)
    (local $op i32) (local $i i32) (local $end i32)
    (local.set $op (i32.load8_u (global.get $cfg)))
    (if (i32.eq (local.get $op) (i32.const 99)) ;; 'c'
      (then (drop (call $clear_route_cache)) (return (i32.const 0))))
    (if (i32.ne (local.get $op) (i32.const 114)) ;; not 'r'
      (then (return (i32.const 0))))
    ;; Find the '=' after the name (a name may start with ':'; it holds no '=').
    (local.set $end (i32.add (global.get $cfg) (global.get $cfg_len)))
    (local.set $i (i32.add (global.get $cfg) (i32.const 1)))
    (block $found
      (loop $scan
        (br_if $found (i32.ge_u (local.get $i) (local.get $end)))
        (br_if $found (i32.eq (i32.load8_u (local.get $i)) (i32.const 61))) ;; '='
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (drop (call $replace_header (i32.const 0)
      (i32.add (global.get $cfg) (i32.const 1))
      (i32.sub (local.get $i) (i32.add (global.get $cfg) (i32.const 1)))
      (i32.add (local.get $i) (i32.const 1))
      (i32.sub (local.get $end) (i32.add (local.get $i) (i32.const 1)))))
    (i32.const 0))

  (func (export "proxy_on_done") (param $id i32) (result i32) (i32.const 1))

  ;; Log the route the host reports as used.
  (func (export "proxy_on_log") (param $id i32)
    (if (i32.eqz (call $get_property (i32.const 16) (i32.const 10) (i32.const 64) (i32.const 72)))
      (then (drop (call $log (i32.const 2) (i32.load (i32.const 64)) (i32.load (i32.const 72)))))))
  (func (export "proxy_on_delete") (param $id i32))
)
