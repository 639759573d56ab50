package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/acme"
	"github.com/wasmgate/wasmgate/core/config"
)

// revokeBackend answers RevokeCertificate as the gateway would for a few
// names, and records the calls.
type revokeBackend struct {
	fakeBackend
	calls []string
}

func (b *revokeBackend) RevokeCertificate(_ context.Context, name, reason string) (acme.Revocation, error) {
	b.calls = append(b.calls, name+"/"+reason)
	if _, ok := acme.Reasons[reason]; !ok && reason != "" {
		return acme.Revocation{}, fmt.Errorf("%w %q", acme.ErrBadReason, reason)
	}
	switch name {
	case "a.test":
		return acme.Revocation{Name: name, Reason: reason, RevokedSerial: "1a", NewSerial: "2b"}, nil
	case "static.test":
		return acme.Revocation{}, fmt.Errorf("%s: %w", name, acme.ErrStatic)
	case "down.test":
		return acme.Revocation{Name: name, RevokedSerial: "3c"}, &acme.CAError{Err: fmt.Errorf("connection refused")}
	case "half.test":
		return acme.Revocation{Name: name, RevokedSerial: "4d"}, &acme.CAError{Revoked: true, Err: fmt.Errorf("rateLimited")}
	}
	return acme.Revocation{}, fmt.Errorf("%s: %w", name, acme.ErrNotManaged)
}

// POST /certificates/revoke maps the backend's outcomes to statuses, all
// JSON; it sits behind the guard like POST /reload: an admin token and a
// JSON body, a read-only token refused before the backend is called.
func TestRevokeEndpoint(t *testing.T) {
	a := &config.Admin{Auth: &config.AdminAuth{Tokens: []config.AdminToken{
		{Name: "ops", Hash: sha256.Sum256([]byte("ops-token-0123456789")), Access: config.AdminAccessAdmin},
		{Name: "ro", Hash: sha256.Sum256([]byte("ro-token-01234567890")), Access: config.AdminAccessRead},
	}}}
	p, err := NewPolicy(a)
	if err != nil {
		t.Fatal(err)
	}
	b := &revokeBackend{}
	h := handler(b, func() *Policy { return p }, slog.New(slog.DiscardHandler))
	do := func(method, token, ctype, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, "/certificates/revoke", strings.NewReader(body))
		req.Host = "127.0.0.1:9901"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, body, w.Code, w.Body)
		}
		return w.Code, out
	}
	const ops, ro, js = "ops-token-0123456789", "ro-token-01234567890", "application/json"

	for _, tc := range []struct {
		token, ctype, body string
		code               int
	}{
		{"", js, `{"name": "a.test"}`, 401},
		{ro, js, `{"name": "a.test"}`, 403},
	} {
		if code, out := do("POST", tc.token, tc.ctype, tc.body); code != tc.code {
			t.Errorf("guard: %d %v, want %d", code, out, tc.code)
		}
	}
	// Without admin.auth, a body that is not declared JSON (what a form
	// or a simple cross-site fetch sends) is refused.
	req := httptest.NewRequest("POST", "/certificates/revoke", strings.NewReader(`{"name": "a.test"}`))
	req.Host = "127.0.0.1:9901"
	req.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	handler(b, func() *Policy { return open(t) }, slog.New(slog.DiscardHandler)).ServeHTTP(w, req)
	if w.Code != 415 {
		t.Errorf("text/plain body without admin.auth: %d %s, want 415", w.Code, w.Body)
	}
	if len(b.calls) != 0 {
		t.Fatalf("the guard let calls through: %v", b.calls)
	}
	if code, _ := do("GET", ops, "", ""); code != 405 {
		t.Errorf("GET /certificates/revoke: %d, want 405", code)
	}

	code, out := do("POST", ops, js, `{"name": "a.test", "reason": "keyCompromise"}`)
	if code != 200 || out["name"] != "a.test" || out["revoked_serial"] != "1a" || out["new_serial"] != "2b" {
		t.Fatalf("revoke a.test: %d %v", code, out)
	}
	for _, tc := range []struct {
		body    string
		code    int
		revoked any
	}{
		{`{"name": "nope.test"}`, 404, nil},
		{`{"name": "static.test"}`, 409, nil},
		{`{"name": "down.test"}`, 502, false},
		{`{"name": "half.test"}`, 502, true},
		{`{"name": "a.test", "reason": "certificateHold"}`, 400, nil},
		{`{"name": ""}`, 400, nil},
		{`{"name": "a.test", "serial": "1a"}`, 400, nil},
		{`not json`, 400, nil},
	} {
		code, out := do("POST", ops, js, tc.body)
		if code != tc.code || out["status"] != float64(tc.code) || out["error"] == "" || out["revoked"] != tc.revoked {
			t.Errorf("revoke %s: %d %v, want %d (revoked: %v)", tc.body, code, out, tc.code, tc.revoked)
		}
	}
	if w := serve(t, b, p, "GET", "/", ops); !strings.Contains(w.Body.String(), "POST /certificates/revoke") {
		t.Errorf("the index does not list the endpoint: %s", w.Body)
	}
	if w := serve(t, &fakeBackend{}, open(t), "GET", "/", ""); strings.Contains(w.Body.String(), "certificates/revoke") {
		t.Errorf("a backend without certificates lists the endpoint: %s", w.Body)
	}
}
