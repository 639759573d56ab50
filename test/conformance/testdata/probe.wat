;; probe.wat: the conformance suite's guest (test/conformance). It runs a script
;; of host calls that the test hands it as the plugin configuration, and reports
;; every call's status and outputs byte for byte through proxy_log.
;;
;; Memory: RET0/RET1/RET2 return slots at 0x1000/0x1008/0x1010 (filled with 0xAA
;; before each call, so "not written" is visible); state at 0x1100; the call's
;; arguments at 0x1200; the report at 0x2000; the heap (a bump allocator, exported
;; as malloc) from 0x10000, so the configuration -- the script, the first thing
;; the host allocates -- lands at 0x10000 and the test knows every address in it.
;;
;; Script (all u32 little-endian): phase, ncmds, then ncmds commands of 14 words
;; (fn, out, 12 args), then data. Phases: 1 proxy_on_configure (reported at the
;; next request headers), 2 request headers, 3 request body, 4 response headers,
;; 5 response body. An argument 0xFFFF0001 is the current context id,
;; 0xFFFF0002 the root context id. fn indexes the imports below, in order.
;; out: 0 status only; 1 + u32 at RET0; 2 + u64 at RET0; 3 + the (RET0 ptr,
;; RET1 size) pair; 4 + u32 at RET0 then the (RET1, RET2) pair; 5 + u32 RET0,
;; u32 RET1. A pair reports u32 state (0: ptr 0, 1: untouched, 2: set), u32 size
;; slot, then the bytes when set. Report: "conformance:" then per command u32
;; status and its outputs.
;;
;; Regenerate the .wasm: make plugins (or wat2wasm probe.wat -o probe.wasm).
(module
  (import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32))) ;; fn 0
  (import "env" "proxy_get_log_level" (func $proxy_get_log_level (param i32) (result i32))) ;; fn 1
  (import "env" "proxy_get_current_time_nanoseconds" (func $proxy_get_current_time_nanoseconds (param i32) (result i32))) ;; fn 2
  (import "env" "proxy_get_header_map_pairs" (func $proxy_get_header_map_pairs (param i32 i32 i32) (result i32))) ;; fn 3
  (import "env" "proxy_set_header_map_pairs" (func $proxy_set_header_map_pairs (param i32 i32 i32) (result i32))) ;; fn 4
  (import "env" "proxy_get_header_map_value" (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32))) ;; fn 5
  (import "env" "proxy_add_header_map_value" (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32))) ;; fn 6
  (import "env" "proxy_replace_header_map_value" (func $proxy_replace_header_map_value (param i32 i32 i32 i32 i32) (result i32))) ;; fn 7
  (import "env" "proxy_remove_header_map_value" (func $proxy_remove_header_map_value (param i32 i32 i32) (result i32))) ;; fn 8
  (import "env" "proxy_get_header_map_size" (func $proxy_get_header_map_size (param i32 i32) (result i32))) ;; fn 9
  (import "env" "proxy_get_buffer_bytes" (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32))) ;; fn 10
  (import "env" "proxy_set_buffer_bytes" (func $proxy_set_buffer_bytes (param i32 i32 i32 i32 i32) (result i32))) ;; fn 11
  (import "env" "proxy_get_buffer_status" (func $proxy_get_buffer_status (param i32 i32 i32) (result i32))) ;; fn 12
  (import "env" "proxy_send_local_response" (func $proxy_send_local_response (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32))) ;; fn 13
  (import "env" "proxy_continue_stream" (func $proxy_continue_stream (param i32) (result i32))) ;; fn 14
  (import "env" "proxy_close_stream" (func $proxy_close_stream (param i32) (result i32))) ;; fn 15
  (import "env" "proxy_continue_request" (func $proxy_continue_request (result i32))) ;; fn 16
  (import "env" "proxy_continue_response" (func $proxy_continue_response (result i32))) ;; fn 17
  (import "env" "proxy_clear_route_cache" (func $proxy_clear_route_cache (result i32))) ;; fn 18
  (import "env" "proxy_done" (func $proxy_done (result i32))) ;; fn 19
  (import "env" "proxy_set_effective_context" (func $proxy_set_effective_context (param i32) (result i32))) ;; fn 20
  (import "env" "proxy_get_property" (func $proxy_get_property (param i32 i32 i32 i32) (result i32))) ;; fn 21
  (import "env" "proxy_set_property" (func $proxy_set_property (param i32 i32 i32 i32) (result i32))) ;; fn 22
  (import "env" "proxy_get_status" (func $proxy_get_status (param i32 i32 i32) (result i32))) ;; fn 23
  (import "env" "proxy_set_tick_period_milliseconds" (func $proxy_set_tick_period_milliseconds (param i32) (result i32))) ;; fn 24
  (import "env" "proxy_http_call" (func $proxy_http_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32))) ;; fn 25
  (import "env" "proxy_grpc_call" (func $proxy_grpc_call (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32))) ;; fn 26
  (import "env" "proxy_grpc_stream" (func $proxy_grpc_stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32))) ;; fn 27
  (import "env" "proxy_grpc_send" (func $proxy_grpc_send (param i32 i32 i32 i32) (result i32))) ;; fn 28
  (import "env" "proxy_grpc_cancel" (func $proxy_grpc_cancel (param i32) (result i32))) ;; fn 29
  (import "env" "proxy_grpc_close" (func $proxy_grpc_close (param i32) (result i32))) ;; fn 30
  (import "env" "proxy_get_shared_data" (func $proxy_get_shared_data (param i32 i32 i32 i32 i32) (result i32))) ;; fn 31
  (import "env" "proxy_set_shared_data" (func $proxy_set_shared_data (param i32 i32 i32 i32 i32) (result i32))) ;; fn 32
  (import "env" "proxy_register_shared_queue" (func $proxy_register_shared_queue (param i32 i32 i32) (result i32))) ;; fn 33
  (import "env" "proxy_resolve_shared_queue" (func $proxy_resolve_shared_queue (param i32 i32 i32 i32 i32) (result i32))) ;; fn 34
  (import "env" "proxy_enqueue_shared_queue" (func $proxy_enqueue_shared_queue (param i32 i32 i32) (result i32))) ;; fn 35
  (import "env" "proxy_dequeue_shared_queue" (func $proxy_dequeue_shared_queue (param i32 i32 i32) (result i32))) ;; fn 36
  (import "env" "proxy_define_metric" (func $proxy_define_metric (param i32 i32 i32 i32) (result i32))) ;; fn 37
  (import "env" "proxy_increment_metric" (func $proxy_increment_metric (param i32 i64) (result i32))) ;; fn 38
  (import "env" "proxy_record_metric" (func $proxy_record_metric (param i32 i64) (result i32))) ;; fn 39
  (import "env" "proxy_get_metric" (func $proxy_get_metric (param i32 i32) (result i32))) ;; fn 40
  (import "env" "proxy_call_foreign_function" (func $proxy_call_foreign_function (param i32 i32 i32 i32 i32 i32) (result i32))) ;; fn 41

  (memory (export "memory") 16)
  (global $heap (mut i32) (i32.const 0x10000))

  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 0x10000)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 0x10000))) (i32.const 16)) (i32.const 1))) (i32.const -1))
        (then (return (i32.const 0))))))
    (global.set $heap (local.get $end))
    (local.get $p))

  (func (export "proxy_abi_version_0_2_1"))

  (func (export "proxy_on_context_create") (param $id i32) (param $root i32)
    (if (i32.eqz (local.get $root))
      (then (i32.store (i32.const 0x1104) (local.get $id)))
      (else (i32.store (i32.const 0x1100) (local.get $id)))))

  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))

  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (i32.store (i32.const 0x1100) (local.get $root))
    (if (i32.ne (call $proxy_get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size) (i32.const 0x1000) (i32.const 0x1008)) (i32.const 0))
      (then (return (i32.const 0))))
    (if (i32.ne (i32.load (i32.const 0x1000)) (i32.const 0x10000))
      (then (return (i32.const 0))))
    (if (i32.eq (i32.load (i32.const 0x10000)) (i32.const 1))
      (then (call $run)))
    (i32.const 1))

  (func $phase (param $id i32) (param $phase i32) (result i32)
    (i32.store (i32.const 0x1100) (local.get $id))
    (if (i32.eq (i32.load (i32.const 0x10000)) (local.get $phase))
      (then (call $run) (call $report)))
    (i32.load (i32.const 0x110c)))

  (func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
    (i32.store (i32.const 0x1100) (local.get $id))
    (if (i32.eq (i32.load (i32.const 0x10000)) (i32.const 1))
      (then (call $report)))
    (call $phase (local.get $id) (i32.const 2)))
  (func (export "proxy_on_request_body") (param $id i32) (param i32 i32) (result i32)
    (call $phase (local.get $id) (i32.const 3)))
  (func (export "proxy_on_response_headers") (param $id i32) (param i32 i32) (result i32)
    (call $phase (local.get $id) (i32.const 4)))
  (func (export "proxy_on_response_body") (param $id i32) (param i32 i32) (result i32)
    (call $phase (local.get $id) (i32.const 5)))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))

  ;; report logs "conformance:" and the results at info.
  (func $report
    (drop (call $proxy_log (i32.const 2) (i32.const 0x1ff4) (i32.add (i32.const 12) (i32.load (i32.const 0x1108))))))
  (data (i32.const 0x1ff4) "conformance:")

  ;; put appends a u32 to the results.
  (func $put (param $v i32)
    (i32.store (i32.add (i32.const 0x2000) (i32.load (i32.const 0x1108))) (local.get $v))
    (i32.store (i32.const 0x1108) (i32.add (i32.load (i32.const 0x1108)) (i32.const 4))))

  ;; putPair appends the state, size slot and bytes of a (ptr, size) pair.
  (func $putPair (param $pslot i32) (param $sslot i32)
    (local $ptr i32) (local $size i32)
    (local.set $ptr (i32.load (local.get $pslot)))
    (local.set $size (i32.load (local.get $sslot)))
    (if (i32.eqz (local.get $ptr))
      (then (call $put (i32.const 0)) (call $put (local.get $size)) (return)))
    (if (i32.eq (local.get $ptr) (i32.const 0xaaaaaaaa))
      (then (call $put (i32.const 1)) (call $put (local.get $size)) (return)))
    (call $put (i32.const 2))
    (call $put (local.get $size))
    (memory.copy (i32.add (i32.const 0x2000) (i32.load (i32.const 0x1108))) (local.get $ptr) (local.get $size))
    (i32.store (i32.const 0x1108) (i32.add (i32.load (i32.const 0x1108)) (local.get $size))))

  (func $run
    (local $n i32) (local $cmd i32) (local $i i32) (local $a i32) (local $st i32) (local $out i32)
    (i32.store (i32.const 0x1108) (i32.const 0))
    (local.set $n (i32.load (i32.const 0x10004)))
    (local.set $cmd (i32.const 0x10008))
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $n)))
      ;; the arguments, with the context ids substituted
      (local.set $i (i32.const 0))
      (loop $arg
        (local.set $a (i32.load (i32.add (local.get $cmd) (i32.add (i32.const 8) (i32.shl (local.get $i) (i32.const 2))))))
        (if (i32.eq (local.get $a) (i32.const 0xffff0001)) (then (local.set $a (i32.load (i32.const 0x1100)))))
        (if (i32.eq (local.get $a) (i32.const 0xffff0002)) (then (local.set $a (i32.load (i32.const 0x1104)))))
        (i32.store (i32.add (i32.const 0x1200) (i32.shl (local.get $i) (i32.const 2))) (local.get $a))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $arg (i32.lt_u (local.get $i) (i32.const 12))))
      (memory.fill (i32.const 0x1000) (i32.const 0xaa) (i32.const 24))
      (local.set $st (call $dispatch (i32.load (local.get $cmd))))
      (if (i32.and (i32.eq (i32.load (local.get $cmd)) (i32.const 13)) (i32.eqz (local.get $st)))
        (then (i32.store (i32.const 0x110c) (i32.const 1))))
      (call $put (local.get $st))
      (local.set $out (i32.load offset=4 (local.get $cmd)))
      (if (i32.eq (local.get $out) (i32.const 1)) (then (call $put (i32.load (i32.const 0x1000)))))
      (if (i32.eq (local.get $out) (i32.const 2)) (then (call $put (i32.load (i32.const 0x1000))) (call $put (i32.load (i32.const 0x1004)))))
      (if (i32.eq (local.get $out) (i32.const 3)) (then (call $putPair (i32.const 0x1000) (i32.const 0x1008))))
      (if (i32.eq (local.get $out) (i32.const 4)) (then (call $put (i32.load (i32.const 0x1000))) (call $putPair (i32.const 0x1008) (i32.const 0x1010))))
      (if (i32.eq (local.get $out) (i32.const 5)) (then (call $put (i32.load (i32.const 0x1000))) (call $put (i32.load (i32.const 0x1008)))))
      (local.set $cmd (i32.add (local.get $cmd) (i32.const 56)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $next))))

  ;; dispatch calls import fn with the arguments at 0x1200.
  (func $dispatch (param $fn i32) (result i32)
    (block $default
    (block $c41
    (block $c40
    (block $c39
    (block $c38
    (block $c37
    (block $c36
    (block $c35
    (block $c34
    (block $c33
    (block $c32
    (block $c31
    (block $c30
    (block $c29
    (block $c28
    (block $c27
    (block $c26
    (block $c25
    (block $c24
    (block $c23
    (block $c22
    (block $c21
    (block $c20
    (block $c19
    (block $c18
    (block $c17
    (block $c16
    (block $c15
    (block $c14
    (block $c13
    (block $c12
    (block $c11
    (block $c10
    (block $c9
    (block $c8
    (block $c7
    (block $c6
    (block $c5
    (block $c4
    (block $c3
    (block $c2
    (block $c1
    (block $c0
      (br_table $c0 $c1 $c2 $c3 $c4 $c5 $c6 $c7 $c8 $c9 $c10 $c11 $c12 $c13 $c14 $c15 $c16 $c17 $c18 $c19 $c20 $c21 $c22 $c23 $c24 $c25 $c26 $c27 $c28 $c29 $c30 $c31 $c32 $c33 $c34 $c35 $c36 $c37 $c38 $c39 $c40 $c41 $default (local.get $fn)))
    (return (call $proxy_log (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_get_log_level (i32.load (i32.const 4608)))))
    (return (call $proxy_get_current_time_nanoseconds (i32.load (i32.const 4608)))))
    (return (call $proxy_get_header_map_pairs (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_set_header_map_pairs (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_get_header_map_value (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_add_header_map_value (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_replace_header_map_value (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_remove_header_map_value (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_get_header_map_size (i32.load (i32.const 4608)) (i32.load (i32.const 4612)))))
    (return (call $proxy_get_buffer_bytes (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_set_buffer_bytes (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_get_buffer_status (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_send_local_response (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)) (i32.load (i32.const 4628)) (i32.load (i32.const 4632)) (i32.load (i32.const 4636)))))
    (return (call $proxy_continue_stream (i32.load (i32.const 4608)))))
    (return (call $proxy_close_stream (i32.load (i32.const 4608)))))
    (return (call $proxy_continue_request )))
    (return (call $proxy_continue_response )))
    (return (call $proxy_clear_route_cache )))
    (return (call $proxy_done )))
    (return (call $proxy_set_effective_context (i32.load (i32.const 4608)))))
    (return (call $proxy_get_property (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)))))
    (return (call $proxy_set_property (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)))))
    (return (call $proxy_get_status (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_set_tick_period_milliseconds (i32.load (i32.const 4608)))))
    (return (call $proxy_http_call (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)) (i32.load (i32.const 4628)) (i32.load (i32.const 4632)) (i32.load (i32.const 4636)) (i32.load (i32.const 4640)) (i32.load (i32.const 4644)))))
    (return (call $proxy_grpc_call (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)) (i32.load (i32.const 4628)) (i32.load (i32.const 4632)) (i32.load (i32.const 4636)) (i32.load (i32.const 4640)) (i32.load (i32.const 4644)) (i32.load (i32.const 4648)) (i32.load (i32.const 4652)))))
    (return (call $proxy_grpc_stream (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)) (i32.load (i32.const 4628)) (i32.load (i32.const 4632)) (i32.load (i32.const 4636)) (i32.load (i32.const 4640)))))
    (return (call $proxy_grpc_send (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)))))
    (return (call $proxy_grpc_cancel (i32.load (i32.const 4608)))))
    (return (call $proxy_grpc_close (i32.load (i32.const 4608)))))
    (return (call $proxy_get_shared_data (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_set_shared_data (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_register_shared_queue (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_resolve_shared_queue (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)))))
    (return (call $proxy_enqueue_shared_queue (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_dequeue_shared_queue (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)))))
    (return (call $proxy_define_metric (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)))))
    (return (call $proxy_increment_metric (i32.load (i32.const 4608)) (i64.or (i64.extend_i32_u (i32.load (i32.const 4612))) (i64.shl (i64.extend_i32_u (i32.load (i32.const 4616))) (i64.const 32))))))
    (return (call $proxy_record_metric (i32.load (i32.const 4608)) (i64.or (i64.extend_i32_u (i32.load (i32.const 4612))) (i64.shl (i64.extend_i32_u (i32.load (i32.const 4616))) (i64.const 32))))))
    (return (call $proxy_get_metric (i32.load (i32.const 4608)) (i32.load (i32.const 4612)))))
    (return (call $proxy_call_foreign_function (i32.load (i32.const 4608)) (i32.load (i32.const 4612)) (i32.load (i32.const 4616)) (i32.load (i32.const 4620)) (i32.load (i32.const 4624)) (i32.load (i32.const 4628)))))
    (i32.const -1))
)
