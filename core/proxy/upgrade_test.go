package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// echoUpgrader is a tiny websocket-ish upstream: it accepts the upgrade,
// then echoes bytes until the client half-closes, then half-closes itself.
func echoUpgrader(t *testing.T, got chan<- http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got != nil {
			got <- r.Header.Clone()
		}
		if !hasToken(r.Header["Connection"], "upgrade") || !equalFold(r.Header.Get("Upgrade"), "websocket") {
			io.WriteString(w, "plain")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo until the client's FIN
		conn.(*net.TCPConn).CloseWrite()
	}
}

const wsHandshake = "GET /ws HTTP/1.1\nHost: h\nConnection: keep-alive, Upgrade\nUpgrade: WebSocket\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"

func TestWebsocketTunnel(t *testing.T) {
	back := startBackend(t, echoUpgrader(t, nil))
	// With a route timeout, the tunnel begins by cancelling the timeout's
	// context (it bounds the handshake only): that must not end the tunnel.
	front := startFront(t, &gateway{p: New(Options{Websocket: true, Timeout: time.Second}), up: newUpstream(t, back.URL, nil)})

	c, err := net.Dial("tcp", hostOf(front))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// Bytes sent right behind the handshake land in the server's read
	// buffer before the hijack; they must reach the upstream too.
	if _, err := io.WriteString(c, lf2crlf(wsHandshake)+"early|"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" || resp.Header.Get("Sec-Websocket-Accept") == "" {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	expect := func(want string) {
		t.Helper()
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != want {
			t.Fatalf("echo: %q, %v; want %q", buf, err, want)
		}
	}
	expect("early|")
	io.WriteString(c, "hello")
	expect("hello")
	// Half-close: our FIN travels to the upstream, whose FIN travels back.
	c.(*net.TCPConn).CloseWrite()
	rest, err := io.ReadAll(br)
	if err != nil || len(rest) != 0 {
		t.Errorf("after half-close: %q, %v; want clean EOF", rest, err)
	}
}

func TestWebsocketRefusedWhenNotAllowed(t *testing.T) {
	got := make(chan http.Header, 1)
	back := startBackend(t, echoUpgrader(t, got))
	front := startFront(t, &gateway{p: New(Options{}), up: newUpstream(t, back.URL, nil)})
	resp, _, _ := rawExchange(t, hostOf(front), wsHandshake)
	h := <-got
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "plain" {
		t.Errorf("got %d %q; want a plain GET", resp.StatusCode, body)
	}
	if h.Get("Upgrade") != "" || h.Get("Connection") != "" {
		t.Errorf("upstream saw Upgrade %q Connection %q", h.Get("Upgrade"), h.Get("Connection"))
	}
}

func TestH2CUpgradeNeverForwarded(t *testing.T) {
	got := make(chan http.Header, 1)
	back := startBackend(t, echoUpgrader(t, got))
	front := startFront(t, &gateway{p: New(Options{Websocket: true}), up: newUpstream(t, back.URL, nil)})
	resp, _, _ := rawExchange(t, hostOf(front), "GET / HTTP/1.1\nHost: h\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\n\n")
	h := <-got
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	for _, k := range []string{"Upgrade", "Connection", "Http2-Settings"} {
		if v := h.Get(k); v != "" {
			t.Errorf("upstream saw %s: %q", k, v)
		}
	}
}

func TestUpstreamSwitchWithoutAskingIsRejected(t *testing.T) {
	back := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		conn, brw, _ := http.NewResponseController(w).Hijack()
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
	})
	front := startFront(t, &gateway{p: New(Options{Websocket: true}), up: newUpstream(t, back.URL, nil)})
	resp, _, _ := rawExchange(t, hostOf(front), wsHandshake)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

func lf2crlf(s string) string {
	out := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, '\r')
		}
		out = append(out, s[i])
	}
	return string(out)
}
