// Package demo is the embedded demo: a config and the small services it
// routes to, all in-process on loopback, so `wasmgate serve` with no config
// shows every part of the gateway working in one command.
package demo

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// orderCheck is plugins/json-validate (copied here by `make plugins`): the
// demo's Wasm filter, validating POST /api/orders bodies. The gateway loads
// plugins from files, so Start writes it to a temporary one.
//
//go:embed json-validate.wasm
var orderCheck []byte

//go:embed demo.yaml
var configYAML []byte

// apiDocs are the OpenAPI documents of the demo's APIs, for the portal;
// written beside the Wasm module, as the config names files.
//
//go:embed openapi
var apiDocs embed.FS

// ConfigName is how the demo config is named in logs and errors.
const ConfigName = "<embedded demo>"

// Demo is the running demo services.
type Demo struct {
	servers []*http.Server
	grpc    *grpc.Server
	tmp     string // the directory holding the demo's Wasm module
	Config  []byte // the demo config, ready for config.Parse
}

// Start runs the demo services on ephemeral loopback ports and exports their
// addresses to the environment for the demo config's ${ENV} references.
func Start() (*Demo, error) {
	d := &Demo{Config: configYAML}
	tmp, err := os.MkdirTemp("", "wasmgate-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.tmp = tmp
	wasm := filepath.Join(tmp, "order-check.wasm")
	if err := os.WriteFile(wasm, orderCheck, 0o600); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.Setenv("WASMGATE_DEMO_ORDER_CHECK", wasm); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.writeDocs(); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	services := map[string]http.Handler{
		"WASMGATE_DEMO_INDEX":  indexService(),
		"WASMGATE_DEMO_USERS":  usersService(),
		"WASMGATE_DEMO_ORDERS": ordersService(),
		"WASMGATE_DEMO_RECS":   recommendationsService(),
	}
	for env, h := range services {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("demo service: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
		d.servers = append(d.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		if err := os.Setenv(env, "http://"+ln.Addr().String()); err != nil {
			d.Close()
			return nil, err
		}
	}
	if err := d.startGRPC(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// writeDocs writes the demo's OpenAPI documents to the temporary
// directory and exports it as WASMGATE_DEMO_DOCS.
func (d *Demo) writeDocs() error {
	dir := filepath.Join(d.tmp, "openapi")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	entries, err := apiDocs.ReadDir("openapi")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := apiDocs.ReadFile("openapi/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return os.Setenv("WASMGATE_DEMO_DOCS", dir)
}

// startGRPC runs the demo's gRPC service: grpc-go's standard health
// service ("" and "demo" serving) with server reflection, so grpcurl can
// list and call it through the gateway without .proto files.
func (d *Demo) startGRPC() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo gRPC service: %w", err)
	}
	d.grpc = grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("demo", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(d.grpc, hs)
	reflection.Register(d.grpc)
	go func() { _ = d.grpc.Serve(ln) }()
	return os.Setenv("WASMGATE_DEMO_GRPC", "http://"+ln.Addr().String())
}

// Close stops the demo services.
func (d *Demo) Close() {
	for _, s := range d.servers {
		_ = s.Close()
	}
	if d.grpc != nil {
		d.grpc.Stop()
	}
	if d.tmp != "" {
		_ = os.RemoveAll(d.tmp)
	}
}

// Banner is what `wasmgate serve` prints when the demo starts. Each shell
// variable is set on a line before the curl line that reads it, so the
// lines can be pasted in order.
func Banner(listen, admin string) string {
	return fmt.Sprintf(`
wasmgate demo is running on http://%[1]s (admin API on http://%[2]s)
Console: http://%[2]s/ui/
Portal:  http://%[1]s/docs/        (the demo's APIs, documented)

Try:
  curl -s http://%[1]s/                   # every demo route, with what it shows
  curl -s http://%[1]s/api/home/42 -i     # one request, three backends, one merged JSON

  TOKEN=%[3]s
  curl -s http://%[1]s/api/me -H "Authorization: Bearer $TOKEN"

  API key (X-API-Key, for /api/partner/orders): %[4]s

  grpcurl -plaintext %[1]s list           # gRPC (h2c): health service, with reflection
  grpcurl -plaintext -d '{"service":"demo"}' %[1]s grpc.health.v1.Health/Check

More: /api/users/42 (templated, rewritten); /api/users (rate limited per client: a burst
of 10 requests first, then 5/s; past that, 429); POST /api/orders; /api/orders/stream (SSE).
Admin: /routes /upstreams /metrics /config.
Stop with Ctrl-C.
`, listen, admin, DemoToken(), DemoAPIKey)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func indexService() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"service": "wasmgate demo",
			"routes": []map[string]string{
				{"route": "GET /", "what": "this list"},
				{"route": "GET /api/users", "what": "all users (rewritten to /users)"},
				{"route": "GET /api/users/{id}", "what": "one user; the gateway adds X-User-Id from the path"},
				{"route": "GET|POST /api/orders", "what": "list or create orders (prefix /api stripped); a Wasm filter (plugins/json-validate) checks POST bodies: item a string, qty an integer 1..100, else 400 with the reason; the openapi filter checks every request against the API's OpenAPI document (GET /api/orders?user=abc: 400 naming query.user)"},
				{"route": "GET /api/orders/stream", "what": "server-sent events, streamed through unbuffered"},
				{"route": "GET /api/home/{id}", "what": "aggregated: profile, then that user's orders, and recommendations (optional, sometimes slow) in one JSON"},
				{"route": "GET /api/me", "what": "who you are: needs a JWT (Authorization: Bearer, the banner prints one)"},
				{"route": "GET /api/partner/orders", "what": "orders for partners: needs an API key (X-API-Key, the banner prints it)"},
				{"route": "POST /grpc.health.v1.Health/*", "what": "gRPC (h2c, and gRPC-Web from browsers): the standard health service, Check and Watch; grpcurl -plaintext HOST:PORT list (server reflection)"},
				{"route": "GET /health", "what": "answered by the gateway itself"},
				{"route": "GET /docs/", "what": "the developer portal: the demo's APIs from their OpenAPI documents, with the auth and rate limits the gateway applies"},
			},
		})
	})
}

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Team string `json:"team"`
}

var users = []user{{1, "Ada", "compilers"}, {2, "Grace", "languages"}, {42, "Douglas", "guides"}}

func usersService() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, users)
	})
	// What the gateway says about the caller, after authenticating it.
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"consumer": r.Header.Get("X-Consumer-Name"),
			"email":    r.Header.Get("X-User-Email"),
		})
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "id must be a number", "status": 400})
			return
		}
		for _, u := range users {
			if u.ID == id {
				writeJSON(w, http.StatusOK, map[string]any{
					"user": u,
					// Shown so a newcomer sees what the gateway added on the way.
					"seen_by_upstream": map[string]string{
						"X-User-Id":       r.Header.Get("X-User-Id"),
						"X-Forwarded-For": r.Header.Get("X-Forwarded-For"),
						"Forwarded":       r.Header.Get("Forwarded"),
					},
				})
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such user", "status": 404})
	})
	return mux
}

type order struct {
	ID   int    `json:"id"`
	Item string `json:"item"`
	Qty  int    `json:"qty"`
	User int    `json:"user,omitempty"` // who ordered; GET /orders?user=ID filters by it
}

func ordersService() http.Handler {
	var (
		mu     sync.Mutex
		orders = []order{{1, "keyboard", 1, 42}, {2, "towel", 1, 42}, {3, "notebook", 3, 1}}
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if u := r.URL.Query().Get("user"); u != "" {
			mine := []order{}
			for _, o := range orders {
				if strconv.Itoa(o.User) == u {
					mine = append(mine, o)
				}
			}
			writeJSON(w, http.StatusOK, mine)
			return
		}
		writeJSON(w, http.StatusOK, orders)
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var o order
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		if err := dec.Decode(&o); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "order too large", "status": 413})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body must be an order: {\"item\": \"...\", \"qty\": N}", "status": 400})
			return
		}
		if strings.TrimSpace(o.Item) == "" || o.Qty <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "item is required and qty must be positive", "status": 400})
			return
		}
		mu.Lock()
		o.ID = len(orders) + 1
		orders = append(orders, o)
		mu.Unlock()
		writeJSON(w, http.StatusCreated, o)
	})
	mux.HandleFunc("GET /orders/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 1; i <= 5; i++ {
			fmt.Fprintf(w, "event: order\ndata: {\"seq\": %d}\n\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	return mux
}

// recommendationsService is slow on every third request, so the aggregated
// /api/home/{id} route shows an optional call left out (X-Wasmgate-Partial).
func recommendationsService() http.Handler {
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /recommendations/{id}", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			select {
			case <-time.After(500 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"for":   r.PathValue("id"),
			"items": []string{"The Hitchhiker's Guide", "Structure and Interpretation of Computer Programs"},
		})
	})
	return mux
}

// YAML is the demo config as embedded, before Start fills in its ports.
func YAML() []byte { return configYAML }
