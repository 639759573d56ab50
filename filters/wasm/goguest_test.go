package wasm

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// The Go SDK guest (testdata/goguest): DispatchHttpCall, the callback
// switching back to the stream, metrics, shared data with CAS, ticks.
func TestGoGuestHostFeatures(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("go-token"))
	}))
	defer up.Close()
	opts, _ := testOptions(t, "goguest")
	opts.VMID = "vm-" + t.Name()
	opts.Timeout = 2e9 // Go guests under -race on a busy machine
	opts.Callouts = map[string]Caller{"backend": URLCaller(up.URL)}
	p := load(t, "goguest", opts)
	// Shared data lives per VM ID for the whole process, as in Envoy, so a
	// run under -count=N starts from what the previous run left.
	var before uint64
	if v, _, st := p.host.shared.Get("n"); st == proxywasm.StatusOK && len(v) == 8 {
		before = binary.LittleEndian.Uint64(v)
	}
	for i := range 3 {
		out := exchange(t, p, request("GET", "http://api.example.com/"))
		wantStatus(t, out, 200)
		if g := out.Request.Header.Get("X-Token"); g != "go-token" {
			t.Fatalf("request %d: x-token %q (failed %v, logs %q)", i, g, out.Failed, logMessages(out))
		}
	}
	if m, _ := metricValue(p, "go_requests"); m.Value != 3 {
		t.Errorf("go_requests %+v", m)
	}
	v, _, st := p.host.shared.Get("n")
	if st != proxywasm.StatusOK || len(v) != 8 || binary.LittleEndian.Uint64(v) != before+3 {
		t.Errorf("shared counter %v %d, want %d", v, st, before+3)
	}
	waitFor(t, "ticks", func() bool { m, _ := metricValue(p, "go_ticks"); return m.Value >= 2 })
}
