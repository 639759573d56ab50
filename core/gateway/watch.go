package gateway

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long the config file must be quiet before a reload:
// editors and config-map updates write in several steps.
const watchSettle = 150 * time.Millisecond

// WatchConfig reloads whenever the config file's content changes on disk,
// until ctx ends. It watches the directory, not the file, because editors
// and Kubernetes config maps replace files by rename, which a watch on the
// file itself would lose.
func (g *Gateway) WatchConfig(ctx context.Context) error {
	if g.src.File == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(g.src.File)); err != nil {
		_ = w.Close()
		return err
	}
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
			}
		}
	}()
	return nil
}

// reloadIfChanged reloads when the file's bytes differ from the running
// config's, so unrelated files in the directory cause no reload.
func (g *Gateway) reloadIfChanged() {
	data, err := os.ReadFile(g.src.File)
	if err != nil {
		g.logger.Warn("config file unreadable; still serving the previous config", "file", g.src.File, "err", err)
		return
	}
	if bytes.Equal(data, g.current.Load().Source) {
		return
	}
	g.logger.Info("config file changed; reloading", "file", g.src.File)
	_ = g.Reload() // Reload logs its own outcome
}
