package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
)

// drainLog passes on how each drain ended, from the Server's log.
type drainLog struct{ timedOut chan bool }

func (d drainLog) Enabled(context.Context, slog.Level) bool { return true }
func (d drainLog) WithAttrs([]slog.Attr) slog.Handler       { return d }
func (d drainLog) WithGroup(string) slog.Handler            { return d }
func (d drainLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "server drained" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "timed_out" {
				d.timedOut <- a.Value.Bool()
			}
			return true
		})
	}
	return nil
}

// drainingServer serves l with echoBody and reports each drain's outcome.
func drainingServer(t *testing.T, drainTimeout time.Duration, l config.Listener) (*Server, <-chan bool) {
	t.Helper()
	d := drainLog{timedOut: make(chan bool, 16)}
	s := New(http.HandlerFunc(echoBody), slog.New(d), WithDrainTimeout(drainTimeout))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	if err := s.Apply([]config.Listener{l}); err != nil {
		t.Fatal(err)
	}
	return s, d.timedOut
}

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s got %q", r.Proto, r.Method, b)
}

// replaceServer changes a setting only a new http.Server can take.
func replaceServer(t *testing.T, s *Server, l *config.Listener) {
	t.Helper()
	l.MaxHeaderBytes += 1024
	if err := s.Apply([]config.Listener{*l}); err != nil {
		t.Fatal(err)
	}
}

func drained(t *testing.T, outcome <-chan bool) (timedOut bool) {
	t.Helper()
	select {
	case timedOut = <-outcome:
		return timedOut
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced server did not finish draining")
		return false
	}
}

// An idle keep-alive connection of a replaced server stays open: the
// client may be sending its next request on it right now. That request (a
// POST, which no client may retry) is answered, with "Connection: close",
// and only then is the connection closed.
func TestReplacedServerAnswersIdleConnectionsNextRequest(t *testing.T) {
	l := config.Listener{Name: "l", Address: "127.0.0.1:0"}
	s, outcome := drainingServer(t, time.Minute, l)
	addr := addrOf(t, s, "l")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	rawGet(t, conn, br)

	replaceServer(t, s, &l)
	if _, body := get(t, &http.Client{}, "http://"+addr+"/"); !strings.HasPrefix(body, "HTTP/1.1 GET") {
		t.Fatalf("new connection after the reload: %q", body)
	}

	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("POST on the replaced server's idle connection: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `HTTP/1.1 POST got "hello"` {
		t.Fatalf("POST answered %d %q", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error(`the replaced server's answer lacks "Connection: close"`)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after its answer the connection read %d bytes, %v; want EOF", n, err)
	}
	if drained(t, outcome) {
		t.Error("the drain waited for its timeout although its last connection had closed")
	}
}

// Idle h2 connections do not hold a drain up: GOAWAY ends them safely (the
// client opens a new connection for its next request), so the drain
// finishes well before its timeout, whether h2 was negotiated by ALPN or
// started with the h2c preface.
func TestReplacedServerEndsIdleH2Connections(t *testing.T) {
	ca := newTestCA(t)
	tlsL := tlsListener(t, ca, t.TempDir())
	cases := []struct {
		name   string
		l      config.Listener
		client *http.Client
		scheme string
	}{
		{"alpn", tlsL, &http.Client{Transport: &http.Transport{
			ForceAttemptHTTP2: true,
			TLSClientConfig:   &tls.Config{RootCAs: ca.pool, ServerName: "a.test"},
		}}, "https"},
		{"h2c", config.Listener{Name: "h2c", Address: "127.0.0.1:0", H2C: true}, h2cClient(t), "http"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Cleanup(c.client.CloseIdleConnections)
			s, outcome := drainingServer(t, time.Minute, c.l)
			url := c.scheme + "://" + addrOf(t, s, c.l.Name) + "/"
			if _, body := get(t, c.client, url); !strings.HasPrefix(body, "HTTP/2.0") {
				t.Fatalf("want h2, got %q", body)
			}
			replaceServer(t, s, &c.l)
			if drained(t, outcome) {
				t.Error("an idle h2 connection held the drain until its timeout")
			}
			if _, body := get(t, c.client, url); !strings.HasPrefix(body, "HTTP/2.0 GET") {
				t.Fatalf("after the drain: %q", body)
			}
		})
	}
}

// A client that keeps an idle connection to a replaced server and never
// comes back cannot keep it forever: the drain timeout closes it.
func TestDrainTimeoutClosesIdleConnection(t *testing.T) {
	l := config.Listener{Name: "l", Address: "127.0.0.1:0"}
	s, outcome := drainingServer(t, 200*time.Millisecond, l)
	conn, err := net.Dial("tcp", addrOf(t, s, "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	rawGet(t, conn, br)

	replaceServer(t, s, &l)
	if !drained(t, outcome) {
		t.Error("the drain ended before its timeout with an idle connection open")
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the drain timeout the connection read %d bytes, %v; want EOF", n, err)
	}
}

// Stopping the process does not wait for idle connections of a server
// replaced by an earlier reload: Shutdown ends them at once, as its own.
func TestShutdownDoesNotWaitForIdleConnectionsOfReplacedServer(t *testing.T) {
	l := config.Listener{Name: "l", Address: "127.0.0.1:0"}
	s, _ := drainingServer(t, time.Minute, l)
	conn, err := net.Dial("tcp", addrOf(t, s, "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rawGet(t, conn, bufio.NewReader(conn))
	replaceServer(t, s, &l)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (it waited for the replaced server's idle connection)", err)
	}
}

// A TLS connection still in its handshake when a reload replaces the server
// belongs to the old server, and is served by it: its client has no reason
// to expect a close and is about to send its request.
func TestReplacedServerServesConnectionInHandshake(t *testing.T) {
	ca := newTestCA(t)
	l := tlsListener(t, ca, t.TempDir())
	s, outcome := drainingServer(t, time.Minute, l)
	raw, err := net.Dial("tcp", addrOf(t, s, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Wait until the current server has taken the connection (its
	// handshake is waiting for our ClientHello) before replacing it.
	old := genOf(t, s, "tls")
	deadline := time.Now().Add(10 * time.Second)
	for old.http1.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server never accepted the connection")
		}
		time.Sleep(time.Millisecond) // poll interval; the accept is what is waited for
	}
	replaceServer(t, s, &l)

	conn := tls.Client(raw, &tls.Config{RootCAs: ca.pool, ServerName: "a.test"})
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nhi"); err != nil {
		t.Fatalf("handshake or write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST on a connection accepted before the reload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `HTTP/1.1 POST got "hi"` || !resp.Close {
		t.Fatalf("answered %d %q (close %v), want 200 with Connection: close", resp.StatusCode, body, resp.Close)
	}
	if drained(t, outcome) {
		t.Error("the drain waited for its timeout")
	}
}

// genOf returns the generation serving the listener named name.
func genOf(t *testing.T, s *Server, name string) *generation {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.info.Load().Name == name {
			return l.gen
		}
	}
	t.Fatalf("no listener %q", name)
	return nil
}
