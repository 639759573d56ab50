package proxy

import (
	"io"
	"net/http"
)

// FilterBody puts what the chain's streaming body filters forward in place
// of the upstream response body that WriteResponse copies to the client.
// wrap gets the upstream body as it arrives; closing resp still closes the
// upstream and ends the exchange's hold on it.
func FilterBody(resp *http.Response, wrap func(upstream io.Reader) io.Reader) {
	if t, ok := resp.Body.(*trip); ok {
		t.filtered = wrap(t.upstream)
		return
	}
	resp.Body = filteredBody{Reader: wrap(resp.Body), Closer: resp.Body}
}

type filteredBody struct {
	io.Reader
	io.Closer
}
