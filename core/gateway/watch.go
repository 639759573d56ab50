package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/wasmgate/wasmgate/core/config"
)

// watchSettle is how long watched files must be quiet before a reload:
// editors, cert renewers and config-map updates write in several steps.
const watchSettle = 150 * time.Millisecond

// WatchConfig reloads whenever the config file, or a file it names (a
// certificate, key or CA file, a plugin's module: config.Files), changes on
// disk, until ctx ends. It watches directories,
// not files, because editors, certificate renewers and Kubernetes config
// maps replace files by rename, which a watch on the file itself would lose;
// what changed is then decided by content, so unrelated files in the same
// directories cause no reload. A change made after the config was loaded
// but before the watch began is caught by one comparison once the watch is
// in place: the gateway reports ready before the watch starts, and an edit
// in between must not be lost.
func (g *Gateway) WatchConfig(ctx context.Context) error {
	if g.src.File == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	watched := map[string]bool{}
	watchDirs := func() {
		for _, f := range append(namedFiles(g.current.Load().Config), g.src.File) {
			dir := filepath.Dir(f)
			if watched[dir] {
				continue
			}
			if err := w.Add(dir); err != nil {
				g.logger.Warn("cannot watch directory; changes there need SIGHUP or POST /reload", "dir", dir, "err", err)
				continue
			}
			watched[dir] = true
		}
	}
	watchDirs()
	var last rejection
	g.reloadIfChanged(&last)
	go func() {
		defer w.Close()
		settle := time.NewTimer(time.Hour)
		settle.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				g.logger.Warn("config watch error", "err", err)
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				settle.Reset(watchSettle)
			case <-settle.C:
				g.reloadIfChanged(&last)
				watchDirs() // a reload may name files in new places
				if g.onWatchCheck != nil {
					g.onWatchCheck()
				}
			}
		}
	}()
	return nil
}

// rejection is what the watcher last failed to load: the config's bytes
// and the files that config names, as they were. The same bytes with the
// same files would fail the same way, so they are not tried again; any
// other write in the directory (the gateway's own log file, an access
// log) would otherwise retry them on every settle.
type rejection struct {
	sum    [sha256.Size]byte // of the config file's bytes; zero: none
	files  []string          // named by the rejected config, if it parsed
	digest [sha256.Size]byte // of those files' contents
}

// same reports whether data, with the files as they are now, is what was
// rejected.
func (r *rejection) same(data []byte) bool {
	return r.sum != [sha256.Size]byte{} && sha256.Sum256(data) == r.sum && digestOf(r.files) == r.digest
}

// reloadIfChanged reloads when the config file's bytes, or the digest of
// the files it names, differ from what the running snapshot was built from
// and from what last failed (last).
func (g *Gateway) reloadIfChanged(last *rejection) {
	data, err := config.ReadFile(g.src.File, g.src.MaxSize)
	s := g.current.Load()
	if err == nil && last.same(data) {
		return // still the edit that failed: it has been reported
	}
	switch {
	case errors.Is(err, config.ErrTooLarge):
		g.logger.Info("config file changed; reloading", "file", g.src.File) // Reload reports the size
	case err != nil:
		g.logger.Warn("config file unreadable; still serving the previous config", "file", g.src.File, "err", err.Error())
		return
	case !bytes.Equal(data, s.Source):
		g.logger.Info("config file changed; reloading", "file", g.src.File)
	case filesDigest(s.Config) != s.filesDigest:
		g.logger.Info("a file the config names changed; reloading", "files", namedFiles(s.Config))
	default:
		return
	}
	failedBefore := last.sum != [sha256.Size]byte{}
	if err := g.reloadUnless(builtFrom(data)); err != nil { // reload logs its own outcome
		*last = rejection{sum: sha256.Sum256(data)}
		if cfg, perr := config.ParseWithin(g.src.File, data, config.Limits{FileSize: g.src.MaxSize}); perr == nil {
			last.files = namedFiles(cfg)
		}
		last.digest = digestOf(last.files)
		return
	}
	*last = rejection{}
	if failedBefore {
		gen := g.current.Load().Generation
		g.logger.Info("config restored after a rejected edit; serving generation "+strconv.FormatUint(gen, 10), "generation", gen)
	}
}

// builtFrom returns whether a snapshot was built from the config file
// data and the named files as they are now; never for nil data (a file
// too large to read).
func builtFrom(data []byte) func(*Snapshot) bool {
	return func(s *Snapshot) bool {
		return data != nil && bytes.Equal(data, s.Source) && filesDigest(s.Config) == s.filesDigest
	}
}

// namedFiles lists the files the config names: the certificate, key and CA
// files of the listeners, and those its sections register (config.Files).
func namedFiles(c *config.Config) []string {
	return append(tlsFiles(c), c.Files()...)
}

// tlsFiles lists the certificate, key and CA files the listeners name.
func tlsFiles(c *config.Config) []string {
	var files []string
	for _, l := range c.Listeners {
		if l.TLS == nil {
			continue
		}
		for _, cert := range l.TLS.Certificates {
			files = append(files, cert.Cert, cert.Key)
		}
		if l.TLS.ClientCA != "" {
			files = append(files, l.TLS.ClientCA)
		}
	}
	return files
}

// filesDigest hashes the contents of every named file (unreadable ones
// count as empty), so a renewed certificate or a rebuilt module is noticed
// however it was written.
func filesDigest(c *config.Config) [sha256.Size]byte { return digestOf(namedFiles(c)) }

// digestOf hashes the names and contents of files.
func digestOf(files []string) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		data, _ := os.ReadFile(f)
		h.Write([]byte(f))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
