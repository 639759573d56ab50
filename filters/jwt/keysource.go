package jwt

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

// keySource is where a filter's keys come from.
type keySource interface {
	// current returns the keys now; nil before a first successful fetch.
	current() *keySet
	// refresh asks for fresh keys because a token named an unknown kid. It
	// returns once the keys are as fresh as the source allows right now.
	refresh(ctx context.Context)
}

// staticKeys are keys from a file or a secret: fixed for the snapshot.
type staticKeys struct{ set *keySet }

func (s staticKeys) current() *keySet            { return s.set }
func (s staticKeys) refresh(ctx context.Context) {}

// jwksKey shares a remoteKeys between the filters and snapshots that name
// the same URL and timings.
type jwksKey struct {
	url                          string
	refresh, minRefresh, timeout time.Duration
}

// keySource returns the configured key source and the digest of the key
// material it was built from, which the token cache's key includes; a JWKS
// URL gives a zero digest, since its key sets carry their own generation.
func (c *Config) keySource(bc *filter.BuildContext) (keySource, [32]byte, error) {
	switch {
	case c.Secret != "":
		set := newKeySet([]*key{{pub: []byte(c.Secret)}}, digest([]byte(c.Secret)), 1)
		return staticKeys{set}, set.digest, nil
	case c.JWKSFile != "":
		set, skipped, err := loadFile(c.JWKSFile)
		if err != nil {
			return nil, [32]byte{}, config.FieldErr("jwks_file", "%v", err)
		}
		if len(skipped) > 0 {
			bc.Logger.Warn("keys skipped", "file", c.JWKSFile, "keys", strings.Join(skipped, "; "))
		}
		return staticKeys{set}, set.digest, nil
	}
	refresh := orDefault(c.JWKSRefresh, DefaultJWKSRefresh)
	minRefresh := min(orDefault(c.JWKSMinRefresh, DefaultJWKSMinRetry), refresh)
	timeout := orDefault(c.JWKSTimeout, DefaultJWKSTimeout)
	src, err := bc.Keep(jwksKey{url: c.JWKSURL, refresh: refresh, minRefresh: minRefresh, timeout: timeout}, func() (io.Closer, error) {
		return newRemoteKeys(c.JWKSURL, refresh, minRefresh, timeout, bc.Logger), nil
	})
	if err != nil {
		return nil, [32]byte{}, config.FieldErr("jwks_url", "%v", err)
	}
	return src.(*remoteKeys), [32]byte{}, nil
}

// loadFile reads a key file once: the set's digest is of the bytes its
// keys came from.
func loadFile(path string) (*keySet, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	keys, skipped, err := parseKeys(data)
	if err != nil {
		return nil, skipped, fmt.Errorf("%s: %v", path, err)
	}
	return newKeySet(keys, digest(data), 1), skipped, nil
}
