package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"github.com/wasmgate/wasmgate/core/config"
)

// tlsConfig is how https targets are reached: verified against the system
// roots or the configured CA bundle, with the configured SNI name and an
// optional client certificate. h2 is offered through ALPN when the
// upstream's protocol is auto (the transport adds it).
func tlsConfig(c *config.UpstreamTLS) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c == nil {
		return conf, nil
	}
	conf.ServerName = c.ServerName
	conf.InsecureSkipVerify = c.InsecureSkipVerify
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, config.FieldErr("tls.ca", "cannot read the CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.FieldErr("tls.ca", "%s holds no PEM certificate", c.CA)
		}
		conf.RootCAs = pool
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, config.FieldErr("tls.cert", "cannot load the client certificate and key: %v", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}
