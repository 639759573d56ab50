package gateway

import (
	"strings"
	"testing"
)

// validate builds the tls.acme blocks without starting them: a store that
// is not there, or a CA root that cannot be read, is found before serving.
func TestCheckACME(t *testing.T) {
	for _, tt := range []struct{ store, want string }{
		// filters/internal/stores, which adds redis, is not linked here.
		{`{ type: redis }`, `gw.yaml:9:18: listeners[1].tls.acme.store.type: "redis" is not a store this build has`},
		{`{ dir: /tmp }`, `listeners[1].tls.acme.ca_root: cannot load /nonexistent/ca.pem`},
	} {
		_, err := Check(Source{Name: "gw.yaml", Bytes: []byte(`
listeners:
  - { name: plain, address: "127.0.0.1:0" }
  - name: tls
    address: "127.0.0.1:0"
    tls:
      acme:
        names: [api.example.com]
        store: ` + tt.store + `
        ca_root: /nonexistent/ca.pem
routes:
  - { name: r, respond: { status: 200 } }
`)}, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("store %s: Check = %v, want %q", tt.store, err, tt.want)
		}
	}
}
