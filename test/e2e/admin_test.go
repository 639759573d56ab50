package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const adminConfig = head + `
upstreams:
  a: { targets: [{ url: "{{.a}}" }] }
routes:
  - name: secrets
    match: { path: /s }
    filters:
      - headers:
          request:
            set:
              X-From-Env: "${E2E_SECRET}"
              X-Auth-Token: "literal-token-1111"
              X-Api-Key: "literal-apikey-2222"
              Authorization: "Bearer literal-bearer-3333"
    upstream: a
  - name: health
    match: { path: /health }
    respond: { body: ok }
`

const envSecret = "env-secret-value-9f8e7d"

func TestAdmin(t *testing.T) {
	needBinary(t)
	a := newEcho(t, "a")
	g := startGateway(t, adminConfig, vars{"a": a.URL}, startOptions{Env: []string{"E2E_SECRET=" + envSecret}})
	admin := func(path string) (*http.Response, []byte) {
		return g.Do(newRequest(t, http.MethodGet, "http://"+g.Admin+path, nil))
	}

	t.Run("healthz and readyz", func(t *testing.T) {
		for path, want := range map[string]string{"/healthz": `"status": "ok"`, "/readyz": `"ready": true`} {
			resp, body := admin(path)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
				t.Errorf("%s: %d %s, want 200 with %s", path, resp.StatusCode, body, want)
			}
		}
	})

	t.Run("routes", func(t *testing.T) {
		resp, body := admin("/routes")
		var routes []struct {
			Name     string   `json:"name"`
			Upstream string   `json:"upstream"`
			Filters  []string `json:"filters"`
			Respond  bool     `json:"respond"`
		}
		if err := json.Unmarshal(body, &routes); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/routes: %d %s (%v)", resp.StatusCode, body, err)
		}
		var names []string
		for _, r := range routes {
			names = append(names, r.Name)
		}
		if !slices.Equal(names, []string{"secrets", "health"}) {
			t.Fatalf("/routes names %v, want [secrets health]", names)
		}
		if routes[0].Upstream != "a" || !slices.Equal(routes[0].Filters, []string{"headers"}) || !routes[1].Respond {
			t.Errorf("/routes: %s", body)
		}
	})

	t.Run("status", func(t *testing.T) {
		st := g.Status()
		if st.Generation != 1 || st.Routes != 2 || !slices.Contains(mapValues(st.Listeners), g.Listen) {
			t.Errorf("/status %+v, want generation 1, 2 routes, listener %s", st, g.Listen)
		}
	})

	t.Run("unknown endpoint", func(t *testing.T) {
		resp, body := admin("/nope")
		checkError(t, resp.StatusCode, resp.Header, body, http.StatusNotFound)
	})

	resp, cfg := admin("/config")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/config: %d %s", resp.StatusCode, cfg)
	}
	t.Run("env secret never shown", func(t *testing.T) {
		if strings.Contains(string(cfg), envSecret) {
			t.Errorf("/config shows the expanded ${E2E_SECRET}:\n%s", cfg)
		}
		resp, body := g.Get("/s")
		if got := decodeSeen(t, resp.StatusCode, body).Header.Get("X-From-Env"); got != envSecret {
			t.Errorf("upstream got X-From-Env %q, want the expanded env value", got)
		}
	})
	redacted := []struct{ key, value string }{
		{"X-Auth-Token", "literal-token-1111"},
		{"X-Api-Key", "literal-apikey-2222"},
		{"Authorization", "Bearer literal-bearer-3333"},
	}
	for _, tt := range redacted {
		t.Run("redacts "+tt.key, func(t *testing.T) {
			if strings.Contains(string(cfg), tt.value) {
				t.Errorf("/config shows the literal value of %s:\n%s", tt.key, cfg)
			}
			if !strings.Contains(string(cfg), tt.key+": '[redacted]'") && !strings.Contains(string(cfg), tt.key+`: "[redacted]"`) {
				t.Errorf("/config does not show %s as [redacted]", tt.key)
			}
		})
	}
	if !strings.Contains(string(cfg), "name: health") {
		t.Errorf("/config does not show the config:\n%s", cfg)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
