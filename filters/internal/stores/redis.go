package stores

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// go-redis has one process-wide logger, writing to stderr by default: while
// a Redis store is down it prints a dial failure per attempt, interleaved
// with the gateway's structured log. The stores already say once, as a
// warning, that Redis is unreachable, and once, as info, that it is back;
// the library's detail belongs under debug, in the gateway's log.

// NewClient returns a client for rc (a standalone server, a Redis Cluster
// or a Sentinel-watched master), connecting lazily, and routes go-redis's
// logging to logger (once per process). Every Redis user (rate limits and
// quotas, Wasm shared data, the response cache) makes its client here,
// with one set of options. Commands are never retried on a network error
// (a retried script or set could apply twice), a redial is tried once,
// every command is bounded by its context as well as by Timeout, and a
// cluster follows MOVED and ASK redirections (those are not retries: the
// node that answers MOVED did not run the command).
func (rc *Redis) NewClient(logger *slog.Logger) (redis.UniversalClient, error) {
	Install(logger)
	var tlsConfig *tls.Config
	if rc.TLS != nil {
		var err error
		if tlsConfig, err = rc.TLS.Config(); err != nil {
			return nil, fmt.Errorf("stores.redis.tls: %w", err)
		}
	}
	switch rc.Mode {
	case ModeCluster:
		// A cluster client retries a command after a network error or a
		// timeout (MaxRetries does not reach that loop), and a script that
		// ran but whose answer timed out would run twice. The retry first
		// waits on the command's context, which every caller bounds by
		// Timeout: with the socket deadlines no shorter, the context is what
		// expires, and the retry gives up. (A connection reset after the
		// script ran is the one retry left; docs/rationale.md.)
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 rc.Servers(),
			Username:              rc.Username,
			Password:              rc.Password,
			TLSConfig:             tlsConfig,
			ReadOnly:              rc.ReadFromReplicas,
			DialTimeout:           rc.DialTimeout.D(),
			ReadTimeout:           rc.Timeout(),
			WriteTimeout:          rc.Timeout(),
			PoolSize:              rc.PoolSize,
			MinIdleConns:          rc.MinIdleConns,
			PoolTimeout:           rc.PoolTimeout.D(),
			ContextTimeoutEnabled: true,
			MaxRedirects:          3,
			MaxRetries:            -1,
			DialerRetries:         1,
			DisableIdentity:       true,
		}), nil
	case ModeSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            rc.MasterName,
			SentinelAddrs:         rc.Servers(),
			SentinelUsername:      rc.SentinelUsername,
			SentinelPassword:      rc.SentinelPassword,
			Username:              rc.Username,
			Password:              rc.Password,
			DB:                    rc.DB,
			TLSConfig:             tlsConfig,
			DialTimeout:           rc.DialTimeout.D(),
			ReadTimeout:           rc.ReadTimeout.D(),
			WriteTimeout:          rc.WriteTimeout.D(),
			PoolSize:              rc.PoolSize,
			MinIdleConns:          rc.MinIdleConns,
			PoolTimeout:           rc.PoolTimeout.D(),
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
			DialerRetries:         1,
			DisableIdentity:       true,
		}), nil
	}
	return redis.NewClient(&redis.Options{
		Addr:                  rc.Address,
		Username:              rc.Username,
		Password:              rc.Password,
		DB:                    rc.DB,
		TLSConfig:             tlsConfig,
		DialTimeout:           rc.DialTimeout.D(),
		ReadTimeout:           rc.ReadTimeout.D(),
		WriteTimeout:          rc.WriteTimeout.D(),
		PoolSize:              rc.PoolSize,
		MinIdleConns:          rc.MinIdleConns,
		PoolTimeout:           rc.PoolTimeout.D(),
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DisableIdentity:       true,
	}), nil
}

// Config loads the TLS block's files into a client TLS config.
func (t *RedisTLS) Config() (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // an explicit, documented test-only switch
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("ca: %v", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: %s holds no PEM certificate", t.CA)
		}
	}
	switch {
	case t.Cert != "" && t.Key != "":
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("cert and key: %v", err)
		}
		c.Certificates = []tls.Certificate{pair}
	case t.Cert != "" || t.Key != "":
		return nil, errors.New("cert and key go together: give both (a client certificate for tls-auth-clients) or neither")
	}
	return c, nil
}

// Timeout bounds one command: the read and write timeouts together, or
// 200ms when neither is set.
func (rc *Redis) Timeout() time.Duration {
	if t := rc.ReadTimeout.D() + rc.WriteTimeout.D(); t > 0 {
		return t
	}
	return 200 * time.Millisecond
}

var once sync.Once

// Install routes go-redis's logging to logger, once per process (the
// library's logger is global; the first store's logger is the process's).
func Install(logger *slog.Logger) {
	if logger == nil {
		return
	}
	once.Do(func() { redis.SetLogger(Adapter{logger}) })
}

// Adapter is go-redis's Logging interface over a slog.Logger.
type Adapter struct{ L *slog.Logger }

// Printf logs one go-redis line at debug level, formatted only if debug is on.
func (a Adapter) Printf(ctx context.Context, format string, v ...any) {
	if !a.L.Enabled(ctx, slog.LevelDebug) {
		return
	}
	a.L.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
