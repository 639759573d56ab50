;; stream.wat: the conformance suite's guest for streamed bodies, buffer edits,
;; held streams and local responses (test/conformance/stream_test.go).
;;
;; The plugin configuration is 6 mode bytes:
;;   [0] request body, [1] response body: what proxy_on_*_body returns
;;       'c' Continue on every chunk
;;       'b' StopIterationAndBuffer (1) until end of stream, then Continue
;;       'p' StopIterationAndBuffer (1) on every call: holds at end of stream
;;       'n' StopIterationNoBuffer (3) on the first call, Continue after
;;       'l' at end of stream: proxy_send_local_response(403, body "denied")
;;   [2] request headers: 'c' Continue, 'p' pause, 'q' pause the first request
;;       and let the next one resume it from its own callback, 'l' local response 401 with
;;       body "nope" and no headers, 'L' the same with content-type: app/x
;;   [3] the body edit made at end of stream (request and response): '-' none,
;;       'a' append "<A>" (start = length), 'g' append with start past the end,
;;       'p' prepend "<P>" (0, 0), 'r' replace with "<R>" (0, length),
;;       'x' the partial range (1, 1)
;;   [4] 't' ask for a 5ms tick, whose proxy_on_tick resumes every paused
;;       stream: proxy_set_effective_context(id) then proxy_continue_stream
;;   [5] unused
;; Every body call logs a binary record: "B", direction (0 request, 1
;; response), body_size (u32 LE), end_of_stream (u8); every edit logs "E",
;; its status (u32 LE).
;;
;; Memory: config at 0x100, paused context ids at 0x200 (16 slots), records at
;; 0x300, edit data at 0x400, heap (bump allocator) from 0x10000.
;;
;; Regenerate the .wasm: make plugins (or wat2wasm stream.wat -o stream.wasm).
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_send_local_response" (func $local (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $effective (param i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick_period (param i32) (result i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 0x10000))
  (data (i32.const 0x400) "<A><P><R>deniednope")
  ;; the serialized map {content-type: app/x}: 1 pair, lengths 12 and 5
  (data (i32.const 0x480) "\01\00\00\00\0c\00\00\00\05\00\00\00content-type\00app/x\00")

  (func (export "malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.get $p))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    ;; the config lands where the host allocates it; copy its 6 bytes to 0x100
    (if (i32.ne (call $get_buffer (i32.const 7) (i32.const 0) (i32.const 6) (i32.const 0x10) (i32.const 0x14)) (i32.const 0))
      (then (return (i32.const 0))))
    (memory.copy (i32.const 0x100) (i32.load (i32.const 0x10)) (i32.const 6))
    (if (i32.eq (i32.load8_u (i32.const 0x104)) (i32.const 0x74)) ;; 't'
      (then (drop (call $tick_period (i32.const 5)))))
    (i32.const 1))

  (func $mode (param $i i32) (result i32) (i32.load8_u (i32.add (i32.const 0x100) (local.get $i))))

  ;; remember a paused context id in the first free slot
  (func $park (param $id i32)
    (local $i i32)
    (loop $l
      (if (i32.eqz (i32.load (i32.add (i32.const 0x200) (i32.shl (local.get $i) (i32.const 2)))))
        (then (i32.store (i32.add (i32.const 0x200) (i32.shl (local.get $i) (i32.const 2))) (local.get $id)) (return)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 16)))))

  (func (export "proxy_on_tick") (param i32) (call $resume_all))

  ;; resume every parked stream from whatever context runs now
  (func $resume_all
    (local $i i32) (local $id i32)
    (loop $l
      (local.set $id (i32.load (i32.add (i32.const 0x200) (i32.shl (local.get $i) (i32.const 2)))))
      (if (local.get $id)
        (then
          (i32.store (i32.add (i32.const 0x200) (i32.shl (local.get $i) (i32.const 2))) (i32.const 0))
          (if (i32.eqz (call $effective (local.get $id)))
            (then (drop (call $continue (i32.const 0)))))
          (drop (call $effective (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 16)))))

  (func (export "proxy_on_request_headers") (param $id i32) (param i32 i32) (result i32)
    (local $m i32)
    (local.set $m (call $mode (i32.const 2)))
    (if (i32.eq (local.get $m) (i32.const 0x70)) ;; 'p'
      (then (call $park (local.get $id)) (return (i32.const 1))))
    (if (i32.eq (local.get $m) (i32.const 0x71)) ;; 'q': the first waits, the next resumes it
      (then
        (if (i32.load (i32.const 0x200))
          (then (call $resume_all) (return (i32.const 0))))
        (call $park (local.get $id))
        (i32.store8 (i32.const 0x300) (i32.const 0x50)) ;; log "P": parked
        (drop (call $log (i32.const 2) (i32.const 0x300) (i32.const 1)))
        (return (i32.const 1))))
    (if (i32.eq (local.get $m) (i32.const 0x6c)) ;; 'l'
      (then
        (drop (call $local (i32.const 401) (i32.const 0) (i32.const 0) (i32.const 0x40f) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const -1)))
        (return (i32.const 1))))
    (if (i32.eq (local.get $m) (i32.const 0x4c)) ;; 'L'
      (then
        (drop (call $local (i32.const 401) (i32.const 0) (i32.const 0) (i32.const 0x40f) (i32.const 4) (i32.const 0x480) (i32.const 31) (i32.const -1)))
        (return (i32.const 1))))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32) (i32.const 0))

  ;; log a body call: "B", dir, size u32, eos u8
  (func $record (param $dir i32) (param $size i32) (param $eos i32)
    (i32.store8 (i32.const 0x300) (i32.const 0x42))
    (i32.store8 (i32.const 0x301) (local.get $dir))
    (i32.store (i32.const 0x302) (local.get $size))
    (i32.store8 (i32.const 0x306) (local.get $eos))
    (drop (call $log (i32.const 2) (i32.const 0x300) (i32.const 7))))

  ;; make the configured edit of buffer $buf (length $size) and log "E" status
  (func $edit (param $buf i32) (param $size i32)
    (local $m i32) (local $st i32)
    (local.set $m (call $mode (i32.const 3)))
    (if (i32.eq (local.get $m) (i32.const 0x2d)) (then (return))) ;; '-'
    (local.set $st (i32.const 99))
    (if (i32.eq (local.get $m) (i32.const 0x61)) ;; 'a'
      (then (local.set $st (call $set_buffer (local.get $buf) (local.get $size) (i32.const 0) (i32.const 0x400) (i32.const 3)))))
    (if (i32.eq (local.get $m) (i32.const 0x67)) ;; 'g'
      (then (local.set $st (call $set_buffer (local.get $buf) (i32.add (local.get $size) (i32.const 100)) (i32.const 0) (i32.const 0x400) (i32.const 3)))))
    (if (i32.eq (local.get $m) (i32.const 0x70)) ;; 'p'
      (then (local.set $st (call $set_buffer (local.get $buf) (i32.const 0) (i32.const 0) (i32.const 0x403) (i32.const 3)))))
    (if (i32.eq (local.get $m) (i32.const 0x72)) ;; 'r'
      (then (local.set $st (call $set_buffer (local.get $buf) (i32.const 0) (local.get $size) (i32.const 0x406) (i32.const 3)))))
    (if (i32.eq (local.get $m) (i32.const 0x78)) ;; 'x'
      (then (local.set $st (call $set_buffer (local.get $buf) (i32.const 1) (i32.const 1) (i32.const 0x406) (i32.const 3)))))
    (i32.store8 (i32.const 0x300) (i32.const 0x45))
    (i32.store (i32.const 0x301) (local.get $st))
    (drop (call $log (i32.const 2) (i32.const 0x300) (i32.const 5))))

  (func $body (param $id i32) (param $dir i32) (param $size i32) (param $eos i32) (result i32)
    (local $m i32)
    (call $record (local.get $dir) (local.get $size) (local.get $eos))
    (local.set $m (call $mode (local.get $dir)))
    (if (local.get $eos) (then (call $edit (local.get $dir) (local.get $size))))
    (if (i32.eq (local.get $m) (i32.const 0x62)) ;; 'b'
      (then (return (i32.xor (local.get $eos) (i32.const 1)))))
    (if (i32.eq (local.get $m) (i32.const 0x70)) ;; 'p'
      (then
        (if (local.get $eos) (then (call $park (local.get $id))))
        (return (i32.const 1))))
    (if (i32.eq (local.get $m) (i32.const 0x6e)) ;; 'n': hold once
      (then
        (if (i32.eqz (i32.load8_u (i32.const 0x108)))
          (then
            (i32.store8 (i32.const 0x108) (i32.const 1))
            (call $park (local.get $id))
            (return (i32.const 3))))))
    (if (i32.and (local.get $eos) (i32.eq (local.get $m) (i32.const 0x6c))) ;; 'l'
      (then
        (drop (call $local (i32.const 403) (i32.const 0) (i32.const 0) (i32.const 0x409) (i32.const 6) (i32.const 0) (i32.const 0) (i32.const -1)))
        (return (i32.const 1))))
    (i32.const 0))
  (func (export "proxy_on_request_body") (param $id i32) (param $size i32) (param $eos i32) (result i32)
    (call $body (local.get $id) (i32.const 0) (local.get $size) (local.get $eos)))
  (func (export "proxy_on_response_body") (param $id i32) (param $size i32) (param $eos i32) (result i32)
    (call $body (local.get $id) (i32.const 1) (local.get $size) (local.get $eos)))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))
)
