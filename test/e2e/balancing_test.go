package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

const balancingConfig = head + `
upstreams:
  weighted:
    balancer: weighted
    targets: [{ url: "{{.w1}}", weight: 1 }, { url: "{{.w3}}", weight: 3 }]
  hashed:
    balancer: consistent_hash
    hash: { header: X-User }
    targets: [{ url: "{{.h1}}" }, { url: "{{.h2}}" }, { url: "{{.h3}}" }]
routes:
  - name: weighted
    match: { prefix: /w }
    upstream: weighted
  - name: hashed
    match: { prefix: /h }
    upstream: hashed
`

// Weighted and consistent-hash balancing through the real binary: weights
// 1 and 3 split sequential requests exactly 1:3 (smooth weighted round
// robin is deterministic); X-User keeps every user on one target while the
// users spread over all three. (The targets' ports differ per run, so the
// hash table does too: with 60 users the chance that a target gets none is
// 3·(2/3)^60, about 1e-10.)
func TestBalancing(t *testing.T) {
	needBinary(t)
	ups := map[string]*echoUpstream{}
	v := vars{}
	for _, n := range []string{"w1", "w3", "h1", "h2", "h3"} {
		ups[n] = newEcho(t, n)
		v[n] = ups[n].URL
	}
	g := startGateway(t, balancingConfig, v)

	t.Run("weighted", func(t *testing.T) {
		counts := map[string]int{}
		const n = 400
		for range n {
			resp, body := g.Get("/w/x")
			counts[decodeSeen(t, resp.StatusCode, body).Upstream]++
		}
		if counts["w1"] != n/4 || counts["w3"] != 3*n/4 {
			t.Errorf("%d requests split %v, want w1 %d and w3 %d (weights 1:3)", n, counts, n/4, 3*n/4)
		}
	})

	t.Run("consistent_hash", func(t *testing.T) {
		users := map[string]string{} // user → the target it went to
		perTarget := map[string]int{}
		const nUsers, rounds = 60, 5
		for round := range rounds {
			for u := range nUsers {
				user := fmt.Sprintf("user-%d", u)
				req := newRequest(t, http.MethodGet, g.URL("/h/x"), nil)
				req.Header.Set("X-User", user)
				resp, body := g.Do(req)
				got := decodeSeen(t, resp.StatusCode, body).Upstream
				if round == 0 {
					users[user] = got
					perTarget[got]++
				} else if got != users[user] {
					t.Errorf("round %d: %s went to %s, before to %s", round, user, got, users[user])
				}
			}
		}
		for _, n := range []string{"h1", "h2", "h3"} {
			if perTarget[n] == 0 {
				t.Errorf("no user on %s: %d users spread %v, want all three targets used", n, nUsers, perTarget)
			}
		}
		if total := ups["h1"].hits.Load() + ups["h2"].hits.Load() + ups["h3"].hits.Load(); total != nUsers*rounds {
			t.Errorf("the targets got %d requests, want %d", total, nUsers*rounds)
		}
		t.Logf("%d users over three targets: %v", nUsers, perTarget)
	})
}
