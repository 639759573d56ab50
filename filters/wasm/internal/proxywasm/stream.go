package proxywasm

import (
	"net/http"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Phase is where an exchange is: its request, its response, or done.
type Phase uint8

const (
	PhaseRequest Phase = iota
	PhaseResponse
	PhaseDone
)

// Stream is an exchange's Proxy-Wasm state that the host functions here
// read and write; filters/wasm's stream context holds one, and Host's
// Current finds it.
type Stream struct {
	Phase   Phase
	Body    *filter.Body      // the body being delivered (buffer 0 or 1), nil outside its callback
	BodyDir Phase             // which body Body is
	Local   *filter.Response  // set by proxy_send_local_response
	props   map[string][]byte // proxy_set_property's (wasmgate.*), by path
}

// Reset readies s for another exchange, keeping its map.
func (s *Stream) Reset() {
	clear(s.props)
	*s = Stream{props: s.props}
}

// exchange is the running exchange as the host functions see it.
type exchange struct {
	x *filter.Exchange
	s *Stream
}

// request returns the exchange's request.
func (e exchange) request() *http.Request { return e.x.Request }

// response returns the response of the response phase, or nil.
func (e exchange) response() *filter.Response {
	if e.s.Phase < PhaseResponse {
		return nil
	}
	return e.x.Response
}
