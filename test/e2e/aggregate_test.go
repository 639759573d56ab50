package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const aggregateConfig = head + `
upstreams:
  users: { targets: [{ url: "{{.api}}" }] }
  orders: { targets: [{ url: "{{.api}}" }] }
  inventory: { targets: [{ url: "{{.api}}" }] }
routes:
  - name: profile
    match: { path: "/profile/{id}" }
    aggregate:
      calls:
        - { name: profile, upstream: users, path: "/users/{id}", as: profile, deny: [secret] }
        - { upstream: orders, path: "/orders?user={profile.id}", after: profile, select: data.items, allow: [id, total], as: orders }
        - { name: stock, upstream: inventory, path: /broken, as: stock, required: false }
  - name: strict
    match: { path: "/strict/{id}" }
    aggregate:
      calls:
        - { name: profile, upstream: users, path: "/users/{id}", as: profile }
        - { name: stock, upstream: inventory, path: /broken, as: stock }
`

// Aggregation through the real binary: one client request becomes backend
// calls (one waiting on another's result), merged into one JSON object with
// fields selected, allowed and denied; an optional call that fails is left
// out and named, a required one fails the response with 502.
func TestAggregate(t *testing.T) {
	needBinary(t)
	var mu sync.Mutex
	var calls []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/users/u7":
			_, _ = w.Write([]byte(`{"id":"u7","name":"Ann","secret":"hunter2"}`))
		case r.URL.Path == "/orders" && r.URL.Query().Get("user") == "u7":
			_, _ = w.Write([]byte(`{"data":{"items":[{"id":1,"total":9.5,"internal":true},{"id":2,"total":3,"internal":false}]}}`))
		default:
			http.Error(w, `{"error":"broken"}`, http.StatusInternalServerError)
		}
	}))
	t.Cleanup(api.Close)
	g := startGateway(t, aggregateConfig, vars{"api": api.URL})

	resp, body := g.Get("/profile/u7")
	if resp.StatusCode != 200 {
		t.Fatalf("/profile/u7: %d %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("merged response is not JSON: %v: %s", err, body)
	}
	want := map[string]any{
		"profile": map[string]any{"id": "u7", "name": "Ann"},
		"orders":  []any{map[string]any{"id": 1.0, "total": 9.5}, map[string]any{"id": 2.0, "total": 3.0}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s: %v, want %v (whole response %s)", k, got[k], v, body)
		}
	}
	if _, ok := got["stock"]; ok || !strings.Contains(resp.Header.Get("X-Wasmgate-Partial"), "stock") || !strings.Contains(string(body), `"_partial"`) {
		t.Errorf("the failed optional call: stock %v, X-Wasmgate-Partial %q, body %s; want it left out and named", got["stock"], resp.Header.Get("X-Wasmgate-Partial"), body)
	}
	if strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "internal") {
		t.Errorf("denied or unlisted fields in the response: %s", body)
	}

	resp, body = g.Get("/strict/u7")
	checkError(t, resp.StatusCode, resp.Header, body, http.StatusBadGateway)

	// The strict route's profile call may be cancelled when its required
	// sibling fails first, so only the first route's calls are counted
	// exactly: each backend path once per route that asks for it.
	mu.Lock()
	defer mu.Unlock()
	count := func(c string) (n int) {
		for _, got := range calls {
			if got == c {
				n++
			}
		}
		return n
	}
	if count("/orders?user=u7") != 1 || count("/broken") != 2 || count("/users/u7") < 1 || count("/users/u7") > 2 {
		t.Errorf("backend calls %q: want /orders?user=u7 once, /broken twice, /users/u7 once or twice", calls)
	}
}
