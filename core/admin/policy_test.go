package admin

import (
	"crypto/sha256"
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

func tokenPolicy(t *testing.T, tokens ...string) *Policy {
	t.Helper()
	a := &config.Admin{Auth: &config.AdminAuth{}}
	for _, tok := range tokens {
		a.Auth.Tokens = append(a.Auth.Tokens, config.AdminToken{Name: tok[:3], Hash: sha256.Sum256([]byte(tok)), Access: config.AdminAccessAdmin})
	}
	p, err := NewPolicy(a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A reload swaps the policy: the old token stops working at once.
func TestPolicyRotates(t *testing.T) {
	s, err := Start("127.0.0.1:0", tokenPolicy(t, "old-token-0123456789"), &fakeBackend{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	status := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := status("old-token-0123456789"), status("new-token-0123456789"); a != 200 || b != 401 {
		t.Fatalf("before rotation: old %d new %d, want 200 401", a, b)
	}
	next := tokenPolicy(t, "new-token-0123456789")
	if err := s.Accepts(next); err != nil {
		t.Fatal(err)
	}
	s.Use(next)
	if a, b := status("old-token-0123456789"), status("new-token-0123456789"); a != 401 || b != 200 {
		t.Errorf("after rotation: old %d new %d, want 401 200", a, b)
	}
	if err := s.Accepts(&Policy{tls: new(tls.Config)}); err == nil || !strings.Contains(err.Error(), "needs a restart") {
		t.Errorf("turning TLS on by reload: %v, want an error saying it needs a restart", err)
	}
}

func TestNewPolicyTLSErrors(t *testing.T) {
	_, err := NewPolicy(&config.Admin{TLS: &config.AdminTLS{Cert: "/nonexistent/c.pem", Key: "/nonexistent/k.pem", ClientCA: "/nonexistent/ca.pem"}})
	for _, want := range []string{"admin.tls.cert: cannot load /nonexistent/c.pem", "admin.tls.key: cannot load /nonexistent/k.pem", "admin.tls.client_ca: cannot load /nonexistent/ca.pem"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewPolicy: %v, want %q", err, want)
		}
	}
}
