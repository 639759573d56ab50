package filter

import (
	"strings"
	"testing"
)

func TestRouteStale(t *testing.T) {
	x := &Exchange{}
	x.SetRouting(RoutingHeaders{"X-Version", "X-Tenant"})
	x.RequestHeaderEdited("x-other")
	if x.RouteStale() {
		t.Fatal("a header no matcher reads marked the route stale")
	}
	x.RequestHeaderEdited("x-version")
	if !x.TakeRouteStale() {
		t.Fatal("a header a matcher reads (any case) must mark the route stale")
	}
	if x.TakeRouteStale() {
		t.Fatal("TakeRouteStale must clear the mark")
	}
	x.ClearRouteCache()
	if !x.RouteStale() {
		t.Fatal("ClearRouteCache must mark the route stale")
	}
	x.Reset()
	if x.RouteStale() || x.routingHeaders != nil {
		t.Fatal("Reset must clear the route state")
	}
}

// BenchmarkRouteStale is what a filter that leaves routing alone costs the
// request path (the check after the chain), and what editing a header no
// matcher reads costs on top.
func BenchmarkRouteStale(b *testing.B) {
	x := &Exchange{}
	x.SetRouting(RoutingHeaders{"X-Version", "X-Tenant"})
	b.Run("check", func(b *testing.B) {
		for b.Loop() {
			if x.TakeRouteStale() {
				b.Fatal("stale")
			}
		}
	})
	b.Run("edit-other-header", func(b *testing.B) {
		for b.Loop() {
			x.RequestHeaderEdited("x-request-tag")
		}
	})
}

// stale marks the route stale, as a filter that rewrote the host would.
type stale struct{ log *[]string }

func (f stale) OnRequest(x *Exchange) *Response {
	*f.log = append(*f.log, "req:stale")
	x.ClearRouteCache()
	return nil
}

// The request phase stops right after a filter that marked the route stale,
// so the route is chosen before anything else runs; RequestFrom resumes.
func TestChainStopsWhenRouteStale(t *testing.T) {
	var log []string
	c := NewChain([]Filter{&recorder{name: "a", log: &log}, stale{&log}, &recorder{name: "b", log: &log}})
	x := &Exchange{}
	ran, local := c.Request(x)
	if ran != 2 || local != nil || !x.TakeRouteStale() {
		t.Fatalf("ran %d, local %v, stale %v: want a stop after the second filter", ran, local, x.RouteStale())
	}
	ran, local = c.RequestFrom(x, ran)
	if ran != 3 || local != nil {
		t.Fatalf("resumed: ran %d, local %v, want 3", ran, local)
	}
	if got := strings.Join(log, " "); got != "req:a req:stale req:b" {
		t.Errorf("ran %q, each filter once", got)
	}
}
