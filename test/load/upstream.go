//go:build linux

package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

// serveUpstream is the hidden `-role upstream` mode: an HTTP/1.1 server with
// keep-alive answering every request with the same body of bodySize bytes.
// It prints its address on stdout (one line) once listening, and runs until
// killed.
func serveUpstream(bodySize int) error {
	body := make([]byte, bodySize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	length := strconv.Itoa(len(body))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(os.Stdout, ln.Addr().String()); err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"application/octet-stream"}
			h["Content-Length"] = []string{length}
			_, _ = w.Write(body)
		}),
	}
	return srv.Serve(ln)
}
