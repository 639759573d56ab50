package proxy

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/wasmgate/wasmgate/core/config"
)

// h2cClient speaks HTTP/2 without TLS, with prior knowledge, as gRPC does.
func h2cClient(t *testing.T) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestGRPCTrailersOverH2C(t *testing.T) {
	for _, announce := range []bool{false, true} {
		t.Run(map[bool]string{false: "unannounced", true: "announced"}[announce], func(t *testing.T) {
			back := startH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ProtoMajor != 2 || r.Header.Get("Te") != "trailers" {
					w.WriteHeader(400)
					return
				}
				msg, _ := io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/grpc")
				prefix := http.TrailerPrefix
				if announce {
					w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
					prefix = ""
				}
				w.Write(msg) // echo the framed message
				w.(http.Flusher).Flush()
				w.Header().Set(prefix+"Grpc-Status", "0")
				w.Header().Set(prefix+"Grpc-Message", "fine")
			}))
			up := newUpstream(t, back.URL, func(c *config.Upstream) { c.Protocol = "h2c" })
			front := startFront(t, &gateway{p: New(Options{}), up: up})

			msg := []byte{0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}
			req, _ := http.NewRequest("POST", front.URL+"/pkg.Svc/Echo", bytes.NewReader(msg))
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("Te", "trailers")
			resp, err := h2cClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || resp.ProtoMajor != 2 || !bytes.Equal(body, msg) {
				t.Fatalf("%d HTTP/%d %q %v", resp.StatusCode, resp.ProtoMajor, body, err)
			}
			if resp.Trailer.Get("Grpc-Status") != "0" || resp.Trailer.Get("Grpc-Message") != "fine" {
				t.Errorf("trailers %v; want grpc-status 0, grpc-message fine", resp.Trailer)
			}
		})
	}
}
