package upstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

// The balancer and hash-key checks live here, beside what they build, and
// run once, when config.Load judges the whole file: each problem comes back
// with its file:line:col and the values that would be valid.
func TestPolicyCheckAtLoad(t *testing.T) {
	const head = "listeners: [{address: \":8080\"}]\nroutes: [{name: r, upstream: u}]\nupstreams:\n"
	tests := []struct {
		name, upstream string
		want           []string
	}{
		{"unknown balancer", `  u: {targets: [{url: "http://a:1"}], balancer: random}`, []string{
			`gw.yaml:4:39: upstreams.u.balancer: "random" is not valid; valid values: round_robin, weighted, least_conn, p2c_ewma, consistent_hash`,
		}},
		{"keyed balancer without a key", `  u: {targets: [{url: "http://a:1"}], balancer: consistent_hash}`, []string{
			`gw.yaml:4:3: upstreams.u.hash: consistent_hash needs a key, e.g. hash: {header: X-User-ID} (or cookie, query, param, client_ip: true)`,
		}},
		{"a key nothing uses", `  u: {targets: [{url: "http://a:1"}], balancer: least_conn, hash: {header: X}}`, []string{
			`gw.yaml:4:61: upstreams.u.hash: hash is only used by balancer: consistent_hash (this upstream uses least_conn)`,
		}},
		{"two keys and a low bound", `  u: {targets: [{url: "http://a:1"}], balancer: consistent_hash, hash: {header: X, cookie: c, bounded_load: 0.5}}`, []string{
			`gw.yaml:4:66: upstreams.u.hash: set exactly one of header, cookie, query, param, client_ip`,
			`gw.yaml:4:95: upstreams.u.hash.bounded_load: 0.5 is below 1; a target may take this factor of the mean load, e.g. 1.25 (0 turns the cap off)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("gw.yaml", []byte(head+tt.upstream+"\n"))
			var es config.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %v, want config.Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
	valid := head + `  u: {targets: [{url: "http://a:1"}], balancer: consistent_hash, hash: {cookie: s, bounded_load: 1.25}}` + "\n"
	c, err := config.Parse("gw.yaml", []byte(valid))
	if err != nil {
		t.Fatalf("a valid keyed upstream: %v", err)
	}
	u, err := New("u", c.Upstreams["u"])
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if u.key == nil {
		t.Error("consistent_hash built without its key function")
	}
}
