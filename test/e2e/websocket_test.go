package e2e

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const websocketConfig = head + `
upstreams:
  ws: { targets: [{ url: "{{.ws}}" }] }
routes:
  - name: live
    match: { path: /ws }
    websocket: true
    upstream: ws
  - name: plain
    match: { path: /plain }
    upstream: ws
`

const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// wsAccept is the Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsUpstream switches to an echo of raw bytes on an Upgrade: websocket
// request and answers anything else as an echo upstream.
func wsUpstream(t *testing.T) *httptest.Server {
	echo := &echoUpstream{name: "ws"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			echo.serve(w, r)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		if rw.Flush() != nil {
			return
		}
		buf := make([]byte, 4096)
		for {
			n, err := rw.Read(buf)
			if n > 0 {
				if _, err := conn.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func upgradeRequest(path, host string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

func TestWebsocket(t *testing.T) {
	needBinary(t)
	up := wsUpstream(t)
	g := startGateway(t, websocketConfig, vars{"ws": up.URL})

	t.Run("upgrade allowed", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", g.Listen, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, upgradeRequest("/ws", g.Listen)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d, want 101; body %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(wsKey) {
			t.Errorf("Sec-WebSocket-Accept %q, want %q", got, wsAccept(wsKey))
		}
		if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
			t.Errorf("Upgrade %q, want websocket", resp.Header.Get("Upgrade"))
		}
		for _, msg := range []string{"hello", "\x81\x05world", strings.Repeat("z", 3000)} {
			if _, err := io.WriteString(conn, msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("echo of %d bytes: %v", len(msg), err)
			}
			if string(got) != msg {
				t.Errorf("echoed %q, want %q", got, msg)
			}
		}
	})

	t.Run("upgrade not allowed", func(t *testing.T) {
		resp := rawRequest(t, g.Listen, upgradeRequest("/plain", g.Listen))
		s := decodeSeen(t, resp.Status, resp.Body)
		if v := s.Header.Values("Upgrade"); len(v) > 0 {
			t.Errorf("upstream saw Upgrade %q on a route without websocket", v)
		}
		if c := s.Header.Get("Connection"); strings.Contains(strings.ToLower(c), "upgrade") {
			t.Errorf("upstream saw Connection %q", c)
		}
	})
}
