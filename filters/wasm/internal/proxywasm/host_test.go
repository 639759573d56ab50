package proxywasm

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"
)

// fakeHost is the seam implemented outside filters/wasm: the host
// functions here must need nothing else.
type fakeHost struct {
	x       *filter.Exchange
	st      *Stream
	woken   int
	vm      string
	shared  SharedStore
	metrics *guestmetric.Set
	next    uint32 // the guest's bump allocator
	logs    []string
	ready   chan uint32
}

func (h *fakeHost) Allocate(_ context.Context, size uint32) (uint32, bool) {
	p := h.next
	h.next += size
	return p, true
}

func (h *fakeHost) Log(_ context.Context, level string, _ slog.Level, msg []byte) {
	h.logs = append(h.logs, level+":"+string(msg))
}

func (h *fakeHost) Current() (*filter.Exchange, *Stream) { return h.x, h.st }
func (h *fakeHost) Delivering() *CallResponse            { return nil }
func (h *fakeHost) Scratch() *[]byte                     { return new([]byte) }
func (h *fakeHost) PluginConfig() []byte                 { return nil }
func (h *fakeHost) VMConfig() []byte                     { return nil }
func (h *fakeHost) Bodies(bool) bool                     { return false }
func (h *fakeHost) MaxBody() int64                       { return 0 }
func (h *fakeHost) Wake()                                { h.woken++ }
func (h *fakeHost) Resume()                              {}
func (h *fakeHost) SetEffectiveContext(uint32) bool      { return false }
func (h *fakeHost) HasUpstream(string) bool              { return false }
func (h *fakeHost) HTTPCall(string, *http.Request, time.Duration) (uint32, Status) {
	return 0, StatusInternalFailure
}
func (h *fakeHost) CalloutTimeout() time.Duration { return time.Second }
func (h *fakeHost) SetTickPeriod(time.Duration)   {}
func (h *fakeHost) Drained() bool                 { return false }
func (h *fakeHost) PluginName() string            { return "plugin" }
func (h *fakeHost) RootID() string                { return "" }
func (h *fakeHost) Logger() *slog.Logger          { return slog.New(slog.DiscardHandler) }
func (h *fakeHost) VMID() string                  { return h.vm }
func (h *fakeHost) Shared() SharedStore           { return h.shared }
func (h *fakeHost) Metrics() *guestmetric.Set     { return h.metrics }
func (h *fakeHost) Broken() bool                  { return false }
func (h *fakeHost) QueueReady(id uint32) bool     { h.ready <- id; return true }

// fakeMem is a guest memory of 512 bytes.
type fakeMem struct {
	api.Memory
	b [512]byte
}

func (m *fakeMem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n], true
}

func (m *fakeMem) Write(off uint32, v []byte) bool {
	if uint64(off)+uint64(len(v)) > uint64(len(m.b)) {
		return false
	}
	copy(m.b[off:], v)
	return true
}

func (m *fakeMem) WriteUint32Le(off, v uint32) bool {
	return m.Write(off, binary.LittleEndian.AppendUint32(nil, v))
}

func (m *fakeMem) WriteUint64Le(off uint32, v uint64) bool {
	return m.Write(off, binary.LittleEndian.AppendUint64(nil, v))
}

func (m *fakeMem) u32(off uint32) uint32 { return binary.LittleEndian.Uint32(m.b[off:]) }

// given is what Give handed the guest through the return slots at ret.
func (m *fakeMem) given(ret uint32) string {
	p, n := m.u32(ret), m.u32(ret+4)
	return string(m.b[p : p+n])
}

// The host functions of this package on a Host implemented outside
// filters/wasm: shared data, queues (an enqueue wakes the registering
// Host), metrics and the log.
func TestHostFunctionsOnHost(t *testing.T) {
	h := &fakeHost{vm: "vm-" + t.Name(), shared: MemShared("vm-"+t.Name(), 1024),
		metrics: guestmetric.Acquire("plugin-" + t.Name()), next: 256, ready: make(chan uint32, 4)}
	defer h.metrics.Release()
	mem := &fakeMem{}
	copy(mem.b[0:], "key")
	copy(mem.b[16:], "value")
	copy(mem.b[32:], "q")
	call := func(name string, args ...uint64) Status {
		t.Helper()
		f, ok := Funcs[name]
		if !ok || len(f.Params) != len(args) {
			t.Fatalf("%s: not here, or not %d parameters", name, len(args))
		}
		return f.Fn(context.Background(), h, mem, args)
	}

	if st := call("proxy_set_shared_data", 0, 3, 16, 5, 0); st != StatusOK {
		t.Fatalf("set_shared_data: %d", st)
	}
	if st := call("proxy_get_shared_data", 0, 3, 64, 68, 72); st != StatusOK || mem.given(64) != "value" || mem.u32(72) == 0 {
		t.Fatalf("get_shared_data: %d %q cas %d", st, mem.given(64), mem.u32(72))
	}
	if st := call("proxy_log", LogInfo, 16, 5); st != StatusOK || len(h.logs) != 1 || h.logs[0] != "info:value" {
		t.Fatalf("log: %d %q", st, h.logs)
	}

	if st := call("proxy_register_shared_queue", 32, 1, 76); st != StatusOK {
		t.Fatalf("register_shared_queue: %d", st)
	}
	id := mem.u32(76)
	if st := call("proxy_resolve_shared_queue", 0, 0, 32, 1, 80); st != StatusOK || mem.u32(80) != id {
		t.Fatalf("resolve_shared_queue (this vm id): %d, id %d, want %d", st, mem.u32(80), id)
	}
	if st := call("proxy_enqueue_shared_queue", uint64(id), 16, 5); st != StatusOK {
		t.Fatalf("enqueue: %d", st)
	}
	select {
	case got := <-h.ready:
		if got != id {
			t.Fatalf("queue ready for %d, want %d", got, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the enqueue did not wake the registering host")
	}
	if st := call("proxy_dequeue_shared_queue", uint64(id), 84, 88); st != StatusOK || mem.given(84) != "value" {
		t.Fatalf("dequeue: %d %q", st, mem.given(84))
	}
	if st := call("proxy_dequeue_shared_queue", uint64(id), 84, 88); st != StatusEmpty {
		t.Fatalf("dequeue of an empty queue: %d", st)
	}

	if st := call("proxy_define_metric", uint64(guestmetric.Counter), 0, 3, 92); st != StatusOK {
		t.Fatalf("define_metric: %d", st)
	}
	m := uint64(mem.u32(92))
	if st := call("proxy_increment_metric", m, 5); st != StatusOK {
		t.Fatalf("increment_metric: %d", st)
	}
	if st := call("proxy_get_metric", m, 96); st != StatusOK || binary.LittleEndian.Uint64(mem.b[96:]) != 5 {
		t.Fatalf("get_metric: %d %d", st, binary.LittleEndian.Uint64(mem.b[96:]))
	}
}

// The exchange's host functions on a Host implemented outside
// filters/wasm: header maps (an edit of a request pseudo-header makes the
// route stale; the response map does not exist before the response
// phase), properties, and the local response, which wakes the stream.
func TestStreamFunctionsOnHost(t *testing.T) {
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "http://a.example/p?q=1", nil)}
	h := &fakeHost{x: x, st: &Stream{Phase: PhaseRequest}, next: 256}
	mem := &fakeMem{}
	copy(mem.b[0:], ":authority")
	copy(mem.b[16:], "b.example")
	copy(mem.b[32:], "request\x00path")
	copy(mem.b[48:], "wasmgate\x00k")
	copy(mem.b[64:], "v")
	call := func(name string, args ...uint64) Status {
		t.Helper()
		return Funcs[name].Fn(context.Background(), h, mem, args)
	}

	if st := call("proxy_replace_header_map_value", MapRequestHeaders, 0, 10, 16, 9); st != StatusOK {
		t.Fatalf("replace :authority: %d", st)
	}
	if x.Request.Host != "b.example" || !x.TakeRouteStale() {
		t.Fatalf("host %q; a :authority edit must make the route stale", x.Request.Host)
	}
	if st := call("proxy_get_header_map_value", MapRequestHeaders, 0, 10, 100, 104); st != StatusOK || mem.given(100) != "b.example" {
		t.Fatalf("get :authority: %d %q", st, mem.given(100))
	}
	if st := call("proxy_get_header_map_size", MapResponseHeaders, 108); st != StatusNotFound {
		t.Errorf("response headers in the request phase: %d, want NOT_FOUND", st)
	}

	if st := call("proxy_get_property", 32, 12, 112, 116); st != StatusOK || mem.given(112) != "/p?q=1" {
		t.Fatalf("request.path: %d %q", st, mem.given(112))
	}
	if st := call("proxy_set_property", 48, 10, 64, 1); st != StatusOK {
		t.Fatalf("set wasmgate.k: %d", st)
	}
	if st := call("proxy_get_property", 48, 10, 120, 124); st != StatusOK || mem.given(120) != "v" {
		t.Fatalf("wasmgate.k: %d %q", st, mem.given(120))
	}
	h.st.Reset()
	if st := call("proxy_get_property", 48, 10, 120, 124); st != StatusNotFound {
		t.Errorf("wasmgate.k after Reset: %d, want NOT_FOUND", st)
	}

	if st := call("proxy_send_local_response", 403, 0, 0, 64, 1, 0, 0, 0); st != StatusOK {
		t.Fatalf("send_local_response: %d", st)
	}
	if l := h.st.Local; l == nil || l.Status != 403 || string(l.Body) != "v" || l.Header.Get("Content-Type") != "text/plain" || h.woken != 1 {
		t.Fatalf("local response %+v, woken %d", l, h.woken)
	}
}
