package hardening

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wasmgate/wasmgate/test/internal/gatewaytest"
)

// allFiltersConfig chains every filter kind the binary registers (but
// mtls, which needs a TLS listener with client certificates: see
// test/e2e/mtls_test.go) on the one route, each set so that a plain
// request passes: auth filters admit it as the anonymous consumer, limits
// are far above what the test sends, body_limit is 64 KiB, and
// request_termination answers only requests carrying its trigger.
const allFiltersConfig = `
listeners:
  - address: "{{.listen}}"
    timeouts: { read_header: 2s, read: 2s }
admin: { address: "{{.admin}}" }
stores:
  redis: { address: "{{.redis}}", key_prefix: "{{.prefix}}", dial_timeout: 5s, read_timeout: 5s, write_timeout: 5s }
plugins:
  hello: { source: "{{.wasm}}", config: { name: x-hello, value: world } }
consumers:
  - { name: guest }
  - { name: mobile, api_keys: [{ sha256: "{{.key_sha256}}" }] }
  - { name: ops, basic_auth: [{ username: ops, bcrypt: "${HARDENING_OPS_BCRYPT}" }] }
upstreams:
  rec: { targets: [{ url: "{{.rec}}" }] }
routes:
  - name: all
    filters:
      - ip_filter: { allow: ["127.0.0.1"] }
      - cors: { allow_origins: ["https://app.test"] }
      - jwt: { issuer: "https://issuer.test/", secret: "${HARDENING_JWT_SECRET}", audiences: [api], anonymous: guest }
      - apikey: { anonymous: guest }
      - basicauth: { realm: staff, anonymous: guest }
      - rate_limit: { rate: 100000/s, key: client_ip }
      - quota: { name: plan, limit: 1000000, period: day, key: client_ip, on_store_failure: fail_closed }
      - concurrency: { max: 256 }
      - priority: { level: critical, capacity: 256 }
      - body_limit: { max: 64KiB }
      - headers: { request: { set: { X-Chain: all } } }
      - request_termination: { trigger: X-Terminate, status: 418, message: "terminated" }
      - wasm: hello
    upstream: rec
`

// TestEveryFilterThroughBinary is a smoke subset of the in-process
// hardening suites (which run with the filters linked but few on a route)
// against the real binary with every filter kind on the route: the
// request-framing corpus, truncated bodies, oversized heads and bodies
// and a slow client get the same outcomes, and a clean request shows
// every filter ran.
func TestEveryFilterThroughBinary(t *testing.T) {
	rec := newRecorder(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("ops-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("mobile-key"))
	wasm, err := filepath.Abs("../../plugins/add-header/add-header.wasm")
	if err != nil {
		t.Fatal(err)
	}
	p := gatewaytest.Start(t, allFiltersConfig, vars{
		"rec": rec.URL(), "redis": gatewaytest.StartRedis(t), "prefix": fmt.Sprintf("hardening-%d:", time.Now().UnixNano()),
		"wasm": wasm, "key_sha256": hex.EncodeToString(sum[:]),
	}, gatewaytest.Options{LogLevel: "info", Env: []string{
		"HARDENING_OPS_BCRYPT=" + string(hash),
		"HARDENING_JWT_SECRET=" + strings.Repeat("s", 32),
	}})

	t.Run("clean request passes every filter", func(t *testing.T) {
		rec.take()
		resps, _ := exchange(t, p.Listen, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", 30*time.Second)
		rec.settle(t)
		got := rec.take()
		if len(resps) != 1 || resps[0].Status != 200 || len(got) != 1 {
			t.Fatalf("%d responses (first %+v), %d forwarded; want one 200, one forwarded", len(resps), first(resps), len(got))
		}
		r := got[0]
		for name, want := range map[string]string{"X-Chain": "all", "X-Hello": "world", "X-Consumer-Name": "guest"} {
			if v := r.Header.Get(name); v != want {
				t.Errorf("upstream %s = %q, want %q (the filter that sets it did not run)", name, v, want)
			}
		}
		if string(r.Body) != "abc" || !r.Complete {
			t.Errorf("upstream body %q (complete %v), want abc", r.Body, r.Complete)
		}
	})

	t.Run("request_termination answers locally", func(t *testing.T) {
		rec.take()
		resps, _ := exchange(t, p.Listen, "GET /x HTTP/1.1\r\nHost: a\r\nX-Terminate: 1\r\nConnection: close\r\n\r\n", 30*time.Second)
		rec.settle(t)
		if len(resps) != 1 || resps[0].Status != 418 {
			t.Errorf("got %+v, want 418", first(resps))
		}
		if got := rec.take(); len(got) != 0 {
			t.Errorf("a terminated request reached the upstream: %+v", got)
		}
	})

	t.Run("framing corpus", func(t *testing.T) { checkFraming(t, p.Listen, rec) })
	t.Run("truncated bodies", func(t *testing.T) { checkTruncatedBodies(t, p.Listen, rec) })

	t.Run("oversized", func(t *testing.T) {
		big := strings.Repeat("x", 100<<10)
		for _, c := range []struct {
			name, raw string
			want      int
		}{
			{"header 100 KiB", "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Big: " + big + "\r\n\r\n", 431},
			{"declared body over body_limit", "POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: " + itoa(len(big)) + "\r\n\r\n" + big, 413},
			{"chunked body over body_limit", "POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), 413},
		} {
			t.Run(c.name, func(t *testing.T) {
				rec.take()
				resps, _ := exchange(t, p.Listen, c.raw, 30*time.Second)
				rec.settle(t)
				if len(resps) == 0 || resps[0].Status != c.want {
					t.Errorf("got %+v, want %d", first(resps), c.want)
				}
				for _, r := range rec.take() {
					if r.Complete {
						t.Errorf("the upstream got a complete request (%d body bytes)", len(r.Body))
					}
				}
			})
		}
	})

	t.Run("slow client", func(t *testing.T) {
		// A head never finished: read_header (2s) ends the connection. The
		// bound is an upper one (the connection must not stay open).
		rec.take()
		conn, err := net.Dial("tcp", p.Listen)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a\r\nX-A: "); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(conn)
		if err != nil {
			t.Fatalf("the connection was not closed within 30s: %v", err)
		}
		if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 408")) {
			t.Errorf("answered %q, want 408 or a bare close", firstLine(string(got)))
		}
		rec.settle(t)
		if got := rec.take(); len(got) != 0 {
			t.Errorf("an unfinished head reached the upstream: %+v", got)
		}
	})
}

func first(r []*rawResp) any {
	if len(r) == 0 {
		return "none"
	}
	return *r[0]
}
