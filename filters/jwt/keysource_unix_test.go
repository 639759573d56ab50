//go:build unix

package jwt

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"
)

// jwks_file is read once: a file that can be read only once (a FIFO a
// secrets agent feeds) works, and the token cache's key is of the very
// bytes the keys came from. Build used to read the file a second time,
// ignoring the error: on a FIFO that blocked the reload forever.
func TestJWKSFileReadOnce(t *testing.T) {
	testKeys(t)
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	path := t.TempDir() + "/keys.pem"
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() { // one writer, for one reader
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		_ = w.Close()
	}()
	type result struct {
		f   *Filter
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := build(t, fmt.Sprintf(`{issuer: %q, audiences: [api], jwks_file: %q}`, issuer, path), "", nil)
		done <- result{f, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second): // only a second open of the FIFO waits this long
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil { // let it end
			_ = w.Close()
		}
		<-done
		t.Fatal("Build opened jwks_file a second time and waited for a writer")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, resp := run(r.f, "/", "Authorization", "Bearer "+sign(t, jwtlib.SigningMethodRS256, "", rsaKey, goodClaims())); resp != nil {
		t.Fatalf("refused: %s", resp.Body)
	}
}
