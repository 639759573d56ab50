package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

const sharedLimitsConfig = head + `
stores:
  redis: { address: "{{.redis}}", key_prefix: "{{.prefix}}", dial_timeout: 5s, read_timeout: 5s, write_timeout: 5s }
upstreams:
  echo: { targets: [{ url: "{{.echo}}" }] }
routes:
  - name: shared
    match: { prefix: /shared }
    filters: [{ rate_limit: { rate: 5/h, store: redis, on_store_failure: fail_closed } }]
    upstream: echo
  - name: plan
    match: { prefix: /plan }
    filters: [{ quota: { name: plan, limit: 3, period: day, key: client_ip, on_store_failure: fail_closed } }]
    upstream: echo
`

// A Redis-backed rate limit and a quota shared by two gateway processes:
// requests admitted by either count against the one limit, so the sixth
// request is refused by both, where two local limiters would each admit
// five. Stores fail closed, so a Redis that did not answer shows as 503,
// never as an admission.
func TestSharedLimitsTwoGateways(t *testing.T) {
	needBinary(t)
	redis := gatewaytest.StartRedis(t)
	echo := newEcho(t, "echo")
	v := vars{"redis": redis, "prefix": "e2e-" + t.Name() + ":", "echo": echo.URL}
	gws := []*gateway{startGateway(t, sharedLimitsConfig, v), startGateway(t, sharedLimitsConfig, v)}

	get := func(g *gateway, path string) *http.Response {
		t.Helper()
		resp, body := g.Get(path)
		if resp.StatusCode == http.StatusOK {
			decodeSeen(t, resp.StatusCode, body)
		} else {
			checkError(t, resp.StatusCode, resp.Header, body, http.StatusTooManyRequests)
		}
		return resp
	}

	t.Run("rate_limit", func(t *testing.T) {
		before := echo.hits.Load()
		// Alternate between the gateways: the count left goes down by one
		// per request whichever gateway took it.
		for i := range 5 {
			resp := get(gws[i%2], "/shared/x")
			if resp.StatusCode != 200 {
				t.Fatalf("request %d via gateway %d: %d, want 200 (5 of 5/h left before it)", i+1, i%2+1, resp.StatusCode)
			}
			if r, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"shared";r=%d;`, 4-i); !strings.HasPrefix(r, want) {
				t.Errorf("request %d via gateway %d: RateLimit %q, want %s…", i+1, i%2+1, r, want)
			}
		}
		for i, g := range gws {
			resp := get(g, "/shared/x")
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("sixth request via gateway %d: %d Retry-After %q, want 429 with Retry-After", i+1, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		if n := echo.hits.Load() - before; n != 5 {
			t.Errorf("the upstream got %d requests, want the 5 admitted", n)
		}
	})

	t.Run("quota", func(t *testing.T) {
		before := echo.hits.Load()
		for i := range 3 {
			resp := get(gws[(i+1)%2], "/plan/x")
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d, want 200", i+1, resp.StatusCode)
			}
			if p := resp.Header.Get("RateLimit-Policy"); !strings.HasPrefix(p, `"plan";q=3`) {
				t.Errorf("RateLimit-Policy %q, want \"plan\";q=3…", p)
			}
			if r, want := resp.Header.Get("RateLimit"), fmt.Sprintf(`"plan";r=%d;`, 2-i); !strings.HasPrefix(r, want) {
				t.Errorf("request %d: RateLimit %q, want %s…", i+1, r, want)
			}
		}
		for i, g := range gws {
			resp := get(g, "/plan/x")
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("fourth request via gateway %d: %d Retry-After %q, want 429 with Retry-After", i+1, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		if n := echo.hits.Load() - before; n != 3 {
			t.Errorf("the upstream got %d requests, want the 3 within the quota", n)
		}
	})
}
