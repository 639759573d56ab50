package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// An extension registered by a package outside the core is served,
// listed in the index, guarded like any endpoint and counted under its name.
func TestExtensionEndpoint(t *testing.T) {
	Register(Extension{Name: "test_echo", Pattern: "POST /test/echo", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, http.StatusOK, map[string]string{"got": string(b)})
	})})
	if !slices.Contains(Endpoints, "test_echo") {
		t.Errorf("Endpoints %v lacks the extension's name", Endpoints)
	}
	b := &observedBackend{}
	p := open(t)
	h := handler(b, func() *Policy { return p }, slog.New(slog.DiscardHandler))
	send := func(method, path, ctype, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Host = "127.0.0.1:9901"
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		h.ServeHTTP(w, req)
		return w
	}
	if w := send("POST", "/test/echo", "application/json", `{"a":1}`); w.Code != 200 || !strings.Contains(w.Body.String(), `{\"a\":1}`) {
		t.Errorf("POST /test/echo: %d %s", w.Code, w.Body)
	}
	if w := send("POST", "/test/echo", "text/plain", `x`); w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a write with a non-JSON body: %d, want 415 from the guard", w.Code)
	}
	if w := send("GET", "/", "", ""); !strings.Contains(w.Body.String(), `"POST /test/echo"`) {
		t.Errorf("index does not list the extension: %s", w.Body)
	}
	if got, want := strings.Join(b.got, "|"), "test_echo OK|test_echo Unsupported Media Type|index OK"; got != want {
		t.Errorf("observed %s, want %s", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a pattern twice did not panic")
		}
	}()
	Register(Extension{Name: "test_echo2", Pattern: "POST /test/echo", Handler: http.NotFoundHandler()})
}
