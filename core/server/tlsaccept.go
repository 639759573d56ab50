package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"
)

// handshakeListener completes each TLS handshake itself, off the accept path, so
// that it knows the protocol ALPN chose before net/http sees the connection:
// h2 connections go to net/http as the *tls.Conn it serves HTTP/2 on, and
// HTTP/1.x connections go as a framingConn around the *tls.Conn, so their
// decrypted bytes pass the same framing scanner as a plain listener's. The
// guard restores r.TLS on those requests (net/http sets it only for a
// *tls.Conn it holds itself).
type handshakeListener struct {
	net.Listener
	conf    *tls.Config
	timeout time.Duration // for the handshake: the listener's read_header
	logger  *slog.Logger

	ready  chan net.Conn
	closed chan struct{}
	once   sync.Once
	// shaking counts handshakes under way. When the socket stops giving
	// connections (a reload replaced this server), they still reach net/http:
	// their clients are about to send requests.
	shaking sync.WaitGroup
}

func newHandshakeListener(ln net.Listener, conf *tls.Config, timeout time.Duration, logger *slog.Logger) *handshakeListener {
	l := &handshakeListener{Listener: ln, conf: conf, timeout: timeout, logger: logger,
		ready: make(chan net.Conn), closed: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.shaking.Wait()
			l.Close()
			return
		}
		l.shaking.Add(1)
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(raw net.Conn) {
	defer l.shaking.Done()
	tc := tls.Server(raw, l.conf)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		// Scanners, probes and clients that distrust the certificate: noise
		// on a public port, not an error of ours.
		l.logger.Debug("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	var c net.Conn = tc
	st := tc.ConnectionState()
	if st.NegotiatedProtocol == acmeTLS1 {
		// A CA validating TLS-ALPN-01: the handshake was the answer.
		tc.Close()
		return
	}
	if st.NegotiatedProtocol != "h2" {
		c = &framingConn{Conn: tc, tls: &st}
	}
	select {
	case l.ready <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handshakeListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.Listener.Close()
	})
	return nil
}
