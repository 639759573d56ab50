package headers

import (
	"net/http"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Filter applies compiled header edits in both directions.
type Filter struct {
	request  compiled
	response compiled
}

// requestOnly hides OnResponse when the config edits no response headers,
// so the chain skips this filter in the response phase.
type requestOnly struct{ f *Filter }

type compiled struct {
	remove []string
	set    []value
	add    []value
}

type value struct {
	name string
	tmpl *filter.Template
}

// OnRequest edits the request headers the upstream will receive.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	f.request.apply(x, x.Request.Header)
	return nil
}

// OnResponse edits the response headers the client will receive.
func (f *Filter) OnResponse(x *filter.Exchange) *filter.Response {
	if x.Response.Header == nil {
		x.Response.Header = http.Header{}
	}
	f.response.apply(x, x.Response.Header)
	return nil
}

func (r *requestOnly) OnRequest(x *filter.Exchange) *filter.Response { return r.f.OnRequest(x) }

func (c *compiled) apply(x *filter.Exchange, h http.Header) {
	for _, name := range c.remove {
		delete(h, name)
	}
	for _, v := range c.set {
		h[v.name] = []string{v.tmpl.Render(x)}
	}
	for _, v := range c.add {
		h[v.name] = append(h[v.name], v.tmpl.Render(x))
	}
}

var (
	_ filter.Filter         = (*Filter)(nil)
	_ filter.ResponseFilter = (*Filter)(nil)
	_ filter.Filter         = (*requestOnly)(nil)
	_ filter.Validator      = (*Config)(nil)
	_ filter.Shareable      = (*Config)(nil)
)
