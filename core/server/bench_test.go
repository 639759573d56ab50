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
