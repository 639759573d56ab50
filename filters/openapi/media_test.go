package openapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mediaDoc = `
openapi: 3.1.0
info: { title: Media, version: "1" }
paths:
  /things:
    post:
      requestBody:
        required: true
        content:
          "*/*": {}
          application/json:
            schema: { type: object, required: [n], properties: { n: { type: integer } } }
      responses:
        "200": { description: OK. }
  /charset:
    post:
      requestBody:
        content:
          "application/json; charset=utf-8":
            schema: { type: object, required: [n] }
      responses:
        "200":
          description: OK.
          content:
            "Application/JSON; charset=utf-8": {}
  /wild:
    post:
      requestBody:
        content:
          application/*:
            schema: { type: object, required: [n] }
      responses:
        "200": { description: OK. }
`

func mediaFilter(t *testing.T) *Filter {
	t.Helper()
	path := filepath.Join(t.TempDir(), "media.yaml")
	if err := os.WriteFile(path, []byte(mediaDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	return build(t, &Config{Spec: path})
}

// TestMediaTypes: the body's Content-Type picks the most specific
// documented media type (an exact one before application/* before */*),
// whatever its case and parameters; a body with a Content-Encoding is not
// read as JSON.
func TestMediaTypes(t *testing.T) {
	f := mediaFilter(t)
	for _, tc := range []struct {
		name, url, body string
		hdr             []string
		status          int
		want            string
	}{
		{"json", "/things", `{"n":1}`, []string{"Content-Type", "application/json"}, 0, ""},
		{"json with charset", "/things", `{"n":"x"}`, []string{"Content-Type", "application/json; charset=utf-8"}, 400, "/body/n"},
		{"upper case", "/things", `{"n":"x"}`, []string{"Content-Type", "APPLICATION/JSON"}, 400, "/body/n"},
		{"space before parameters", "/things", `{}`, []string{"Content-Type", "application/json ; charset=UTF-8"}, 400, `"n\" is missing`},
		{"exact before */*", "/things", `{"n":"x"}`, []string{"Content-Type", "application/json"}, 400, "/body/n"},
		{"other types take */*", "/things", `anything`, []string{"Content-Type", "text/plain"}, 0, ""},
		{"empty required body", "/things", ``, []string{"Content-Type", "application/json"}, 400, "a request body is required"},
		{"problem+json under application/*", "/wild", `{}`, []string{"Content-Type", "application/problem+json"}, 400, `"n\" is missing`},
		{"documented with parameters", "/charset", `{"n":1}`, []string{"Content-Type", "application/json"}, 0, ""},
		{"documented with parameters, checked", "/charset", `{}`, []string{"Content-Type", "application/json;charset=utf-8"}, 400, `"n\" is missing`},
		{"two Content-Types", "/things", `{"n":"x"}`, []string{"Content-Type", "text/plain", "Content-Type", "application/json"}, 415, "one Content-Type"},
		{"a list in Content-Type", "/things", `{"n":"x"}`, []string{"Content-Type", "text/plain, application/json"}, 415, "not a media type"},
		{"no subtype", "/things", `{"n":"x"}`, []string{"Content-Type", "application"}, 415, "not a media type"},
		{"gzip", "/things", "\x1f\x8b\x08\x00garbage", []string{"Content-Type", "application/json", "Content-Encoding", "gzip"}, 415, "Content-Encoding"},
		{"gzip under */*", "/things", "\x1f\x8b\x08\x00garbage", []string{"Content-Type", "text/plain", "Content-Encoding", "gzip"}, 415, "Content-Encoding"},
		{"identity", "/things", `{"n":1}`, []string{"Content-Type", "application/json", "Content-Encoding", "identity"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.OnRequest(exchange("POST", tc.url, tc.body, tc.hdr...))
			if tc.status == 0 {
				if resp != nil {
					t.Fatalf("refused %d %s", resp.Status, resp.Body)
				}
				return
			}
			if resp == nil || resp.Status != tc.status || !strings.Contains(string(resp.Body), tc.want) {
				if resp == nil {
					t.Fatalf("let through, want %d %q", tc.status, tc.want)
				}
				t.Fatalf("%d %s, want %d %q", resp.Status, resp.Body, tc.status, tc.want)
			}
		})
	}
}

// TestRefusalsEchoCapped: a refusal that names what the request sent
// (its path, its method, its Content-Type) quotes it JSON-escaped and
// cut short, so a request cannot make a large answer or break its JSON.
func TestRefusalsEchoCapped(t *testing.T) {
	f := mediaFilter(t)
	long := strings.Repeat("a", 8000)
	for _, x := range []struct {
		name, method, url string
		hdr               []string
	}{
		{"404 path", "GET", "/" + long + "%22%3C%00", nil},
		{"415 type", "POST", "/things?", []string{"Content-Encoding", "x-" + long}},
		{"415 media", "POST", "/wild", []string{"Content-Type", "text/" + long + "\"<"}},
	} {
		t.Run(x.name, func(t *testing.T) {
			resp := f.OnRequest(exchange(x.method, x.url, `{}`, x.hdr...))
			if resp == nil {
				t.Fatal("let through")
			}
			var body struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(resp.Body, &body); err != nil || body.Status != resp.Status {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if len(resp.Body) > 1024 {
				t.Errorf("a %d-byte answer: %.200s", len(resp.Body), resp.Body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestAcceptQuality: a media range with q=0 (however spelled) is "not
// acceptable"; any other q admits it.
func TestAcceptQuality(t *testing.T) {
	f := mediaFilter(t)
	if resp := f.OnRequest(exchange("POST", "/charset", `{"n":1}`, "Content-Type", "application/json", "Accept", "application/json")); resp != nil {
		t.Errorf("a response type documented with parameters: %d %s", resp.Status, resp.Body)
	}
	op := &operation{produces: []string{"application/json"}}
	for accept, want := range map[string]bool{
		"application/json":                   true,
		"application/json;q=0":               false,
		"application/json; q=0.0":            false,
		"application/json;q=0.000":           false,
		"application/json;Q=0":               false,
		"application/json;q=0.001":           true,
		"application/json;q=0, */*;q=0.1":    true,
		"text/html, application/json;q=0.5":  true,
		"text/html":                          false,
		"application/json;charset=utf-8;q=0": false,
		"*/*;q=0":                            false,
	} {
		if got := acceptable(op, accept); got != want {
			t.Errorf("Accept %q: acceptable %v, want %v", accept, got, want)
		}
	}
}
