;; reconfig: shows which configuration a stream runs under and which
;; instance serves it. proxy_on_configure keeps buffer 7 (per root context,
;; by root id); each request gets x-config (its root's configuration, the
;; parent of its context) and x-count (requests this instance served, as one
;; digit: the instance's memory surviving a reload counts on). vm_start logs
;; "vm_start". A config starting with "!" is rejected (configure false). Assembled by `go generate` into the .wasm beside it.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $buf (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; 16..23 return slots; 1024.. strings; 2048.. the table of roots: 16
  ;; entries of (root id, config ptr, config len); 4096.. stream parents:
  ;; 256 entries of (stream id, root id); 32768.. a bump heap never reset.
  (global $heap (mut i32) (i32.const 32768))
  (global $count (mut i32) (i32.const 0))
  (global $roots (mut i32) (i32.const 0))
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
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 1024) (i32.const 8)))
    (i32.const 1))
  ;; a stream's parent root is kept in its slot (id mod 256)
  (func (export "proxy_on_context_create") (param $id i32) (param $parent i32)
    (local $slot i32)
    (local.set $slot (i32.add (i32.const 4096) (i32.shl (i32.and (local.get $id) (i32.const 255)) (i32.const 3))))
    (i32.store (local.get $slot) (local.get $id))
    (i32.store offset=4 (local.get $slot) (local.get $parent)))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (local $e i32)
    (local.set $e (i32.add (i32.const 2048) (i32.mul (i32.and (global.get $roots) (i32.const 15)) (i32.const 12))))
    (global.set $roots (i32.add (global.get $roots) (i32.const 1)))
    (i32.store (local.get $e) (local.get $root))
    (i32.store offset=4 (local.get $e) (i32.const 0))
    (i32.store offset=8 (local.get $e) (i32.const 0))
    (if (i32.eqz (call $buf (i32.const 7) (i32.const 0) (local.get $size) (i32.const 16) (i32.const 20)))
      (then
        (i32.store offset=4 (local.get $e) (i32.load (i32.const 16)))
        (i32.store offset=8 (local.get $e) (i32.load (i32.const 20)))))
    (if (i32.and (i32.gt_u (local.get $size) (i32.const 0))
                 (i32.eq (i32.load8_u (i32.load offset=4 (local.get $e))) (i32.const 33)))
      (then
        (i32.store (local.get $e) (i32.const 0)) ;; forget the entry
        (return (i32.const 0))))
    (i32.const 1))
  ;; $entry finds the table entry of a root id (0 if none)
  (func $entry (param $root i32) (result i32)
    (local $i i32)
    (local $e i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 16)))
        (local.set $e (i32.add (i32.const 2048) (i32.mul (local.get $i) (i32.const 12))))
        (if (i32.eq (i32.load (local.get $e)) (local.get $root))
          (then (return (local.get $e))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))
  (func (export "proxy_on_request_headers") (param $id i32) (param $n i32) (param $eos i32) (result i32)
    (local $e i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store8 (i32.const 1040) (i32.add (i32.const 48) (i32.rem_u (global.get $count) (i32.const 10))))
    (drop (call $add (i32.const 0) (i32.const 1033) (i32.const 7) (i32.const 1040) (i32.const 1)))
    (local.set $e (call $entry
      (i32.load offset=4 (i32.add (i32.const 4096) (i32.shl (i32.and (local.get $id) (i32.const 255)) (i32.const 3))))))
    (if (local.get $e)
      (then (drop (call $add (i32.const 0) (i32.const 1042) (i32.const 8)
        (i32.load offset=4 (local.get $e)) (i32.load offset=8 (local.get $e))))))
    (i32.const 0))
  (func (export "proxy_on_done") (param $id i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param $id i32))
  (data (i32.const 1024) "vm_start")
  (data (i32.const 1033) "x-count")
  (data (i32.const 1042) "x-config"))
