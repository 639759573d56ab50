package bodylimit

import (
	"io"
	"net/http"
	"strconv"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter enforces the cap.
//
// It reuses the core's 413 path instead of duplicating it: the route's
// max_request_body already wraps the body in http.MaxBytesReader, and the
// proxy answers 413 when a body read fails with *http.MaxBytesError. This
// filter only tightens the cap (per consumer, say), so it wraps the body in a
// reader that fails with that same error. A chain that buffers the body has
// read it before any filter runs; then the buffered length is checked.
type Filter struct {
	max       int64
	consumers map[string]int64
}

// Shareable: the filter depends on its block and the route's parameter
// names alone, so routes with the same block share one (filter.Shareable).
func (c *Config) Shareable() {}

// Build resolves the sizes.
func (c *Config) Build(*filter.BuildContext) (filter.Filter, error) {
	f := &Filter{max: int64(c.Max)}
	if len(c.Consumers) > 0 {
		f.consumers = make(map[string]int64, len(c.Consumers))
		for n, s := range c.Consumers {
			f.consumers[n] = int64(s)
		}
	}
	return f, nil
}

// OnRequest refuses a declared or buffered body over the cap and caps a
// streamed one.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	limit := f.max
	if x.Consumer != nil && f.consumers != nil {
		if n, ok := f.consumers[x.Consumer.Name]; ok {
			limit = n
		}
	}
	r := x.Request
	if r.ContentLength > limit || int64(len(x.RequestBody)) > limit {
		return tooLarge(limit)
	}
	if r.Body == nil || r.Body == http.NoBody || x.RequestBody != nil {
		return nil
	}
	r.Body = &capped{rc: r.Body, left: limit, limit: limit}
	return nil
}

func tooLarge(limit int64) *filter.Response {
	return filter.Error(http.StatusRequestEntityTooLarge, "request body exceeds "+strconv.FormatInt(limit, 10)+" bytes")
}

// capped fails a read once the body passes limit, with the error the proxy
// turns into 413.
type capped struct {
	rc    io.ReadCloser
	left  int64
	limit int64
	err   error
}

func (c *capped) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1] // one byte more than allowed tells "over" from "exactly"
	}
	n, err := c.rc.Read(p)
	if int64(n) > c.left {
		c.err = &http.MaxBytesError{Limit: c.limit}
		return int(c.left), c.err
	}
	c.left -= int64(n)
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }

var (
	_ filter.Filter    = (*Filter)(nil)
	_ filter.Validator = (*Config)(nil)
	_ filter.Shareable = (*Config)(nil)
)
