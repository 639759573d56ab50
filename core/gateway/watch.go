package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
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
	g.reloadIfChanged()
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
				g.reloadIfChanged()
				watchDirs() // a reload may name files in new places
			}
		}
	}()
	return nil
}

// reloadIfChanged reloads when the config file's bytes, or the digest of
// the files it names, differ from what the running snapshot was built from.
func (g *Gateway) reloadIfChanged() {
	data, err := config.ReadFile(g.src.File, g.src.MaxSize)
	s := g.current.Load()
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
	_ = g.Reload() // Reload logs its own outcome
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
func filesDigest(c *config.Config) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range namedFiles(c) {
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
