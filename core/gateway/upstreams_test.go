package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// GET /upstreams is an API: its keys, their order and when optional ones
// appear are pinned here, for an upstream with an error-ratio breaker and an
// ejected target, one with only limits, and one with neither.
func TestUpstreamsJSONShape(t *testing.T) {
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
upstreams:
  down:
    targets: [{ url: "http://127.0.0.1:1" }]
    health: { passive: { failures: 1, eject: 1h, max_eject: 1h } }
    circuit_breaker: { error_ratio: 50, min_requests: 1 }
  limited:
    targets: [{ url: %q }]
    circuit_breaker: { max_requests: 100 }
  plain:
    targets: [{ url: %q }]
routes:
  - { name: broken, match: { path: /broken }, upstream: down }
  - { name: ok, match: { path: /ok }, upstream: plain }
`, up.URL, up.URL)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, base := startGateway(t, file)
	if resp, _ := get(t, base+"/broken"); resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("/broken: %v, want 502", resp)
	}
	resp, err := http.Get("http://" + g.AdminAddr().String() + "/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	var ups []json.RawMessage
	if err := json.Unmarshal(body, &ups); err != nil || len(ups) != 3 {
		t.Fatalf("/upstreams: %v, %s", err, body)
	}
	const (
		upstreamKeys = "name balancer in_flight retries_in_flight pending retries retries_denied panic_picks"
		targetKeys   = "url host weight available healthy ejected %sejections in_flight ewma_ms slow_start_share requests failures"
	)
	want := []struct {
		upstream, breaker, target string
	}{
		{upstreamKeys + " circuit_breaker targets", "state open_until opens overflows", fmt.Sprintf(targetKeys, "ejected_until ")},
		{upstreamKeys + " circuit_breaker targets", "state opens overflows", fmt.Sprintf(targetKeys, "")},
		{upstreamKeys + " targets", "", fmt.Sprintf(targetKeys, "")},
	}
	for i, w := range want {
		var u struct {
			Name    string            `json:"name"`
			Breaker json.RawMessage   `json:"circuit_breaker"`
			Targets []json.RawMessage `json:"targets"`
		}
		if err := json.Unmarshal(ups[i], &u); err != nil || len(u.Targets) != 1 {
			t.Fatalf("upstream %d: %v, %s", i, err, ups[i])
		}
		if got := keys(t, ups[i]); got != w.upstream {
			t.Errorf("%s keys:\n  %s\nwant:\n  %s", u.Name, got, w.upstream)
		}
		if got := keys(t, u.Breaker); got != w.breaker {
			t.Errorf("%s circuit_breaker keys:\n  %s\nwant:\n  %s", u.Name, got, w.breaker)
		}
		if got := keys(t, u.Targets[0]); got != w.target {
			t.Errorf("%s target keys:\n  %s\nwant:\n  %s", u.Name, got, w.target)
		}
	}
	var down struct {
		Breaker struct {
			State string `json:"state"`
			Opens uint64 `json:"opens"`
		} `json:"circuit_breaker"`
		Targets []struct {
			Available, Ejected, Healthy   bool
			Ejections, Requests, Failures uint64
		} `json:"targets"`
	}
	if err := json.Unmarshal(ups[0], &down); err != nil {
		t.Fatal(err)
	}
	if b := down.Breaker; b.State != "open" || b.Opens != 1 {
		t.Errorf("down's breaker %+v, want open once", b)
	}
	if tg := down.Targets[0]; tg.Available || !tg.Ejected || !tg.Healthy || tg.Ejections != 1 || tg.Requests != 1 || tg.Failures != 1 {
		t.Errorf("down's target %+v, want ejected once after one failed request", tg)
	}
}

// keys lists an object's keys in the order they were written; "" for none.
func keys(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(out, " ")
}
