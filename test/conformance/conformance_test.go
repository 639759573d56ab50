// Package conformance drives every Proxy-Wasm host function that filters/wasm
// implements through one purpose-built guest, testdata/probe.wat, and checks
// what the host returns byte for byte: statuses, serialized header maps,
// buffer slices, property encodings, log levels, time.
//
// Each case is a script of host calls (function, arguments, what to report) that
// the test hands the guest as its plugin configuration; the guest runs it in the
// callback the case names and logs every call's status and outputs as one
// binary record, which the case compares with the bytes the spec prescribes.
// Each case names the spec rule it checks (Proxy-Wasm ABI 0.2.1,
// github.com/proxy-wasm/spec abi-versions/v0.2.1/README.md) or, where the spec
// is silent, the reference host's behaviour (proxy-wasm-cpp-host src/exports.cc)
// or ours.
package conformance

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm"
)

// Statuses (spec "Status codes").
const (
	OK                    = 0
	NOT_FOUND             = 1
	BAD_ARGUMENT          = 2
	INVALID_MEMORY        = 6
	UNIMPLEMENTED         = 12
	untouched      uint32 = 0xaaaaaaaa // a return slot the host did not write
)

// The host functions, in the order of probe.wat's imports.
const (
	fLog = iota
	fGetLogLevel
	fGetCurrentTime
	fGetMapPairs
	fSetMapPairs
	fGetMapValue
	fAddMapValue
	fReplaceMapValue
	fRemoveMapValue
	fGetMapSize
	fGetBufferBytes
	fSetBufferBytes
	fGetBufferStatus
	fSendLocalResponse
	fContinueStream
	fCloseStream
	fContinueRequest
	fContinueResponse
	fClearRouteCache
	fDone
	fSetEffectiveContext
	fGetProperty
	fSetProperty
	fGetStatus
	fSetTickPeriod
	fHTTPCall
	fGrpcCall
	fGrpcStream
	fGrpcSend
	fGrpcCancel
	fGrpcClose
	fGetSharedData
	fSetSharedData
	fRegisterQueue
	fResolveQueue
	fEnqueue
	fDequeue
	fDefineMetric
	fIncrementMetric
	fRecordMetric
	fGetMetric
	fCallForeign
)

// Phases: the callback the script runs in.
const (
	onConfigure = 1 + iota
	onRequestHeaders
	onRequestBody
	onResponseHeaders
	onResponseBody
)

// What the guest reports after the status.
const (
	outNone    = iota
	outU32     // the u32 at ret0
	outU64     // the u64 at ret0
	outPair    // the (ptr at ret0, size at ret1) pair
	outU32Pair // the u32 at ret0, then the (ret1, ret2) pair
	outU32U32  // the u32s at ret0 and ret1
)

// Guest addresses (probe.wat).
const (
	ret0      = 0x1000
	ret1      = 0x1008
	ret2      = 0x1010
	scriptAt  = 0x10000
	dataAt    = scriptAt + 0x1000 // script data: room for 73 calls before it
	curCtx    = 0xffff0001        // replaced by the current context id
	rootCtx   = 0xffff0002        // replaced by the root context id
	badPtr    = 0xfffff000        // outside guest memory
	maxUint32 = 0xffffffff
)

// data is bytes placed in the script's data area: as an argument it expands to
// (pointer, length).
type data []byte

type step struct {
	fn, out int
	args    []any // uint32/int literals, data
	want    exp
}

// exp is the expected report of one call.
type exp []byte

func st(status uint32) exp             { return exp(le(nil, status)) }
func (e exp) u32(v uint32) exp         { return le(e, v) }
func (e exp) u64(v uint64) exp         { return binary.LittleEndian.AppendUint64(e, v) }
func (e exp) pair(b []byte) exp        { return append(le(le(e, 2), uint32(len(b))), b...) }
func (e exp) nullPair(size uint32) exp { return le(le(e, 0), size) }
func (e exp) untouchedPair() exp       { return le(le(e, 1), untouched) }
func le(b []byte, v uint32) []byte     { return binary.LittleEndian.AppendUint32(b, v) }

// hmap serializes a header map as the spec does ("Serialized header map"):
// u32 count, u32 key and value lengths per pair, then key and value each
// followed by NUL, little-endian.
func hmap(kv ...string) []byte {
	b := le(nil, uint32(len(kv)/2))
	for _, s := range kv {
		b = le(b, uint32(len(s)))
	}
	for _, s := range kv {
		b = append(append(b, s...), 0)
	}
	return b
}

// script encodes the steps as probe.wat reads them.
func script(phase int, steps []step) []byte {
	var d []byte
	arg := func(a any) []uint32 {
		switch v := a.(type) {
		case int:
			return []uint32{uint32(v)}
		case uint32:
			return []uint32{v}
		case data:
			at := uint32(dataAt + len(d))
			d = append(d, v...)
			for len(d)%8 != 0 {
				d = append(d, 0)
			}
			return []uint32{at, uint32(len(v))}
		}
		panic(fmt.Sprintf("argument %T", a))
	}
	s := le(le(nil, uint32(phase)), uint32(len(steps)))
	for _, c := range steps {
		var words []uint32
		for _, a := range c.args {
			words = append(words, arg(a)...)
		}
		if len(words) > 12 {
			panic("more than 12 arguments")
		}
		s = le(le(s, uint32(c.fn)), uint32(c.out))
		for i := range 12 {
			v := uint32(0)
			if i < len(words) {
				v = words[i]
			}
			s = le(s, v)
		}
	}
	if len(s) > dataAt-scriptAt {
		panic("too many steps")
	}
	s = append(s, make([]byte, dataAt-scriptAt-len(s))...)
	return append(s, d...)
}

type hostCase struct {
	name  string
	rule  string // the rule checked, and where it comes from
	phase int
	steps []step
	opts  func(*wasm.Options)
	run   func(*wasm.Run)
	check func(t *testing.T, out *wasm.Outcome) // checks on the exchange itself
}

var probe = func() []byte {
	b, err := os.ReadFile("testdata/probe.wasm")
	if err != nil {
		panic(err)
	}
	return b
}()

func request() *http.Request {
	r := httptest.NewRequest("GET", "http://api.test/p/1?q=a", nil)
	r.Header.Add("X-A", "1")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	return r
}

// The request's header map as the host serializes it: pseudo-headers first
// (Envoy's order), then the others, lowercase, sorted by name.
var requestMap = hmap(":authority", "api.test", ":path", "/p/1?q=a", ":method", "GET", ":scheme", "http",
	"x-a", "1", "x-multi", "a", "x-multi", "b")

func runCase(t *testing.T, c hostCase) {
	t.Helper()
	opts := wasm.Options{
		Name: "probe", RootID: "probe-root", Config: script(c.phase, c.steps), CacheDir: "off",
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	switch c.phase {
	case onRequestBody:
		opts.RequestBody = true
	case onResponseBody:
		opts.ResponseBody = true
	}
	if c.opts != nil {
		c.opts(&opts)
	}
	p, err := wasm.LoadBytes(context.Background(), probe, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	run := wasm.Run{Request: request(), Body: []byte("hello world"),
		Response: &filter.Response{Status: 200, Header: http.Header{}, Body: []byte("response body")}}
	if c.run != nil {
		c.run(&run)
	}
	out, err := p.Exchange(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	if out.Failed != nil {
		t.Fatalf("the probe failed: %v; logs %v", out.Failed, out.Logs)
	}
	var report []byte
	found := false
	for _, l := range out.Logs {
		if r, ok := strings.CutPrefix(l.Message, "conformance:"); ok {
			report, found = []byte(r), true
		}
	}
	if !found {
		t.Fatalf("no report; logs %v", out.Logs)
	}
	var want []byte
	for _, s := range c.steps {
		want = append(want, s.want...)
	}
	if !bytes.Equal(report, want) {
		t.Errorf("rule: %s\nreport:\n%s\nwant:\n%s", c.rule, hex.Dump(report), hex.Dump(want))
		// Name the first call that differs.
		off := 0
		for i, s := range c.steps {
			end := off + len(s.want)
			if end > len(report) || !bytes.Equal(report[off:end], s.want) {
				t.Errorf("call %d (fn %d) differs first", i, s.fn)
				break
			}
			off = end
		}
	}
	if c.check != nil {
		c.check(t, out)
	}
}

func TestHostFunctions(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

func cases() []hostCase {
	return []hostCase{
		// ---- logging ----
		{
			name: "log/levels", phase: onRequestHeaders,
			rule: "proxy_log(level, ptr, size): levels trace 0 … critical 5 are accepted, the message is taken byte for byte; level 6 is BAD_ARGUMENT (reference host: level > LogLevel::Max)",
			steps: []step{
				{fn: fLog, args: []any{0, data("t\x00race")}, want: st(OK)},
				{fn: fLog, args: []any{1, data("debug")}, want: st(OK)},
				{fn: fLog, args: []any{2, data("info")}, want: st(OK)},
				{fn: fLog, args: []any{3, data("warn")}, want: st(OK)},
				{fn: fLog, args: []any{4, data("error")}, want: st(OK)},
				{fn: fLog, args: []any{5, data("critical")}, want: st(OK)},
				{fn: fLog, args: []any{6, data("bad")}, want: st(BAD_ARGUMENT)},
				{fn: fLog, args: []any{2, 0, 0}, want: st(OK)},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				var got []string
				for _, l := range out.Logs {
					if !strings.HasPrefix(l.Message, "conformance:") {
						got = append(got, l.Level+"="+l.Message)
					}
				}
				want := []string{"trace=t\x00race", "debug=debug", "info=info", "warn=warn", "error=error", "critical=critical", "info="}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("logs %q, want %q", got, want)
				}
			},
		},
		{
			name: "log/bad-pointer", phase: onRequestHeaders,
			rule:  "every host function checks guest pointers: a message outside memory is INVALID_MEMORY_ACCESS, never a trap",
			steps: []step{{fn: fLog, args: []any{2, badPtr, 16}, want: st(INVALID_MEMORY)}},
		},
		{
			name: "log/level-info", phase: onRequestHeaders,
			rule:  "proxy_get_log_level writes the host's level as a u32: the gateway logger at info is 2",
			steps: []step{{fn: fGetLogLevel, out: outU32, args: []any{ret0}, want: st(OK).u32(2)}},
		},
		{
			name: "log/level-warn", phase: onRequestHeaders,
			rule: "proxy_get_log_level follows the logger: warn is 3",
			opts: func(o *wasm.Options) {
				o.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
			},
			steps: []step{{fn: fGetLogLevel, out: outU32, args: []any{ret0}, want: st(OK).u32(3)}},
		},
		{
			name: "log/level-bad-pointer", phase: onRequestHeaders,
			rule:  "proxy_get_log_level with a return pointer outside memory is INVALID_MEMORY_ACCESS",
			steps: []step{{fn: fGetLogLevel, args: []any{badPtr}, want: st(INVALID_MEMORY)}},
		},
		{
			name: "time/bad-pointer", phase: onRequestHeaders,
			rule:  "proxy_get_current_time_nanoseconds with a return pointer outside memory is INVALID_MEMORY_ACCESS",
			steps: []step{{fn: fGetCurrentTime, args: []any{badPtr}, want: st(INVALID_MEMORY)}},
		},

		// ---- header maps ----
		{
			name: "headers/pairs-request", phase: onRequestHeaders,
			rule: "proxy_get_header_map_pairs returns the serialized map (u32 count; u32 key, value lengths; NUL-terminated keys and values), request pseudo-headers included, names lowercase, one pair per value",
			steps: []step{{fn: fGetMapPairs, out: outPair, args: []any{0, ret0, ret1},
				want: st(OK).pair(requestMap)}},
		},
		{
			name: "headers/pairs-response-literal", phase: onResponseHeaders,
			rule: "the serialized map byte for byte, written out: {\":status\": \"200\"} is 01000000 07000000 03000000 \":status\\0\" \"200\\0\"",
			steps: []step{{fn: fGetMapPairs, out: outPair, args: []any{2, ret0, ret1},
				want: st(OK).pair([]byte("\x01\x00\x00\x00\x07\x00\x00\x00\x03\x00\x00\x00:status\x00200\x00"))}},
		},
		{
			name: "headers/size", phase: onRequestHeaders,
			rule:  "proxy_get_header_map_size is the size in bytes of the serialized map",
			steps: []step{{fn: fGetMapSize, out: outU32, args: []any{0, ret0}, want: st(OK).u32(uint32(len(requestMap)))}},
		},
		{
			name: "headers/value", phase: onRequestHeaders,
			rule: "proxy_get_header_map_value: names match case-insensitively; pseudo-headers are readable; several values are joined with ','; a missing name is NOT_FOUND and leaves the return slots alone",
			steps: []step{
				{fn: fGetMapValue, out: outPair, args: []any{0, data("x-a"), ret0, ret1}, want: st(OK).pair([]byte("1"))},
				{fn: fGetMapValue, out: outPair, args: []any{0, data("X-A"), ret0, ret1}, want: st(OK).pair([]byte("1"))},
				{fn: fGetMapValue, out: outPair, args: []any{0, data(":path"), ret0, ret1}, want: st(OK).pair([]byte("/p/1?q=a"))},
				{fn: fGetMapValue, out: outPair, args: []any{0, data(":method"), ret0, ret1}, want: st(OK).pair([]byte("GET"))},
				{fn: fGetMapValue, out: outPair, args: []any{0, data("x-multi"), ret0, ret1}, want: st(OK).pair([]byte("a,b"))},
				{fn: fGetMapValue, out: outPair, args: []any{0, data("x-none"), ret0, ret1}, want: st(NOT_FOUND).untouchedPair()},
			},
		},
		{
			name: "headers/bad-arguments", phase: onRequestHeaders,
			rule: "a map type outside 0–7 is BAD_ARGUMENT; trailers we do not carry are NOT_FOUND; response headers before the response are NOT_FOUND; pointers outside memory are INVALID_MEMORY_ACCESS",
			steps: []step{
				{fn: fGetMapPairs, args: []any{99, ret0, ret1}, want: st(BAD_ARGUMENT)},
				{fn: fGetMapValue, args: []any{99, data("x-a"), ret0, ret1}, want: st(BAD_ARGUMENT)},
				{fn: fGetMapPairs, args: []any{1, ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetMapPairs, args: []any{2, ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetMapValue, args: []any{0, badPtr, 3, ret0, ret1}, want: st(INVALID_MEMORY)},
				{fn: fGetMapValue, args: []any{0, data("x-a"), badPtr, ret1}, want: st(INVALID_MEMORY)},
				{fn: fGetMapValue, args: []any{0, data("x-a"), ret0, badPtr}, want: st(INVALID_MEMORY)},
				{fn: fGetMapPairs, args: []any{0, badPtr, ret1}, want: st(INVALID_MEMORY)},
				{fn: fGetMapSize, args: []any{0, badPtr}, want: st(INVALID_MEMORY)},
				{fn: fAddMapValue, args: []any{0, badPtr, 3, data("v")}, want: st(INVALID_MEMORY)},
				{fn: fSetMapPairs, args: []any{0, badPtr, 16}, want: st(INVALID_MEMORY)},
			},
		},
		{
			name: "headers/add-replace-remove", phase: onRequestHeaders,
			rule: "add appends a value (then read back joined), replace leaves one value, remove deletes every value and removing a missing name is OK; the upstream request carries the result",
			steps: []step{
				{fn: fAddMapValue, args: []any{0, data("x-a"), data("2")}, want: st(OK)},
				{fn: fGetMapValue, out: outPair, args: []any{0, data("x-a"), ret0, ret1}, want: st(OK).pair([]byte("1,2"))},
				{fn: fReplaceMapValue, args: []any{0, data("x-multi"), data("one")}, want: st(OK)},
				{fn: fGetMapValue, out: outPair, args: []any{0, data("x-multi"), ret0, ret1}, want: st(OK).pair([]byte("one"))},
				{fn: fAddMapValue, args: []any{0, data("x-new"), data("")}, want: st(OK)},
				{fn: fRemoveMapValue, args: []any{0, data("x-a")}, want: st(OK)},
				{fn: fRemoveMapValue, args: []any{0, data("x-never")}, want: st(OK)},
				{fn: fGetMapValue, args: []any{0, data("x-a"), ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetMapPairs, out: outPair, args: []any{0, ret0, ret1}, want: st(OK).pair(hmap(
					":authority", "api.test", ":path", "/p/1?q=a", ":method", "GET", ":scheme", "http",
					"x-multi", "one", "x-new", ""))},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				h := out.Request.Header
				if _, ok := h["X-A"]; ok || h.Get("X-Multi") != "one" || len(h["X-New"]) != 1 {
					t.Errorf("upstream request headers %v", h)
				}
			},
		},
		{
			name: "headers/pseudo", phase: onRequestHeaders,
			rule: "replacing :path or :method rewrites the request line; a :path without a leading '/' is BAD_ARGUMENT; pseudo-headers cannot be removed (BAD_ARGUMENT)",
			steps: []step{
				{fn: fReplaceMapValue, args: []any{0, data(":path"), data("/new?x=1")}, want: st(OK)},
				{fn: fReplaceMapValue, args: []any{0, data(":method"), data("PUT")}, want: st(OK)},
				{fn: fReplaceMapValue, args: []any{0, data(":path"), data("relative")}, want: st(BAD_ARGUMENT)},
				{fn: fRemoveMapValue, args: []any{0, data(":path")}, want: st(BAD_ARGUMENT)},
				{fn: fGetMapValue, out: outPair, args: []any{0, data(":path"), ret0, ret1}, want: st(OK).pair([]byte("/new?x=1"))},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				if r := out.Request; r.Method != "PUT" || r.URL.Path != "/new" || r.URL.RawQuery != "x=1" {
					t.Errorf("request line %s %s", r.Method, r.URL)
				}
			},
		},
		{
			name: "headers/invalid-values", phase: onRequestHeaders,
			rule: "a header name or value that is not valid HTTP (CR/LF, a space in the name) is BAD_ARGUMENT, so a filter cannot split headers",
			steps: []step{
				{fn: fAddMapValue, args: []any{0, data("x-evil"), data("a\r\nx-injected: 1")}, want: st(BAD_ARGUMENT)},
				{fn: fAddMapValue, args: []any{0, data("bad name"), data("v")}, want: st(BAD_ARGUMENT)},
				{fn: fReplaceMapValue, args: []any{0, data("x-a"), data("\n")}, want: st(BAD_ARGUMENT)},
			},
		},
		{
			name: "headers/set-pairs", phase: onRequestHeaders,
			rule: "proxy_set_header_map_pairs replaces the whole map (pseudo-headers applied to the request line); the empty map may be sent as size 0 or as a single 0x00; a malformed map is BAD_ARGUMENT (the reference host silently treats it as empty)",
			steps: []step{
				{fn: fSetMapPairs, args: []any{0, data(hmap(":path", "/set", "x-set", "1", "x-set", "2"))}, want: st(OK)},
				{fn: fGetMapPairs, out: outPair, args: []any{0, ret0, ret1}, want: st(OK).pair(hmap(
					":authority", "api.test", ":path", "/set", ":method", "GET", ":scheme", "http", "x-set", "1", "x-set", "2"))},
				{fn: fSetMapPairs, args: []any{0, data(hmap("x-a", "1")[:10])}, want: st(BAD_ARGUMENT)},
				{fn: fSetMapPairs, args: []any{0, data{0}}, want: st(OK)},
				{fn: fGetMapPairs, out: outPair, args: []any{0, ret0, ret1}, want: st(OK).pair(hmap(
					":authority", "api.test", ":path", "/set", ":method", "GET", ":scheme", "http"))},
				{fn: fSetMapPairs, args: []any{0, data(hmap("x-b", "1"))}, want: st(OK)},
				{fn: fSetMapPairs, args: []any{0, 0, 0}, want: st(OK)},
				{fn: fGetMapSize, out: outU32, args: []any{0, ret0}, want: st(OK).u32(uint32(len(hmap(
					":authority", "api.test", ":path", "/set", ":method", "GET", ":scheme", "http"))))},
			},
		},
		{
			name: "headers/response", phase: onResponseHeaders,
			rule: "in the response phase the response map (2) is writable and has :status; :status can be replaced by a number 100–599 only; the request map is read-only (BAD_ARGUMENT)",
			run: func(r *wasm.Run) {
				r.Response.Header.Set("Server", "upstream")
			},
			steps: []step{
				{fn: fGetMapPairs, out: outPair, args: []any{2, ret0, ret1}, want: st(OK).pair(hmap(":status", "200", "server", "upstream"))},
				{fn: fReplaceMapValue, args: []any{2, data(":status"), data("201")}, want: st(OK)},
				{fn: fReplaceMapValue, args: []any{2, data(":status"), data("2x")}, want: st(BAD_ARGUMENT)},
				{fn: fReplaceMapValue, args: []any{2, data(":status"), data("99")}, want: st(BAD_ARGUMENT)},
				{fn: fAddMapValue, args: []any{2, data("x-resp"), data("1")}, want: st(OK)},
				{fn: fAddMapValue, args: []any{0, data("x-late"), data("1")}, want: st(BAD_ARGUMENT)},
				{fn: fGetMapValue, out: outPair, args: []any{0, data("x-a"), ret0, ret1}, want: st(OK).pair([]byte("1"))},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				if out.Response.Status != 201 || out.Response.Header.Get("X-Resp") != "1" {
					t.Errorf("response %d %v", out.Response.Status, out.Response.Header)
				}
			},
		},
		{
			name: "headers/root-context", phase: onConfigure,
			rule:  "the root context has no stream: header maps are NOT_FOUND in proxy_on_configure",
			steps: []step{{fn: fGetMapPairs, args: []any{0, ret0, ret1}, want: st(NOT_FOUND)}},
		},

		// ---- buffers ----
		{
			name: "buffers/slicing", phase: onRequestBody,
			rule: "proxy_get_buffer_bytes(type, start, max_size) returns bytes [start, min(start+max_size, len)); max_size past the end is clamped; start == len is an empty slice (OK, return slots untouched); start > len is BAD_ARGUMENT",
			steps: []step{
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 0, 5, ret0, ret1}, want: st(OK).pair([]byte("hello"))},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 6, 100, ret0, ret1}, want: st(OK).pair([]byte("world"))},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 0, maxUint32, ret0, ret1}, want: st(OK).pair([]byte("hello world"))},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 10, 1, ret0, ret1}, want: st(OK).pair([]byte("d"))},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 11, 1, ret0, ret1}, want: st(OK).untouchedPair()},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 12, 1, ret0, ret1}, want: st(BAD_ARGUMENT).untouchedPair()},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 3, 0, ret0, ret1}, want: st(OK).untouchedPair()},
			},
		},
		{
			name: "buffers/empty-slice-leaves-return-slots", phase: onRequestBody,
			rule: "reference host (proxy-wasm-cpp-host get_buffer_bytes): an empty slice returns OK and writes neither return slot (\"if (length > 0) copyTo\"); the AssemblyScript SDK 0.1.8 depends on it (test/languages TestAssemblyScriptAddHeaderEmptyConfig)",
			steps: []step{
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 11, 1, ret0, ret1}, want: st(OK).untouchedPair()},
				{fn: fGetBufferBytes, out: outPair, args: []any{7, 0, 0, ret0, ret1}, want: st(OK).untouchedPair()},
			},
		},
		{
			name: "buffers/status", phase: onRequestBody,
			rule: "proxy_get_buffer_status writes the buffer's length (u32) and flags (u32); we report flags 1 (end of stream: bodies arrive whole), the reference host 0",
			steps: []step{
				{fn: fGetBufferStatus, out: outU32U32, args: []any{0, ret0, ret1}, want: st(OK).u32(11).u32(1)},
				{fn: fGetBufferStatus, args: []any{0, badPtr, ret1}, want: st(INVALID_MEMORY)},
			},
		},
		{
			name: "buffers/unavailable", phase: onRequestHeaders,
			rule: "a body the plugin did not ask for (bodies:), a buffer type that does not exist now (response body in the request phase, http-call body without a call) or an unknown type is NOT_FOUND",
			steps: []step{
				{fn: fGetBufferBytes, args: []any{0, 0, 10, ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetBufferBytes, args: []any{1, 0, 10, ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetBufferBytes, args: []any{4, 0, 10, ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetBufferBytes, args: []any{99, 0, 10, ret0, ret1}, want: st(NOT_FOUND)},
				{fn: fGetBufferStatus, args: []any{0, ret0, ret1}, want: st(NOT_FOUND)},
			},
		},
		{
			name: "buffers/configuration", phase: onConfigure,
			rule: "buffer 7 is the plugin configuration byte for byte and buffer 6 the VM configuration, both readable from the root context; the configuration buffers are read-only (BAD_ARGUMENT)",
			opts: func(o *wasm.Options) { o.VMConfig = []byte("vm\x00config") },
			steps: []step{
				{fn: fGetBufferBytes, out: outPair, args: []any{7, 0, 4, ret0, ret1}, want: st(OK).pair([]byte{onConfigure, 0, 0, 0})},
				{fn: fGetBufferBytes, out: outPair, args: []any{6, 0, maxUint32, ret0, ret1}, want: st(OK).pair([]byte("vm\x00config"))},
				{fn: fGetBufferStatus, out: outU32U32, args: []any{6, ret0, ret1}, want: st(OK).u32(9).u32(1)},
				{fn: fSetBufferBytes, args: []any{7, 0, 0, data("x")}, want: st(BAD_ARGUMENT)},
				{fn: fGetBufferBytes, args: []any{0, 0, 1, ret0, ret1}, want: st(NOT_FOUND)},
			},
		},
		{
			name: "buffers/set", phase: onRequestBody,
			rule: "proxy_set_buffer_bytes(type, start, size, data) is Envoy's Buffer::copyFrom (source/extensions/common/wasm/context.cc): (0, 0) prepends, (0, size >= len) replaces all, start >= len appends (also past the end), any other range is BAD_ARGUMENT; the upstream gets the result",
			steps: []step{
				{fn: fSetBufferBytes, args: []any{0, 0, 5, data("HELLO")}, want: st(BAD_ARGUMENT)},
				{fn: fSetBufferBytes, args: []any{0, 3, 2, data("x")}, want: st(BAD_ARGUMENT)},
				{fn: fSetBufferBytes, args: []any{0, 11, 0, data("!")}, want: st(OK)},
				{fn: fSetBufferBytes, args: []any{0, 0, 0, data(">")}, want: st(OK)},
				{fn: fSetBufferBytes, args: []any{0, 99, 0, data("x")}, want: st(OK)},
				{fn: fSetBufferBytes, args: []any{0, 0, 0, badPtr, 4}, want: st(INVALID_MEMORY)},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 0, maxUint32, ret0, ret1}, want: st(OK).pair([]byte(">hello world!x"))},
				{fn: fSetBufferBytes, args: []any{0, 0, maxUint32, data("all new")}, want: st(OK)},
				{fn: fGetBufferBytes, out: outPair, args: []any{0, 0, maxUint32, ret0, ret1}, want: st(OK).pair([]byte("all new"))},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				if string(out.Body) != "all new" {
					t.Errorf("upstream body %q", out.Body)
				}
			},
		},
		{
			name: "buffers/max-body", phase: onRequestBody,
			rule: "a body edit past the plugin's max_body is BAD_ARGUMENT and leaves the body unchanged",
			opts: func(o *wasm.Options) { o.MaxBody = 16 },
			steps: []step{
				{fn: fSetBufferBytes, args: []any{0, 11, 0, data("0123456789")}, want: st(BAD_ARGUMENT)},
				{fn: fGetBufferStatus, out: outU32U32, args: []any{0, ret0, ret1}, want: st(OK).u32(11).u32(1)},
			},
		},
		{
			name: "buffers/response", phase: onResponseBody,
			rule: "in the response phase buffer 1 is the upstream response body, edits follow Buffer::copyFrom (a partial range is BAD_ARGUMENT), and they reach the client",
			steps: []step{
				{fn: fGetBufferBytes, out: outPair, args: []any{1, 9, maxUint32, ret0, ret1}, want: st(OK).pair([]byte("body"))},
				{fn: fSetBufferBytes, args: []any{1, 0, 8, data("new")}, want: st(BAD_ARGUMENT)},
				{fn: fSetBufferBytes, args: []any{1, 0, 0, data("new ")}, want: st(OK)},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				if string(out.Response.Body) != "new response body" {
					t.Errorf("response body %q", out.Response.Body)
				}
			},
		},

		// ---- properties ----
		{
			name: "properties/strings", phase: onRequestHeaders,
			rule: "proxy_get_property: a path is its segments separated by NUL (a trailing NUL is accepted, as Envoy does); string values are returned as their bytes",
			steps: []step{
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00path"), ret0, ret1}, want: st(OK).pair([]byte("/p/1?q=a"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00path\x00"), ret0, ret1}, want: st(OK).pair([]byte("/p/1?q=a"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00url_path"), ret0, ret1}, want: st(OK).pair([]byte("/p/1"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00query"), ret0, ret1}, want: st(OK).pair([]byte("q=a"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00method"), ret0, ret1}, want: st(OK).pair([]byte("GET"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00host"), ret0, ret1}, want: st(OK).pair([]byte("api.test"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00scheme"), ret0, ret1}, want: st(OK).pair([]byte("http"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00protocol"), ret0, ret1}, want: st(OK).pair([]byte("HTTP/1.1"))},
				{fn: fGetProperty, out: outPair, args: []any{data("source\x00address"), ret0, ret1}, want: st(OK).pair([]byte("192.0.2.1:1234"))},
				{fn: fGetProperty, out: outPair, args: []any{data("plugin_name"), ret0, ret1}, want: st(OK).pair([]byte("probe"))},
				{fn: fGetProperty, out: outPair, args: []any{data("plugin_root_id"), ret0, ret1}, want: st(OK).pair([]byte("probe-root"))},
			},
		},
		{
			name: "properties/integers", phase: onResponseHeaders,
			rule: "integer properties are 8-byte little-endian: source.port 1234 is d2 04 00 00 00 00 00 00, response.code 200 is c8 00 …",
			steps: []step{
				{fn: fGetProperty, out: outPair, args: []any{data("source\x00port"), ret0, ret1}, want: st(OK).pair([]byte{0xd2, 0x04, 0, 0, 0, 0, 0, 0})},
				{fn: fGetProperty, out: outPair, args: []any{data("response\x00code"), ret0, ret1}, want: st(OK).pair([]byte{0xc8, 0, 0, 0, 0, 0, 0, 0})},
			},
		},
		{
			name: "properties/maps", phase: onRequestHeaders,
			rule: "request.headers is a serialized header map with each name once, pseudo-headers included and several values joined with ',' (Envoy's HeadersWrapper: ListKeys of unique names, getAllOfHeaderAsString); a name below it is its value, case-insensitively",
			steps: []step{
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00headers"), ret0, ret1}, want: st(OK).pair(hmap(":authority", "api.test", ":path", "/p/1?q=a", ":method", "GET", ":scheme", "http", "x-a", "1", "x-multi", "a,b"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00headers\x00X-Multi"), ret0, ret1}, want: st(OK).pair([]byte("a,b"))},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00headers\x00:path"), ret0, ret1}, want: st(OK).pair([]byte("/p/1?q=a"))},
			},
		},
		{
			name: "properties/missing", phase: onRequestHeaders,
			rule: "an unknown path is NOT_FOUND (the return slots untouched); a path outside memory is INVALID_MEMORY_ACCESS; so is a return pointer outside memory",
			steps: []step{
				{fn: fGetProperty, out: outPair, args: []any{data("no\x00such\x00thing"), ret0, ret1}, want: st(NOT_FOUND).untouchedPair()},
				{fn: fGetProperty, out: outPair, args: []any{data("request\x00id"), ret0, ret1}, want: st(NOT_FOUND).untouchedPair()},
				{fn: fGetProperty, args: []any{badPtr, 8, ret0, ret1}, want: st(INVALID_MEMORY)},
				{fn: fGetProperty, args: []any{data("plugin_name"), badPtr, ret1}, want: st(INVALID_MEMORY)},
			},
		},
		{
			name: "properties/set", phase: onRequestHeaders,
			rule: "proxy_set_property stores wasmgate.* paths for the exchange, readable back byte for byte; any other path is NOT_FOUND",
			steps: []step{
				{fn: fSetProperty, args: []any{data("wasmgate\x00mine"), data("v\x00\x01")}, want: st(OK)},
				{fn: fGetProperty, out: outPair, args: []any{data("wasmgate\x00mine"), ret0, ret1}, want: st(OK).pair([]byte("v\x00\x01"))},
				{fn: fSetProperty, args: []any{data("request\x00path"), data("/x")}, want: st(NOT_FOUND)},
				{fn: fSetProperty, args: []any{badPtr, 4, data("v")}, want: st(INVALID_MEMORY)},
			},
		},
		{
			name: "properties/root-context", phase: onConfigure,
			rule: "plugin-wide properties (plugin_name, plugin_root_id) are readable from the root context, request ones are NOT_FOUND there",
			steps: []step{
				{fn: fGetProperty, out: outPair, args: []any{data("plugin_root_id"), ret0, ret1}, want: st(OK).pair([]byte("probe-root"))},
				{fn: fGetProperty, args: []any{data("request\x00path"), ret0, ret1}, want: st(NOT_FOUND)},
			},
		},

		// ---- stream control ----
		{
			name: "local-response", phase: onRequestHeaders,
			rule: "proxy_send_local_response(code, details, body, headers, grpc_status): the client gets code, body and the serialized headers; details are not sent; grpc_status -1 means not gRPC; the upstream is not called",
			steps: []step{
				{fn: fSendLocalResponse, args: []any{403, data("denied_by_probe"), data("no\x00entry"), data(hmap("x-why", "probe", "content-type", "text/plain")), maxUint32}, want: st(OK)},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				l := out.Local
				if l == nil || l.Status != 403 || string(l.Body) != "no\x00entry" || l.Header.Get("X-Why") != "probe" ||
					l.Header.Get("Content-Type") != "text/plain" || out.Response != nil {
					t.Errorf("local %+v, response %+v", l, out.Response)
				}
			},
		},
		{
			name: "local-response/bad-arguments", phase: onRequestHeaders,
			rule: "a status outside 200–599 or a malformed header map is BAD_ARGUMENT; a pointer outside memory is INVALID_MEMORY_ACCESS; nothing is sent",
			steps: []step{
				{fn: fSendLocalResponse, args: []any{99, data(""), data("b"), data{}, maxUint32}, want: st(BAD_ARGUMENT)},
				{fn: fSendLocalResponse, args: []any{403, data(""), data("b"), data{1, 2, 3, 4, 5}, maxUint32}, want: st(BAD_ARGUMENT)},
				{fn: fSendLocalResponse, args: []any{403, data(""), badPtr, 4, data{}, maxUint32}, want: st(INVALID_MEMORY)},
			},
			check: func(t *testing.T, out *wasm.Outcome) {
				if out.Local != nil {
					t.Errorf("local response %d sent", out.Local.Status)
				}
			},
		},
		{
			name: "local-response/root-context", phase: onConfigure,
			rule:  "the root context has no stream to answer: BAD_ARGUMENT",
			steps: []step{{fn: fSendLocalResponse, args: []any{403, data(""), data(""), data{}, maxUint32}, want: st(BAD_ARGUMENT)}},
		},
		{
			name: "stream-control", phase: onRequestHeaders,
			rule: "continue/close stream, continue request/response, clear route cache and done are accepted (OK): the chain is synchronous, there is nothing paused to resume",
			steps: []step{
				{fn: fContinueStream, args: []any{0}, want: st(OK)},
				{fn: fCloseStream, args: []any{0}, want: st(OK)},
				{fn: fContinueRequest, want: st(OK)},
				{fn: fContinueResponse, want: st(OK)},
				{fn: fClearRouteCache, want: st(OK)},
				{fn: fDone, want: st(OK)},
			},
		},
		{
			name: "effective-context", phase: onRequestHeaders,
			rule: "proxy_set_effective_context accepts the current stream's id and the root id, and an id that is no live context is BAD_ARGUMENT",
			steps: []step{
				{fn: fSetEffectiveContext, args: []any{uint32(curCtx)}, want: st(OK)},
				{fn: fSetEffectiveContext, args: []any{uint32(rootCtx)}, want: st(OK)},
				{fn: fSetEffectiveContext, args: []any{987654}, want: st(BAD_ARGUMENT)},
			},
		},
		{
			name: "get-status", phase: onRequestHeaders,
			rule: "proxy_get_status(code, ptr, size): with no call completed, code 0 and an empty message (ptr 0, size 0)",
			steps: []step{
				{fn: fGetStatus, out: outU32Pair, args: []any{ret0, ret1, ret2}, want: st(OK).u32(0).nullPair(0)},
				{fn: fGetStatus, args: []any{badPtr, ret1, ret2}, want: st(INVALID_MEMORY)},
			},
		},

		// ---- what stays UNIMPLEMENTED ----
		{
			name: "unimplemented", phase: onRequestHeaders,
			rule: "gRPC callouts and foreign functions are not implemented: UNIMPLEMENTED (12), never a trap or a link error",
			steps: []step{
				{fn: fGrpcCall, args: []any{data("svc"), data("s"), data("m"), data{}, data("r"), 100, ret0}, want: st(UNIMPLEMENTED)},
				{fn: fGrpcStream, args: []any{data("svc"), data("s"), data("m"), data{}, ret0}, want: st(UNIMPLEMENTED)},
				{fn: fGrpcSend, args: []any{1, data("x"), 1}, want: st(UNIMPLEMENTED)},
				{fn: fGrpcCancel, args: []any{1}, want: st(UNIMPLEMENTED)},
				{fn: fGrpcClose, args: []any{1}, want: st(UNIMPLEMENTED)},
				{fn: fCallForeign, args: []any{data("f"), data("a"), ret0, ret1}, want: st(UNIMPLEMENTED)},
			},
		},
	}
}

// The current time as u64 nanoseconds since the epoch, little-endian
// (proxy_get_current_time_nanoseconds), between the clock before and after.
func TestCurrentTime(t *testing.T) {
	before := uint64(time.Now().UnixNano())
	p, err := wasm.LoadBytes(context.Background(), probe, wasm.Options{Name: "probe", CacheDir: "off",
		Config: script(onRequestHeaders, []step{{fn: fGetCurrentTime, out: outU64, args: []any{ret0}}})})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, err := p.Exchange(context.Background(), wasm.Run{Request: request()})
	if err != nil || out.Failed != nil {
		t.Fatal(err, out.Failed)
	}
	after := uint64(time.Now().UnixNano())
	for _, l := range out.Logs {
		if r, ok := strings.CutPrefix(l.Message, "conformance:"); ok {
			if len(r) != 12 || binary.LittleEndian.Uint32([]byte(r)) != OK {
				t.Fatalf("report % x", r)
			}
			ns := binary.LittleEndian.Uint64([]byte(r[4:]))
			if ns < before || ns > after {
				t.Fatalf("time %d not in [%d, %d]", ns, before, after)
			}
			return
		}
	}
	t.Fatalf("no report: %v", out.Logs)
}

// The host functions the other engineer is adding (HTTP callouts, tick, shared
// data, queues, metrics): called with valid arguments they must not trap, and
// they answer a defined status. Their byte-level cases come with them.
func TestInProgressFunctionsDoNotTrap(t *testing.T) {
	steps := []step{
		{fn: fSetTickPeriod, args: []any{0}},
		{fn: fHTTPCall, args: []any{data("nowhere"), data(hmap(":method", "GET", ":path", "/")), data{}, data{}, 100, ret0}},
		{fn: fGetSharedData, args: []any{data("k"), ret0, ret1, ret2}},
		{fn: fSetSharedData, args: []any{data("k"), data("v"), 0}},
		{fn: fRegisterQueue, args: []any{data("q"), ret0}},
		{fn: fResolveQueue, args: []any{data("vm"), data("q"), ret0}},
		{fn: fEnqueue, args: []any{12345, data("x")}},
		{fn: fDequeue, args: []any{12345, ret0, ret1}},
		{fn: fDefineMetric, args: []any{0, data("probe_counter"), ret0}},
		{fn: fIncrementMetric, args: []any{12345, 1, 0}},
		{fn: fRecordMetric, args: []any{12345, 1, 0}},
		{fn: fGetMetric, args: []any{12345, ret0}},
	}
	p, err := wasm.LoadBytes(context.Background(), probe, wasm.Options{Name: "probe", CacheDir: "off",
		Config: script(onRequestHeaders, steps)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, err := p.Exchange(context.Background(), wasm.Run{Request: request()})
	if err != nil || out.Failed != nil {
		t.Fatal(err, out.Failed)
	}
	for _, l := range out.Logs {
		if r, ok := strings.CutPrefix(l.Message, "conformance:"); ok {
			if len(r) != 4*len(steps) {
				t.Fatalf("report % x", r)
			}
			for i := range steps {
				t.Logf("fn %d: status %d", steps[i].fn, binary.LittleEndian.Uint32([]byte(r[4*i:])))
			}
			return
		}
	}
	t.Fatalf("no report: %v", out.Logs)
}
