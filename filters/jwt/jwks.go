package jwt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// maxJWKSBody bounds a fetched key set.
const maxJWKSBody = 1 << 20

// remoteKeys is a JWKS fetched from a URL, shared by every filter and
// snapshot that names the same URL and timings (see BuildContext.Keep):
//
//   - fetched at start, then every interval;
//   - on a token with an unknown kid (a rotation the schedule has not seen
//     yet), fetched at once, but single-flight (concurrent requests wait
//     for the same fetch) and at most once per minInterval (a stream of
//     made-up kids costs one fetch per minInterval, not one per request:
//     a one-token bucket, which a scheduled fetch also empties when it
//     finds it full, so a kid that misses right after one does not fetch
//     again);
//   - when a fetch fails or yields no usable key, the keys already held
//     stay in use, and the next attempt comes after minInterval.
//
// Keys are never fetched from a token's own headers (jku, x5u, jwk, x5c).
type remoteKeys struct {
	url         string
	interval    time.Duration
	minInterval time.Duration
	client      *http.Client
	logger      *slog.Logger

	keys    atomic.Pointer[keySet]
	fetches atomic.Int64 // attempts, for tests and logs

	mu       sync.Mutex
	flight   chan struct{} // closed when the running fetch ends; nil when none runs
	onDemand *rate.Limiter // unknown-kid fetches: one per minInterval
	// ahead moves onDemand's clock forward (nanoseconds), for tests that
	// step past minInterval without waiting it out on a loaded machine.
	ahead atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newRemoteKeys(url string, interval, minInterval, timeout time.Duration, logger *slog.Logger) *remoteKeys {
	ctx, cancel := context.WithCancel(context.Background())
	s := &remoteKeys{
		url:         url,
		interval:    interval,
		minInterval: minInterval,
		client: &http.Client{
			Timeout: timeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 3 {
					return errors.New("too many redirects")
				}
				return nil
			},
		},
		logger:   logger,
		onDemand: rate.NewLimiter(rate.Every(minInterval), 1),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	go s.loop()
	return s
}

func (s *remoteKeys) current() *keySet { return s.keys.Load() }

// Close stops the refresh loop; the keeper calls it when no snapshot uses
// this key set any more.
func (s *remoteKeys) Close() error {
	s.cancel()
	<-s.done
	return nil
}

func (s *remoteKeys) loop() {
	defer close(s.done)
	for {
		next := s.interval
		if !s.run(false) {
			next = s.minInterval
		}
		t := time.NewTimer(next)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (s *remoteKeys) refresh(ctx context.Context) {
	s.mu.Lock()
	if ch := s.flight; ch != nil {
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return
	}
	s.mu.Unlock()
	s.run(true)
}

// run fetches once unless a fetch is already running (then it waits for
// that one). It reports whether the keys are usable afterwards.
func (s *remoteKeys) run(onDemand bool) bool {
	s.mu.Lock()
	if ch := s.flight; ch != nil {
		s.mu.Unlock()
		<-ch
		return s.keys.Load() != nil
	}
	if allowed := s.onDemand.AllowN(time.Now().Add(time.Duration(s.ahead.Load())), 1); onDemand && !allowed {
		s.mu.Unlock()
		return s.keys.Load() != nil
	}
	ch := make(chan struct{})
	s.flight = ch
	s.mu.Unlock()

	err := s.fetch()

	s.mu.Lock()
	s.flight = nil
	s.mu.Unlock()
	close(ch)
	if err != nil {
		if s.ctx.Err() == nil {
			held := "no keys are held yet, so tokens are refused"
			if s.keys.Load() != nil {
				held = "the keys fetched before stay in use"
			}
			s.logger.Warn("JWKS fetch failed; "+held, "url", s.url, "err", err)
		}
		return s.keys.Load() != nil && err == nil
	}
	return true
}

func (s *remoteKeys) fetch() error {
	s.fetches.Add(1)
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBody {
		return fmt.Errorf("key set larger than %d bytes", maxJWKSBody)
	}
	d := digest(body)
	old := s.keys.Load()
	if old != nil && old.digest == d {
		return nil
	}
	keys, skipped, err := parseJWKS(body)
	if err == nil && len(keys) == 0 {
		err = errors.New("no usable verification key")
	}
	if err == nil && len(keys) > maxKeys {
		err = fmt.Errorf("%d keys; at most %d are accepted", len(keys), maxKeys)
	}
	if len(skipped) > 0 {
		s.logger.Warn("JWKS keys skipped", "url", s.url, "keys", strings.Join(skipped, "; "))
	}
	if err != nil {
		return err
	}
	var gen uint64 = 1
	if old != nil {
		gen = old.gen + 1
	}
	s.keys.Store(newKeySet(keys, d, gen))
	return nil
}
