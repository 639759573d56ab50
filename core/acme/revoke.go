package acme

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// Reasons are the revocation reasons an operator may give, with their RFC
// 5280 CRLReason codes. The others (affiliationChanged, certificateHold,
// ...) are a CA's business, not a gateway's.
var Reasons = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"superseded":           4,
	"cessationOfOperation": 5,
}

// Errors of Revoke, for the admin API to answer with the right status.
var (
	// ErrBadReason: the reason is not one of Reasons.
	ErrBadReason = errors.New("unknown revocation reason")
	// ErrNotManaged: no tls.acme block manages the name.
	ErrNotManaged = errors.New("no tls.acme block manages this name")
	// ErrNoCertificate: the name is managed but no certificate was
	// obtained for it yet (nothing to revoke).
	ErrNoCertificate = errors.New("no certificate has been obtained for this name yet")
	// ErrStatic: the name is served from a certificate file (the gateway
	// wraps ErrNotManaged with it); wasmgate cannot revoke it.
	ErrStatic = errors.New("the name is served from a static certificate (tls.certificates); revoke it with its CA and replace the files")
)

// CAError is the CA's failure: it refused the revocation, or the
// replacement order, or could not be reached. Revoked tells which: true if
// the old certificate is revoked and only its replacement failed.
type CAError struct {
	Revoked bool
	Err     error
}

func (e *CAError) Error() string {
	if e.Revoked {
		return "certificate revoked, but the CA did not issue its replacement (retrying in the background): " + e.Err.Error()
	}
	return "the CA did not revoke the certificate: " + e.Err.Error()
}

func (e *CAError) Unwrap() error { return e.Err }

// Revocation is what Revoke did.
type Revocation struct {
	Name          string `json:"name"`
	Reason        string `json:"reason"`
	RevokedSerial string `json:"revoked_serial"` // hex, as /status shows serials
	NewSerial     string `json:"new_serial,omitempty"`
}

// revocation outcomes (wasmgate_tls_revocations_total{result}).
const (
	revokedOK          = iota // revoked and replaced
	revokedCARefused          // the CA refused (or could not be reached): nothing changed
	revokedNotReplaced        // revoked, the replacement failed: retried in the background
	revokedError              // storage failed
	revokeResults
)

var revokeResultNames = [revokeResults]string{"ok", "ca_refused", "replacement_failed", "error"}

// Revoke revokes the managed certificate of name at its CA with reason
// (one of Reasons; "" is unspecified), deletes it and its key from the
// storage, obtains a replacement at once and serves that instead: once it
// returns, no handshake gets the revoked certificate from this process.
// If the replacement fails, the name is served no certificate until
// certmagic's background retries obtain one. Revocations are one at a
// time.
func (m *Manager) Revoke(ctx context.Context, name, reason string) (Revocation, error) {
	// The revocation and its replacement are not abandoned halfway when
	// the caller goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RevokeTimeout)
	defer cancel()
	if reason == "" {
		reason = "unspecified"
	}
	code, ok := Reasons[reason]
	if !ok {
		return Revocation{}, fmt.Errorf("%w %q: use one of unspecified, keyCompromise, superseded, cessationOfOperation", ErrBadReason, reason)
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	b, subject := m.managing(name)
	if b == nil {
		return Revocation{}, fmt.Errorf("%s: %w", name, ErrNotManaged)
	}
	m.revokeMu.Lock()
	defer m.revokeMu.Unlock()
	rev := Revocation{Name: subject, Reason: reason}

	issuerKey := b.issuer.IssuerKey()
	certPEM, err := b.cm.Storage.Load(ctx, certmagic.StorageKeys.SiteCert(issuerKey, subject))
	if errors.Is(err, fs.ErrNotExist) {
		return rev, fmt.Errorf("%s: %w", subject, ErrNoCertificate)
	}
	if err != nil {
		return rev, m.revoked(rev, revokedError, fmt.Errorf("reading the certificate of %s: %w", subject, err))
	}
	leaf, err := firstCert(certPEM)
	if err != nil {
		return rev, m.revoked(rev, revokedError, fmt.Errorf("the stored certificate of %s: %w", subject, err))
	}
	rev.RevokedSerial = leaf.SerialNumber.Text(16)

	// certmagic's Config.RevokeCert makes these same calls (the issuer's
	// Revoke, then the site's assets deleted) but flattens the CA's error
	// into text: called one by one, a CA refusal (502) stays apart from a
	// storage failure (500).
	// A certificate already revoked (elsewhere, with its key) is what was
	// asked for: it is replaced all the same.
	err = b.issuer.Revoke(ctx, certmagic.CertificateResource{SANs: []string{subject}, CertificatePEM: certPEM}, code)
	if prob := (acme.Problem{}); errors.As(err, &prob) && prob.Type == acme.ProblemTypeAlreadyRevoked {
		m.logger.Info("acme: the certificate was already revoked; replacing it", "name", subject, "serial", rev.RevokedSerial)
		err = nil
	}
	if err != nil {
		return rev, m.revoked(rev, revokedCARefused, &CAError{Err: err})
	}
	// From here the certificate is revoked: whatever fails, it leaves
	// the storage and the cache.
	delErr := deleteSite(ctx, b.cm.Storage, issuerKey, subject)
	m.certCache().RemoveManaged([]certmagic.SubjectIssuer{{Subject: subject}})
	if delErr != nil {
		b.retry(subject)
		return rev, m.revoked(rev, revokedError, fmt.Errorf("certificate revoked, but it could not be deleted from the storage: %w", delErr))
	}
	if err := b.cm.ObtainCertSync(ctx, subject); err != nil {
		b.retry(subject)
		return rev, m.revoked(rev, revokedNotReplaced, &CAError{Revoked: true, Err: err})
	}
	cert, err := b.cm.CacheManagedCertificate(ctx, subject)
	if err != nil {
		b.retry(subject)
		return rev, m.revoked(rev, revokedError, fmt.Errorf("certificate revoked and replaced, but the replacement could not be loaded: %w", err))
	}
	if cert.Leaf != nil {
		rev.NewSerial = cert.Leaf.SerialNumber.Text(16)
	}
	return rev, m.revoked(rev, revokedOK, nil)
}

// revoked counts and logs one revocation's outcome and returns err.
func (m *Manager) revoked(rev Revocation, result int, err error) error {
	m.revocations[result].Add(1)
	attrs := []any{"name", rev.Name, "reason", rev.Reason, "revoked_serial", rev.RevokedSerial, "result", revokeResultNames[result]}
	if err != nil {
		m.logger.Error("acme: certificate revocation", append(attrs, "err", err)...)
		return err
	}
	m.logger.Warn("acme: certificate revoked and replaced", append(attrs, "new_serial", rev.NewSerial)...)
	return nil
}

// managing finds the committed block that manages name and the subject
// its certificate is stored under: name itself, or the listed wildcard
// that covers it.
func (m *Manager) managing(name string) (*Block, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var wild *Block
	var wildSubject string
	for _, b := range m.blocks {
		b.mu.Lock()
		_, exact := b.names[name] // on-demand names obtained count
		b.mu.Unlock()
		if exact {
			return b, name
		}
		if i := strings.IndexByte(name, '.'); i > 0 && b.names["*"+name[i:]] && wild == nil {
			wild, wildSubject = b, "*"+name[i:]
		}
	}
	return wild, wildSubject
}

// retry hands subject back to certmagic after a failed replacement: it
// orders in the background, with its growing intervals, until it succeeds
// or the block is dropped.
func (b *Block) retry(subject string) {
	if err := b.cm.ManageAsync(b.ctx, []string{subject}); err != nil {
		b.m.logger.Error("acme: cannot manage certificates", "names", []string{subject}, "err", err)
	}
}

// deleteSite deletes a site's certificate, key and metadata (as
// certmagic's RevokeCert does).
func deleteSite(ctx context.Context, s certmagic.Storage, issuerKey, subject string) error {
	for _, key := range []string{
		certmagic.StorageKeys.SiteCert(issuerKey, subject),
		certmagic.StorageKeys.SitePrivateKey(issuerKey, subject),
		certmagic.StorageKeys.SiteMeta(issuerKey, subject),
		certmagic.StorageKeys.CertsSitePrefix(issuerKey, subject),
	} {
		if err := s.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func firstCert(bundle []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, bundle = pem.Decode(bundle)
		if blk == nil {
			return nil, errors.New("no PEM certificate")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// RevokeTimeout bounds a revocation with its replacement order.
const RevokeTimeout = 90 * time.Second
