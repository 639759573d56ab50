package wasm

import (
	"net/http"
	"sync"

	"github.com/wasmgate/wasmgate/core/filter"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// stream is one exchange as the plugin sees it: a Proxy-Wasm stream context
// pinned to one instance for its whole life.
type stream struct {
	f  *Filter
	in *instance
	id uint32
	x  *filter.Exchange
	pw proxywasm.Stream // the phase, the body being delivered, the local response, set properties (internal/proxywasm)

	failed  bool       // the plugin failed; no more callbacks
	kind    string     // why it failed, as metrics label it (fail)
	started bool       // proxy_on_context_create ran
	capture *capture   // Plugin.Exchange only: logs and failure
	host    streamHost // callouts, http-wasm state (hoststate.go)
	body    bodyState  // the body being streamed, the hold (body.go)
}

// LogEntry is one line a guest logged during an exchange.
type LogEntry struct {
	Level   string // trace, debug, info, warn, error, critical; stdout/stderr for WASI output
	Message string
}

var streams = sync.Pool{New: func() any { return new(stream) }}

func (s *stream) reset() {
	s.host.cancel() // callouts dispatched from done/log, or left by a failure
	pw := s.pw
	pw.Reset()
	*s = stream{pw: pw}
}

// request returns the exchange's request.
func (s *stream) request() *http.Request { return s.x.Request }

// response returns the response of the response phase, or nil.
func (s *stream) response() *filter.Response {
	if s.pw.Phase < proxywasm.PhaseResponse {
		return nil
	}
	return s.x.Response
}
