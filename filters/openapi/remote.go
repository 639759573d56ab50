package openapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// maxDocument bounds a fetched document.
const maxDocument = 8 << 20

// remoteSpec is a document fetched from a URL and compiled, shared by
// every filter and snapshot with the same URL, timings and compile options
// (BuildContext.Keep): fetched at load, then every refresh; a fetch that
// fails or a document that does not compile leaves the last good spec in
// use, as the JWKS of the jwt filter does.
type remoteSpec struct {
	url      string
	refresh  time.Duration
	opts     compileOptions
	client   *http.Client
	logger   *slog.Logger
	current  atomic.Pointer[spec]
	raw      []byte // the bytes current was compiled from (loop goroutine only)
	fetches  atomic.Int64
	failures atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// remoteKey identifies a remoteSpec; opts is the compile options as JSON.
type remoteKey struct {
	url     string
	refresh time.Duration
	timeout time.Duration
	opts    string
}

// newRemoteSpec fetches and compiles the document once; it fails when
// that first fetch does (there is nothing to validate against). With
// refreshing, a goroutine fetches it again every refresh until Close.
func newRemoteSpec(url string, refresh, timeout time.Duration, opts compileOptions, logger *slog.Logger, refreshing bool) (*remoteSpec, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &remoteSpec{
		url: url, refresh: refresh, opts: opts, logger: logger,
		client: &http.Client{Timeout: timeout},
		cancel: cancel, done: make(chan struct{}),
	}
	if err := s.fetch(ctx); err != nil {
		cancel()
		return nil, err
	}
	if !refreshing {
		cancel()
		close(s.done)
		return s, nil
	}
	go s.loop(ctx)
	return s, nil
}

// Close stops the refresh loop; the keeper calls it when no snapshot uses
// the document any more.
func (s *remoteSpec) Close() error {
	s.cancel()
	<-s.done
	return nil
}

func (s *remoteSpec) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.fetch(ctx); err != nil && ctx.Err() == nil {
			s.failures.Add(1)
			s.logger.Warn("openapi: refreshing the document failed; the last good one stays in use", "url", s.url, "err", err)
		}
	}
}

func (s *remoteSpec) fetch(ctx context.Context) error {
	s.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/yaml, application/json;q=0.9, */*;q=0.5")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %v", s.url, err)
	}
	if len(body) > maxDocument {
		return fmt.Errorf("GET %s: larger than %d MiB", s.url, maxDocument>>20)
	}
	if s.current.Load() != nil && bytes.Equal(body, s.raw) {
		return nil
	}
	sp, err := compileSpec(s.url, body, s.opts)
	if err != nil {
		return err
	}
	s.raw = body
	s.current.Store(sp)
	if s.fetches.Load() > 1 {
		s.logger.Info("openapi: the document changed; validating against the new one", "url", s.url)
	}
	return nil
}
