package config

import (
	"strings"
	"testing"
)

func TestResponseHygieneValidation(t *testing.T) {
	got := parseErrs(t, `
listeners: [{address: ":8080"}]
server:
  server_header: "gw\r\nX-Injected: 1"
  hide_response_headers: [X-Powered-By, "bad name", content-length, x-powered-by, Server]
`, nil)
	want := []string{
		`server.server_header: holds a control character`,
		`server.hide_response_headers[1]: "bad name" is not a header name`,
		`server.hide_response_headers[2]: Content-Length frames the response`,
		`server.hide_response_headers[3]: X-Powered-By is already listed at hide_response_headers[0]`,
		`server.hide_response_headers[4]: Server is already replaced by server.server_header`,
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing error %q in:\n%s", w, all)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(got), len(want), all)
	}

	c, err := parse("gw.yaml", doc(`
listeners: [{address: ":8080"}]
server: {server_header: wasmgate, hide_response_headers: [X-Powered-By]}
`), env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.ServerHeader != "wasmgate" || len(c.Server.HideResponseHeaders) != 1 {
		t.Errorf("server = %+v", c.Server)
	}
}
