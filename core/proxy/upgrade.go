package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// switchHead is the status line of the 101 we relay; the reason is fixed.
const switchHead = "HTTP/1.1 101 Switching Protocols\r\n"

// switchProtocols completes an allowed websocket upgrade: it takes over the
// client connection, relays the upstream's 101 with its headers, and copies
// bytes both ways until both sides have closed. The upstream connection is
// the 101 response's body (the transport hands it over as io.ReadWriteCloser).
func (p *Proxy) switchProtocols(w http.ResponseWriter, xr *filter.Response, t *trip) *Error {
	defer t.Close()
	// The route timeout bounds the handshake, not the life of the tunnel.
	t.release()
	backend := t.upstream.(io.ReadWriteCloser) // checked by RoundTrip

	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeLocal(w, filter.Error(http.StatusBadGateway, "bad upstream response"))
		return &Error{Kind: KindBadResponse, Status: http.StatusBadGateway, Err: errors.Join(errNoHijack, err)}
	}
	defer conn.Close()
	// The server's read and write deadlines were for one request; a tunnel
	// lives as long as its peers keep it open.
	_ = conn.SetDeadline(time.Time{})

	h := w.Header()
	copyHeader(h, xr.Header)
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{t.upgrade}
	brw.WriteString(switchHead)
	h.Write(brw)
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return &Error{Kind: KindClientGone, Status: StatusClientClosed, Err: err}
	}
	// Bytes the client sent after its handshake may already sit in the
	// server's read buffer: read through it, not from conn directly.
	tunnel(conn, brw.Reader, backend)
	return nil
}

// tunnel copies both ways. When one side finishes sending, the other is
// half-closed (CloseWrite) and the opposite direction keeps going; an error,
// or a side that cannot half-close, tears both down.
func tunnel(client net.Conn, fromClient io.Reader, backend io.ReadWriteCloser) {
	done := make(chan error, 2)
	go pipe(done, client, backend)
	go pipe(done, backend, fromClient)
	if err := <-done; err != nil {
		client.Close()
		backend.Close()
	}
	<-done
}

// pipe copies src to dst, then half-closes dst.
func pipe(done chan<- error, dst io.Writer, src io.Reader) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var err error
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err = dst.Write(buf[:n]); err != nil {
				break
			}
		}
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			err = cw.CloseWrite()
		} else {
			err = errors.ErrUnsupported
		}
	}
	done <- err
}

// writeLocal writes a gateway-made response whole.
func writeLocal(w http.ResponseWriter, resp *filter.Response) {
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}
