package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
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

	t.Run("orders checked against their OpenAPI document", func(t *testing.T) {
		resp, body := g.Get("/api/orders?user=abc")
		if resp.StatusCode != 400 || !strings.Contains(string(body), `"location":"query.user"`) {
			t.Errorf("GET /api/orders?user=abc: %d %s, want the openapi filter's 400 naming query.user", resp.StatusCode, body)
		}
		req := newRequest(t, "GET", g.URL("/api/orders"), nil)
		req.Header.Set("Accept", "application/xml")
		if resp, body := g.Do(req); resp.StatusCode != 406 {
			t.Errorf("GET /api/orders accepting only XML: %d %s, want 406", resp.StatusCode, body)
		}
		if resp, body := g.Get("/api/orders?user=42"); resp.StatusCode != 200 {
			t.Errorf("GET /api/orders?user=42: %d %s", resp.StatusCode, body)
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
		if !strings.Contains(out, "grpcurl -plaintext "+g.Listen+" list") {
			t.Errorf("banner has no grpcurl line for %s:\n%s", g.Listen, out)
		}
		// Pasted line by line, TOKEN is set before the curl that reads it.
		set, use := strings.Index(out, "TOKEN="), strings.Index(out, "$TOKEN")
		if set < 0 || use < 0 || set > use {
			t.Errorf("banner sets TOKEN (at %d) after the curl line using it (at %d):\n%s", set, use, out)
		}
		if !strings.Contains(out, "a burst\nof 10 requests first, then 5/s") {
			t.Errorf("banner does not say the rate limit's burst:\n%s", out)
		}
		if !strings.Contains(out, "Portal:  http://"+g.Listen+"/docs/") {
			t.Errorf("banner does not give the portal's URL:\n%s", out)
		}
	})

	t.Run("portal", func(t *testing.T) {
		resp, page := g.Get("/docs/")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET /docs/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// Two APIs: orders (one route), users (three: a rate limit on the
		// list, a JWT on /api/me), each with the gateway's terms.
		for _, want := range []string{`data-api="orders"`, `data-api="users"`, "Demo orders", "Place an order",
			`data-route="users-list"`, `data-route="me"`, "Rate limit", "Rate</span> 5/s", "Burst</span> 10",
			"JWT", "Issuer</span> wasmgate-demo"} {
			if !strings.Contains(string(page), want) {
				t.Errorf("the demo's portal lacks %q", want)
			}
		}
		resp, raw := g.Get("/docs/openapi/orders.json")
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil || resp.StatusCode != 200 || doc.OpenAPI != "3.1.0" || doc.Paths["/api/orders"] == nil {
			t.Errorf("orders.json: %d %v %.200s", resp.StatusCode, err, raw)
		}
	})

	t.Run("gRPC health service", func(t *testing.T) {
		// What the README shows: a grpc-go client over h2c.
		conn, err := grpc.NewClient(g.Listen, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "demo"})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(demo): %v, %v; want SERVING", resp, err)
		}
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("Check(nope): %v, want NotFound from the server", err)
		}
		// Server reflection, which grpcurl lists the services with.
		rc, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		list, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list.GetListServicesResponse().GetService() {
			names = append(names, s.Name)
		}
		if !slices.Contains(names, "grpc.health.v1.Health") {
			t.Errorf("reflection lists %v, want grpc.health.v1.Health", names)
		}
		// gRPC-Web from a browser, on the same route.
		web := webCall(t, http.DefaultClient, "http://"+g.Listen, "/grpc.health.v1.Health/Check", "application/grpc-web-text", &healthpb.HealthCheckRequest{Service: "demo"})
		msgs, tr := readWebCall(t, web)
		var out healthpb.HealthCheckResponse
		if len(msgs) != 1 || proto.Unmarshal(msgs[0], &out) != nil || out.Status != healthpb.HealthCheckResponse_SERVING || tr.Get("Grpc-Status") != "0" {
			t.Errorf("gRPC-Web Check(demo): %q %v", msgs, tr)
		}
		// The upstream is watched with gRPC health checks.
		if err := poll(30*time.Second, func() error {
			for _, u := range upstreams(g) {
				if u.Name == "grpc" && u.Targets[0].Healthy {
					return nil
				}
			}
			return errors.New("the grpc upstream is not (yet) healthy")
		}); err != nil {
			t.Error(err)
		}
	})

	// What the banner says of the rate limit: ten at once pass, then 429.
	t.Run("rate limit burst", func(t *testing.T) {
		for i := range 10 {
			if resp, body := g.Get("/api/users"); resp.StatusCode != 200 {
				t.Fatalf("request %d of the burst of 10: %d %s", i+1, resp.StatusCode, body)
			}
		}
		// Refills at 5/s: a hundred requests in a row outrun it unless each
		// takes 200ms.
		for range 100 {
			if resp, _ := g.Get("/api/users"); resp.StatusCode == 429 {
				return
			}
		}
		t.Error("no 429 in 100 requests after the burst")
	})
}
