package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/wasmgate/wasmgate/internal/pebbletest"
)

func serialOf(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

// Revoke before anything is asked of the CA: a reason outside RFC 5280's
// operator reasons, a name no block manages, a managed name with no
// certificate yet (the CA is down). None counts as a revocation.
func TestRevokeRefusedBeforeTheCA(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	r.pebble.Down()
	if err := r.apply(t, block(t, r, `, names: [api.example.test], challenges: [http-01]`)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, reason string
		want         error
	}{
		{"api.example.test", "certificateHold", ErrBadReason},
		{"other.example.test", "keyCompromise", ErrNotManaged},
		{"api.example.test", "", ErrNoCertificate},
		{"API.example.test.", "superseded", ErrNoCertificate},
	} {
		if _, err := r.m.Revoke(ctx, tc.name, tc.reason); !errors.Is(err, tc.want) {
			t.Errorf("Revoke(%q, %q) = %v, want %v", tc.name, tc.reason, err, tc.want)
		}
	}
	for i := range r.m.revocations {
		if n := r.m.revocations[i].Load(); n != 0 {
			t.Errorf("%d revocations counted as %s", n, revokeResultNames[i])
		}
	}
}

// The CA unreachable during the revocation: a CAError (not revoked), and
// nothing changes: the certificate stays stored and served. Once the CA is
// back the same call revokes and replaces it.
func TestRevokeCADownChangesNothing(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	if err := r.apply(t, block(t, r, `, names: [api.example.test], challenges: [http-01]`)); err != nil {
		t.Fatal(err)
	}
	first := r.waitServed(t, "api.example.test", anyCert)
	r.pebble.Down()
	_, err := r.m.Revoke(context.Background(), "api.example.test", "keyCompromise")
	var caErr *CAError
	if !errors.As(err, &caErr) || caErr.Revoked {
		t.Fatalf("Revoke with the CA down = %v, want a CAError, not revoked", err)
	}
	if got, err := r.serve("api.example.test"); err != nil || serialOf(got) != serialOf(first) {
		t.Fatalf("after a refused revocation: %v, %v; want serial %s still", got, err, serialOf(first))
	}
	if r.m.revocations[revokedCARefused].Load() != 1 {
		t.Fatalf("ca_refused not counted")
	}
	r.pebble.Up()
	rev, err := r.m.Revoke(context.Background(), "api.example.test", "keyCompromise")
	if err != nil || rev.RevokedSerial != serialOf(first) || rev.NewSerial == "" || rev.NewSerial == rev.RevokedSerial {
		t.Fatalf("Revoke with the CA back = %+v, %v", rev, err)
	}
	if got, err := r.serve("api.example.test"); err != nil || serialOf(got) != rev.NewSerial {
		t.Fatalf("after the revocation: %v, %v; want serial %s", got, err, rev.NewSerial)
	}
}

// A certificate revoked elsewhere (with its key: pebble answers
// alreadyRevoked to a second revocation) is still replaced.
func TestRevokeAlreadyRevokedIsReplaced(t *testing.T) {
	r := newRig(t, pebbletest.Options{})
	if err := r.apply(t, block(t, r, `, names: [api.example.test], challenges: [http-01]`)); err != nil {
		t.Fatal(err)
	}
	first := r.waitServed(t, "api.example.test", anyCert)
	b, _ := r.m.managing("api.example.test")
	pemBytes, err := b.cm.Storage.Load(context.Background(), certmagic.StorageKeys.SiteCert(b.issuer.IssuerKey(), "api.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.issuer.Revoke(context.Background(), certmagic.CertificateResource{CertificatePEM: pemBytes}, 1); err != nil {
		t.Fatalf("revoking out of band: %v", err)
	}
	rev, err := r.m.Revoke(context.Background(), "api.example.test", "keyCompromise")
	if err != nil || rev.RevokedSerial != serialOf(first) || rev.NewSerial == "" || rev.NewSerial == rev.RevokedSerial {
		t.Fatalf("Revoke of an already revoked certificate = %+v, %v", rev, err)
	}
	if got, err := r.serve("api.example.test"); err != nil || serialOf(got) != rev.NewSerial {
		t.Fatalf("after the revocation: %v, %v; want serial %s", got, err, rev.NewSerial)
	}
	if n := r.pebble.Issued(); n != 2 {
		t.Fatalf("pebble issued %d, want 2", n)
	}
}
