package server

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// BenchmarkCertLookup is the per-handshake cost of choosing a certificate.
func BenchmarkCertLookup(b *testing.B) {
	idx := &certIndex{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	for _, names := range [][]string{{"a.test"}, {"*.b.test"}, {"api.example.com", "www.example.com"}} {
		idx.add(&tls.Certificate{Leaf: &x509.Certificate{DNSNames: names}})
	}
	for b.Loop() {
		if idx.lookup("x.b.test") == nil {
			b.Fatal("no certificate")
		}
	}
}

// BenchmarkFramingScan is the scanner's cost per request on a keep-alive
// connection: a browser-sized GET head, and a POST with a 1 KiB body.
func BenchmarkFramingScan(b *testing.B) {
	get := []byte("GET /api/v1/users/12345?fields=name,email HTTP/1.1\r\nHost: api.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
		"Accept: application/json, text/plain, */*\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl\r\n" +
		"Cookie: session=abcdef0123456789; theme=dark\r\nConnection: keep-alive\r\n\r\n")
	post := append([]byte("POST /api/v1/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n"), make([]byte, 1024)...)
	for _, c := range []struct {
		name string
		req  []byte
	}{{"get", get}, {"post-1KiB", post}} {
		b.Run(c.name, func(b *testing.B) {
			var s framingScanner
			var v verdicts
			b.SetBytes(int64(len(c.req)))
			for b.Loop() {
				if _, err := s.feed(c.req, &v); err != nil {
					b.Fatal(err)
				}
				v.got = v.got[:0]
			}
		})
	}
}
