package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	needBinary(t)
	g := startGateway(t, "", nil, startOptions{Demo: true})

	t.Run("index lists routes", func(t *testing.T) {
		resp, body := g.Get("/")
		var index struct {
			Routes []struct{ Route string } `json:"routes"`
		}
		if err := json.Unmarshal(body, &index); err != nil || resp.StatusCode != 200 || len(index.Routes) == 0 {
			t.Fatalf("GET /: %d %s (%v)", resp.StatusCode, body, err)
		}
		if !strings.Contains(string(body), "/api/users/{id}") {
			t.Errorf("GET / does not list /api/users/{id}: %s", body)
		}
		if got := resp.Header.Get("X-Served-By"); got != "wasmgate (index)" {
			t.Errorf("X-Served-By %q, want \"wasmgate (index)\"", got)
		}
	})

	t.Run("templated user route", func(t *testing.T) {
		resp, body := g.Get("/api/users/42")
		var u struct {
			User struct {
				ID int `json:"id"`
			} `json:"user"`
			Seen map[string]string `json:"seen_by_upstream"`
		}
		if err := json.Unmarshal(body, &u); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /api/users/42: %d %s (%v)", resp.StatusCode, body, err)
		}
		if u.User.ID != 42 || u.Seen["X-User-Id"] != "42" || u.Seen["X-Forwarded-For"] != "127.0.0.1" {
			t.Errorf("GET /api/users/42: %s; want user 42, X-User-Id 42 and X-Forwarded-For 127.0.0.1 seen upstream", body)
		}
	})

	t.Run("create order", func(t *testing.T) {
		req := newRequest(t, "POST", g.URL("/api/orders"), strings.NewReader(`{"item":"book","qty":2}`))
		req.Header.Set("Content-Type", "application/json")
		resp, body := g.Do(req)
		if resp.StatusCode != 201 || !strings.Contains(string(body), `"item":"book"`) {
			t.Errorf("POST /api/orders: %d %s, want 201 with the order", resp.StatusCode, body)
		}
	})

	t.Run("order validated by the wasm filter", func(t *testing.T) {
		for _, c := range []struct {
			body, want string
		}{
			{`{"item":"book","qty":500}`, `"field":"qty"`},
			{`{"qty":2}`, `"item"`},
			{`{"item":"book","qty":"two"}`, `"field":"qty"`},
		} {
			req := newRequest(t, "POST", g.URL("/api/orders"), strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			resp, body := g.Do(req)
			if resp.StatusCode != 400 || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), `"status":400`) {
				t.Errorf("POST /api/orders %s: %d %s, want the plugin's 400 naming %s", c.body, resp.StatusCode, body, c.want)
			}
		}
		req := newRequest(t, "POST", g.URL("/api/orders"), strings.NewReader(`{"item":"lamp","qty":100}`))
		req.Header.Set("Content-Type", "application/json")
		if resp, body := g.Do(req); resp.StatusCode != 201 || !strings.Contains(string(body), `"item":"lamp"`) {
			t.Errorf("POST /api/orders (valid): %d %s, want 201", resp.StatusCode, body)
		}
	})

	t.Run("banner", func(t *testing.T) {
		// The banner is printed just after the gateway turns ready.
		var out string
		err := poll(5*time.Second, func() error {
			if out = g.Stdout.String(); !strings.Contains(out, "Admin:") {
				return fmt.Errorf("no banner yet: %q", out)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out, "curl -s http://"+g.Listen+"/"); n != 3 {
			t.Errorf("banner has %d curl lines for %s, want 3:\n%s", n, g.Listen, out)
		}
		if !strings.Contains(out, g.Admin) {
			t.Errorf("banner does not name the admin address %s:\n%s", g.Admin, out)
		}
	})
}
