package filter

import "testing"

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
