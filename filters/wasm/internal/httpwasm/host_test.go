package httpwasm

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/filter"
)

// fakeHost is the seam implemented outside filters/wasm: the host
// functions must need nothing else.
type fakeHost struct {
	x         *filter.Exchange
	st        *Stream
	supported uint32
	edited    []string
	init      atomic.Uint32
	scr       []byte
	logs      []string
}

func (h *fakeHost) Current() (*filter.Exchange, *Stream) { return h.x, h.st }
func (h *fakeHost) Supported() uint32                    { return h.supported }
func (h *fakeHost) RequestEdited(key string)             { h.edited = append(h.edited, key) }
func (h *fakeHost) InitFeatures() *atomic.Uint32         { return &h.init }
func (h *fakeHost) Config() []byte                       { return []byte("cfg") }
func (h *fakeHost) MaxBody() int64                       { return 8 }
func (h *fakeHost) Scratch() *[]byte                     { return &h.scr }
func (h *fakeHost) LogEnabled(context.Context, slog.Level) bool {
	return true
}
func (h *fakeHost) Log(_ context.Context, level string, _ slog.Level, msg []byte) {
	h.logs = append(h.logs, level+":"+string(msg))
}

// fakeMem is a guest memory of 256 bytes: only Read and Write are used.
type fakeMem struct {
	api.Memory
	b [256]byte
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

// call runs the host function name with args, as a guest would.
func call(t *testing.T, h Host, mem api.Memory, name string, args ...uint64) (r uint64, trapped error) {
	t.Helper()
	f := funcs[name]
	x, st := h.Current()
	defer func() {
		if p := recover(); p != nil {
			trapped, _ = p.(error)
		}
	}()
	return f.fn(context.Background(), h, mem, x, st, args), nil
}

func TestSeamHeadersAndRouteEdits(t *testing.T) {
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "http://a.example/p", nil)}
	h := &fakeHost{x: x, st: &Stream{}}
	mem := &fakeMem{}
	copy(mem.b[0:], "host")
	copy(mem.b[8:], "b.example")
	copy(mem.b[32:], "x-one")
	copy(mem.b[40:], "1")
	if _, err := call(t, h, mem, "set_header_value", kindRequest, 0, 4, 8, 9); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, h, mem, "add_header_value", kindRequest, 32, 5, 40, 1); err != nil {
		t.Fatal(err)
	}
	if x.Request.Host != "b.example" || x.Request.Header.Get("X-One") != "1" {
		t.Fatalf("host %q, x-one %q", x.Request.Host, x.Request.Header.Get("X-One"))
	}
	if strings.Join(h.edited, ",") != ":authority,x-one" {
		t.Errorf("route edits %v, want :authority,x-one", h.edited)
	}
	// A response header edit does not choose the route again.
	if _, err := call(t, h, mem, "set_header_value", kindResponse, 32, 5, 40, 1); err != nil {
		t.Fatal(err)
	}
	if len(h.edited) != 2 {
		t.Errorf("a response header edit counted as a request edit: %v", h.edited)
	}
	r, _ := call(t, h, mem, "get_header_names", kindRequest, 100, 100)
	if got := string(mem.b[100 : 100+uint32(r)]); r>>32 != 2 || got != "host\x00x-one\x00" {
		t.Errorf("get_header_names: count %d, %q", r>>32, got)
	}
	// An invalid header traps (the failure policy applies), not edits.
	copy(mem.b[48:], "bad header")
	if _, err := call(t, h, mem, "set_header_value", kindRequest, 48, 10, 40, 1); err == nil || !strings.Contains(err.Error(), "invalid header") {
		t.Errorf("invalid header: %v", err)
	}
}

func TestSeamFeaturesAndBodies(t *testing.T) {
	h := &fakeHost{}
	// Initialization (no exchange): kept for every exchange, trailers never.
	if r, _ := call(t, h, nil, "enable_features", BufferRequest|Trailers); r != BufferRequest || h.init.Load() != BufferRequest {
		t.Errorf("init features %d, stored %d", r, h.init.Load())
	}
	x := &filter.Exchange{Request: httptest.NewRequest("POST", "/", strings.NewReader("abc"))}
	h.x, h.st, h.supported = x, &Stream{}, BufferRequest
	h.st.Begin(h.init.Load())
	if r, _ := call(t, h, nil, "enable_features", BufferResponse); r != BufferRequest {
		t.Errorf("a feature the route does not support was enabled: %d", r)
	}
	mem := &fakeMem{}
	r, err := call(t, h, mem, "read_body", kindRequest, 0, 64)
	if err != nil || r != 1<<32|3 || string(mem.b[:3]) != "abc" {
		t.Fatalf("read_body: %x %v %q", r, err, mem.b[:3])
	}
	copy(mem.b[10:], "123456789")
	if _, err := call(t, h, mem, "write_body", kindRequest, 10, 9); err == nil || !strings.Contains(err.Error(), "max_body") {
		t.Errorf("a body over MaxBody was written: %v", err)
	}
	// handle_request answers itself: the local response it wrote.
	copy(mem.b[20:], "no")
	_, _ = call(t, h, mem, "set_status_code", 403)
	_, _ = call(t, h, mem, "write_body", kindResponse, 20, 2)
	if local := h.st.Handled(0); local == nil || !local.Local || local.Status != http.StatusForbidden || string(local.Body) != "no" {
		t.Fatalf("local response %+v", local)
	}
	// next=1 with a context value, which handle_response gets back.
	st := &Stream{}
	if st.Handled(42<<32|1) != nil || !st.Next() || st.EnterResponse() != 42 {
		t.Error("handle_request's next and context value were not kept")
	}
}
