package observe

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func accessLogConfig(upstreamURL, logPath, extra string) string {
	return `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
observability:
  access_log: { path: ` + yamlQuote(logPath) + extra + ` }
  request_id: {}
upstreams:
  users: { targets: [{ url: ` + yamlQuote(upstreamURL) + ` }] }
routes:
  - { name: user, match: { path: "/users/{id}" }, upstream: users }
  - { name: admin, match: { prefix: /admin }, filters: [observe_test_deny: {}], upstream: users }
`
}

// readLines waits for n lines in the log file (it is written asynchronously).
func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var lines []string
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		if len(lines) >= n || time.Now().After(deadline) {
			if len(lines) != n {
				t.Fatalf("access log has %d lines, want %d:\n%s", len(lines), n, strings.Join(lines, "\n"))
			}
			return lines
		}
		time.Sleep(5 * time.Millisecond) // poll interval; the lines in the file are what is waited for
	}
}

func TestAccessLogJSON(t *testing.T) {
	up, got := upstream(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	_, base, _ := start(t, accessLogConfig(up.URL, logPath, ""))

	ok, _ := do(t, "GET", base+"/users/42?token=secret", "User-Agent", "test/1")
	denied, _ := do(t, "GET", base+"/admin/x", "X-Request-Id", "client-chosen-id")
	do(t, "GET", base+"/nowhere")
	lines := readLines(t, logPath, 3)

	var recs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s: %v", l, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.Clone(AccessLogFields)
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("fields %v, want %v", keys, want)
		}
		recs = append(recs, m)
	}
	r := recs[0]
	for k, want := range map[string]any{
		"request_id": ok.Header.Get("X-Request-Id"), "trace_id": "", "client_ip": "127.0.0.1",
		"method": "GET", "path": "/users/42", "protocol": "HTTP/1.1", "route": "user",
		"status": 200.0, "bytes_in": 0.0, "bytes_out": 5.0, "upstream": "users",
		"upstream_target": strings.TrimPrefix(up.URL, "http://"), "attempts": 1.0,
		"consumer": "", "rejected_by": "", "user_agent": "test/1", "error": "",
	} {
		if r[k] != want {
			t.Errorf("proxied line: %s = %#v, want %#v", k, r[k], want)
		}
	}
	if d, _ := r["duration_us"].(float64); d <= 0 {
		t.Errorf("duration_us = %v", r["duration_us"])
	}
	if d, _ := r["upstream_duration_us"].(float64); d <= 0 || d > r["duration_us"].(float64) {
		t.Errorf("upstream_duration_us = %v, duration_us = %v", r["upstream_duration_us"], r["duration_us"])
	}
	if ts, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("time = %v (%v)", r["time"], err)
	}
	if id := got.last().Get("X-Request-Id"); id != r["request_id"] || len(id) != 32 {
		t.Errorf("upstream saw request ID %q, client %q: want the same generated 32 hex digits", id, r["request_id"])
	}

	d := recs[1]
	for k, want := range map[string]any{
		"request_id": "client-chosen-id", "route": "admin", "status": 403.0,
		"rejected_by": "observe_test_deny", "upstream": "", "attempts": 0.0,
	} {
		if d[k] != want {
			t.Errorf("denied line: %s = %#v, want %#v", k, d[k], want)
		}
	}
	if h := denied.Header.Get("X-Request-Id"); h != "client-chosen-id" {
		t.Errorf("client got request ID %q back, want its own", h)
	}
	if n := recs[2]; n["route"] != "" || n["status"] != 404.0 {
		t.Errorf("unrouted line: route %v status %v, want \"\" and 404", n["route"], n["status"])
	}
}

func TestAccessLogTextAndFields(t *testing.T) {
	up, _ := upstream(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	_, base, _ := start(t, accessLogConfig(up.URL, logPath, `, format: text, fields: [route, request_id]`))
	do(t, "GET", base+"/users/1", "X-Request-Id", "abc")
	line := readLines(t, logPath, 1)[0]
	re := regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /users/1 HTTP/1\.1" 200 5 route=user request_id=abc$`)
	if !re.MatchString(line) {
		t.Errorf("text line %q does not match %s", line, re)
	}
}

// A malformed client ID is replaced, and the replacement is what everyone sees.
func TestRequestIDReplacesMalformed(t *testing.T) {
	up, got := upstream(t)
	_, base, _ := start(t, accessLogConfig(up.URL, filepath.Join(t.TempDir(), "a.log"), ""))
	resp, _ := do(t, "GET", base+"/users/1", "X-Request-Id", `bad id"`)
	id := resp.Header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("client got request ID %q, want a generated one", id)
	}
	if up := got.last().Get("X-Request-Id"); up != id {
		t.Errorf("upstream got %q, client %q", up, id)
	}
}
