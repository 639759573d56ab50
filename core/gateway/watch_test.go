package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/internal/testsync"
)

// writeCert writes a self-signed certificate for name with the given serial.
func writeCert(t *testing.T, certFile, keyFile, name string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write beside and rename, as certificate renewers do.
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
}

func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "api.test", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// A renewed certificate written to disk is served without a signal, the
// config file untouched, and on the same port.
func TestWatchPicksUpRenewedCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "api.pem"), filepath.Join(dir, "api.key")
	writeCert(t, certFile, keyFile, "api.test", 1)
	file := filepath.Join(dir, "gw.yaml")
	cfg := fmt.Sprintf(`
listeners:
  - name: main
    address: "127.0.0.1:0"
    tls: { certificates: [{ cert: %q, key: %q }] }
admin: { address: "off" }
routes:
  - { name: r, match: { prefix: / }, respond: { body: ok } }
`, certFile, keyFile)
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(t.Context())
	reloads := make(chan error, 4)
	g.onReload = func(err error) { reloads <- err }
	if err := g.WatchConfig(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr := g.Addrs()["main"].String()
	if got := servedSerial(t, addr); got != 1 {
		t.Fatalf("serial %d before renewal, want 1", got)
	}

	writeCert(t, certFile, keyFile, "api.test", 2)
	select {
	case err := <-reloads:
		if err != nil {
			t.Fatalf("reload after renewal failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the certificate files changed")
	}
	if got := servedSerial(t, addr); got != 2 {
		t.Errorf("serial %d after renewal, want 2", got)
	}
	if now := g.Addrs()["main"].String(); now != addr {
		t.Errorf("listener moved from %s to %s; renewal must not rebind", addr, now)
	}
}

// An edit between loading the config and starting the watch is not lost:
// the watch compares once when it begins.
func TestWatchCatchesAnEditBeforeItStarted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gw.yaml")
	write := func(body string) {
		cfg := fmt.Sprintf(`
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - { name: r, match: { prefix: / }, respond: { body: %q } }
`, body)
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(t.Context())
	write("two") // no watch yet: no event will ever say so
	if err := g.WatchConfig(t.Context()); err != nil {
		t.Fatal(err)
	}
	if gen := g.Current().Generation; gen != 2 {
		t.Errorf("generation %d once the watch began, want 2 (the edit reloaded)", gen)
	}
}

// extraFile is a file the config "names" through config.RegisterFiles, as
// filters/wasm names its plugins' modules.
var extraFile atomic.Pointer[string] // the watch goroutine reads it

func init() {
	config.RegisterFiles(func(*config.Config) []string {
		if f := extraFile.Load(); f != nil {
			return []string{*f}
		}
		return nil
	})
}

// A file a section registers (a rebuilt plugin module, say), in a directory
// of its own, reloads the config when its content changes, the config file
// untouched.
func TestWatchReloadsWhenARegisteredFileChanges(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "modules", "filter.wasm")
	if err := os.MkdirAll(filepath.Dir(module), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(module, []byte("build 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	extraFile.Store(&module)
	t.Cleanup(func() { extraFile.Store(nil) })
	file := filepath.Join(dir, "gw.yaml")
	cfg := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - { name: r, match: { prefix: / }, respond: { body: ok } }
`
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := Start(Source{File: file}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(t.Context())
	reloads := make(chan error, 4)
	g.onReload = func(err error) { reloads <- err }
	if err := g.WatchConfig(t.Context()); err != nil {
		t.Fatal(err)
	}
	if gen := g.Current().Generation; gen != 1 {
		t.Fatalf("generation %d before the rebuild, want 1", gen)
	}
	// Written beside and renamed in, as a build tool or a deploy does.
	if err := os.WriteFile(module+".tmp", []byte("build 2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(module+".tmp", module); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reloads:
		if err != nil {
			t.Fatalf("reload after the rebuild failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload after the registered file changed")
	}
	if gen := g.Current().Generation; gen != 2 {
		t.Errorf("generation %d after the rebuild, want 2", gen)
	}
}

// The gateway's log file beside its config changes all the time. A bad
// edit is rejected once; the log writes that follow do not retry the same
// bytes; a good edit then loads and says the config is restored.
func TestWatchRejectsABadEditOnceWhateverElseChangesBeside(t *testing.T) {
	dir := t.TempDir()
	file, logFile := filepath.Join(dir, "gw.yaml"), filepath.Join(dir, "gateway.log")
	good := `
listeners: [{ name: main, address: "127.0.0.1:0" }]
admin: { address: "off" }
routes:
  - { name: r, match: { prefix: / }, respond: { body: ok } }
`
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	g, err := Start(Source{File: file}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(t.Context())
	reloads := make(chan error, 16)
	g.onReload = func(err error) { reloads <- err }
	checks := make(chan struct{}, 16)
	g.onWatchCheck = func() { checks <- struct{}{} }
	if err := g.WatchConfig(t.Context()); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch check after %s", what)
		}
	}

	// Edits land whole, by rename, as editors and deploys write them.
	edit := func(body string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	rejected := 0
	nextReload := func(what string) error {
		t.Helper()
		select {
		case err := <-reloads:
			if err != nil {
				rejected++
			}
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("no reload after %s", what)
			return nil
		}
	}

	edit(good + "  - { name: bad, upstream: nowhere }\n")
	if err := nextReload("the bad edit"); err == nil {
		t.Fatal("the bad edit loaded")
	}
	for i := range 3 { // the log grows; each write settles into a check
		if err := os.WriteFile(logFile, []byte(strings.Repeat("a log line\n", i+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		wait("a log write", checks)
	}
	edit(good + "  - { name: two, match: { path: /two }, respond: { body: two } }\n")
	for nextReload("the good edit") != nil {
	}
	if rejected != 1 {
		t.Errorf("%d rejected reloads, want exactly 1", rejected)
	}
	gen := g.Current().Generation
	if gen == 1 {
		t.Fatal("still serving generation 1 after the good edit")
	}
	// The watch logs the restore after Reload returns, and onReload runs
	// inside Reload: wait for the line rather than read the log at once.
	want := fmt.Sprintf("config restored after a rejected edit; serving generation %d", gen)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond) // polling for the line; its arrival is what is waited for
	}
}

// syncBuffer collects what runs beside the test writes (testsync.Buffer).
type syncBuffer = testsync.Buffer

// When POST /reload (or SIGHUP) loaded the changed file while the watcher
// waited for the reload lock, the watcher does not load it a second time;
// its next edit it does.
func TestWatcherSkipsAFileAlreadyLoaded(t *testing.T) {
	up := echoUpstream(t)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	writeConfig(t, file, up.URL, "v1")
	g, _ := startGateway(t, file)
	writeConfig(t, file, up.URL, "v2")
	seen, err := os.ReadFile(file) // what the watcher read before it waited
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(); err != nil { // the POST that got the lock first
		t.Fatal(err)
	}
	gen := g.Current().Generation
	if err := g.reloadUnless(builtFrom(seen)); err != nil {
		t.Fatal(err)
	}
	if got := g.Current().Generation; got != gen {
		t.Errorf("the watcher reloaded the file already loaded: generation %d -> %d", gen, got)
	}
	writeConfig(t, file, up.URL, "v3") // the next edit, which the watcher reads
	if seen, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := g.reloadUnless(builtFrom(seen)); err != nil {
		t.Fatal(err)
	}
	if got := g.Current().Generation; got != gen+1 {
		t.Errorf("the watcher did not load a new edit: generation %d -> %d", gen, got)
	}
}
