;; callout: dispatches GET /token to the upstream "backend" on every request
;; and pauses; the response (delivered to the root context) becomes request
;; headers x-token (the body) and x-callout-header (its x-upstream header),
;; then the stream resumes. A failed callout (0 headers) is left unanswered,
;; so the plugin's failure policy applies. The plugin config is the callout
;; timeout in milliseconds, a little-endian u32 (default 1000).
(module
  (import "env" "proxy_http_call" (func $http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buf (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add_hdr (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $set_ctx (param i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
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
  (global $timeout (mut i32) (i32.const 1000))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (if (i32.ge_u (local.get $size) (i32.const 4))
      (then
        (drop (call $get_buf (i32.const 7) (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 20)))
        (global.set $timeout (i32.load (i32.load (i32.const 16))))))
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
    (if (i32.ne (call $http_call (i32.const 1024) (i32.const 7) (i32.const 1100) (i32.const 72)
                  (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (global.get $timeout) (i32.const 24))
                (i32.const 0))
      (then
        (drop (call $local (i32.const 502) (i32.const 0) (i32.const 0) (i32.const 1040) (i32.const 15) (i32.const 0) (i32.const 0) (i32.const -1)))
        (return (i32.const 1))))
    ;; remember which stream dispatched the callout: table at 4096, by id
    (i32.store (i32.add (i32.const 4096) (i32.shl (i32.and (i32.load (i32.const 24)) (i32.const 255)) (i32.const 2))) (local.get $id))
    (i32.const 1))
  (func (export "proxy_on_http_call_response") (param $root i32) (param $id i32) (param $nh i32) (param $nb i32) (param $nt i32)
    (if (i32.eqz (local.get $nh)) (then (return)))
    (drop (call $get_buf (i32.const 4) (i32.const 0) (local.get $nb) (i32.const 16) (i32.const 20)))
    (drop (call $set_ctx (i32.load (i32.add (i32.const 4096) (i32.shl (i32.and (local.get $id) (i32.const 255)) (i32.const 2))))))
    (drop (call $add_hdr (i32.const 0) (i32.const 1060) (i32.const 7) (i32.load (i32.const 16)) (i32.load (i32.const 20))))
    (if (i32.eqz (call $get_hdr (i32.const 6) (i32.const 1070) (i32.const 10) (i32.const 16) (i32.const 20)))
      (then (drop (call $add_hdr (i32.const 0) (i32.const 1084) (i32.const 16) (i32.load (i32.const 16)) (i32.load (i32.const 20))))))
    (drop (call $continue (i32.const 0))))
  (data (i32.const 1024) "backend")
  (data (i32.const 1040) "dispatch failed")
  (data (i32.const 1060) "x-token")
  (data (i32.const 1070) "x-upstream")
  (data (i32.const 1084) "x-callout-header")
  (data (i32.const 1100) "\03\00\00\00\07\00\00\00\03\00\00\00\05\00\00\00\06\00\00\00\0a\00\00\00\07\00\00\00\3a\6d\65\74\68\6f\64\00\47\45\54\00\3a\70\61\74\68\00\2f\74\6f\6b\65\6e\00\3a\61\75\74\68\6f\72\69\74\79\00\62\61\63\6b\65\6e\64\00")
)
