package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// Defaults for values a config left at zero; they match core/config's.
const (
	defaultReadHeaderTimeout    = 10 * time.Second
	defaultReadTimeout          = 60 * time.Second
	defaultWriteTimeout         = 60 * time.Second
	defaultIdleTimeout          = 120 * time.Second
	defaultMaxHeaderBytes       = 64 << 10
	defaultMaxConcurrentStreams = 250
)

// settings is everything fixed in an http.Server once it serves. It is
// comparable, so Apply can tell whether a listener needs a new server.
type settings struct {
	tls, h2, h2c                         bool
	readHeader, read, write, idle        time.Duration
	maxHeaderBytes, maxConcurrentStreams int
}

func settingsOf(c config.Listener) settings {
	or := func(d config.Duration, def time.Duration) time.Duration {
		if d > 0 {
			return d.D()
		}
		return def
	}
	s := settings{
		tls:                  c.TLS != nil,
		h2c:                  c.H2C,
		readHeader:           or(c.Timeouts.ReadHeader, defaultReadHeaderTimeout),
		read:                 or(c.Timeouts.Read, defaultReadTimeout),
		write:                or(c.Timeouts.Write, defaultWriteTimeout),
		idle:                 or(c.Timeouts.Idle, defaultIdleTimeout),
		maxHeaderBytes:       int(c.MaxHeaderBytes),
		maxConcurrentStreams: c.HTTP2.MaxConcurrentStreams,
	}
	if s.maxHeaderBytes <= 0 {
		s.maxHeaderBytes = defaultMaxHeaderBytes
	}
	if s.maxConcurrentStreams <= 0 {
		s.maxConcurrentStreams = defaultMaxConcurrentStreams
	}
	if s.tls {
		s.h2 = c.TLS.HTTP2 == nil || *c.TLS.HTTP2
	}
	return s
}

// newHTTPServer builds the http.Server for one generation of a listener.
//
// ReadTimeout and WriteTimeout are the initial deadlines of each request:
// core/proxy extends them through http.ResponseController as body bytes
// flow, so in effect they bound a stall, not a whole transfer, and long
// streams (SSE, large uploads) live as long as they make progress.
// ReadHeaderTimeout is absolute: it is what cuts slowloris clients.
func newHTTPServer(st settings, handler http.Handler, info *atomic.Pointer[Info], c *counters, logger *slog.Logger) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(st.tls && st.h2)
	protos.SetUnencryptedHTTP2(st.h2c)

	// One context per server, not per connection: the Info pointer is the
	// same for every connection, and ListenerFrom loads its current value.
	base := context.WithValue(context.Background(), infoKey{}, info)
	return &http.Server{
		Handler:           guardFraming(handler, c),
		ConnContext:       c.connContext,
		ReadHeaderTimeout: st.readHeader,
		ReadTimeout:       st.read,
		WriteTimeout:      st.write,
		IdleTimeout:       st.idle,
		MaxHeaderBytes:    st.maxHeaderBytes,
		Protocols:         &protos,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: st.maxConcurrentStreams},
		ErrorLog:          newErrorLog(logger),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}
