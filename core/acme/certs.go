package acme

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/core/filter"
)

// Certificate is what /status and the console show of one managed name.
type Certificate struct {
	Names    []string  `json:"names"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	Managed  bool      `json:"managed"` // from ACME; false: a static file
	// LastError is the last failure to obtain or renew it, "" once one
	// succeeded since.
	LastError string `json:"last_error,omitempty"`
}

type counter struct{ n atomic.Uint64 }

// onEvent records certmagic's outcomes: the last error per name (for
// /status) and renewal failures (for metrics).
func (b *Block) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	name = strings.ToLower(name)
	switch event {
	case "cert_failed":
		b.mu.Lock()
		b.lastErr[name] = fmt.Sprint(data["error"])
		b.mu.Unlock()
		if renewal, _ := data["renewal"].(bool); renewal {
			b.m.failures.n.Add(1)
		}
		b.m.logger.Warn("acme: could not obtain a certificate", "name", name, "renewal", data["renewal"], "err", fmt.Sprint(data["error"]))
	case "cert_obtained":
		b.mu.Lock()
		delete(b.lastErr, name)
		if !b.Manages(name) {
			b.names[name] = false // on demand: listed in Certificates, not managed at start
		}
		b.mu.Unlock()
		b.m.logger.Info("acme: certificate obtained", "name", name, "renewal", data["renewal"])
	}
	return nil
}

// Certificates lists the certificates the committed blocks hold, by name.
// A name not obtained yet shows with its last error and no expiry.
func (m *Manager) Certificates() []Certificate {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	blocks := make([]*Block, 0, len(m.blocks))
	for _, b := range m.blocks {
		blocks = append(blocks, b)
	}
	m.mu.Unlock()
	var out []Certificate
	seen := map[string]bool{}
	for _, b := range blocks {
		b.mu.Lock()
		names := make([]string, 0, len(b.names))
		for n := range b.names {
			names = append(names, n)
		}
		errs := make(map[string]string, len(b.lastErr))
		for n, e := range b.lastErr {
			errs[n] = e
		}
		b.mu.Unlock()
		sort.Strings(names)
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			c := Certificate{Names: []string{n}, Managed: true, LastError: errs[n]}
			if m.cache != nil {
				for _, mc := range m.cache.AllMatchingCertificates(n) {
					if leaf := mc.Leaf; leaf != nil && leaf.NotAfter.After(c.NotAfter) {
						c.Names = slices.Clone(mc.Names)
						c.Issuer = leaf.Issuer.String()
						c.Serial = leaf.SerialNumber.Text(16)
						c.NotAfter = leaf.NotAfter
					}
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// CoreMetrics marks the Manager a filter.CoreCollector: its names are the
// gateway's.
func (*Manager) CoreMetrics() {}

// Collect implements filter.Collector: expiry per managed name and the
// renewal failures, read at scrape time.
func (m *Manager) Collect(dst []filter.Sample) []filter.Sample {
	now := time.Now()
	for _, c := range m.Certificates() {
		if c.NotAfter.IsZero() {
			continue
		}
		dst = append(dst, filter.Sample{
			Name: "wasmgate_tls_certificate_expiry_seconds", Kind: filter.SampleGauge,
			Help:   "Seconds until the certificate served for a name expires (negative: expired).",
			Labels: []filter.Label{{Key: "name", Value: c.Names[0]}, {Key: "source", Value: "acme"}},
			Value:  c.NotAfter.Sub(now).Seconds(),
		})
	}
	dst = append(dst, filter.Sample{
		Name: "wasmgate_tls_renewal_failures_total", Kind: filter.SampleCounter,
		Help:  "Failed attempts to renew an ACME certificate.",
		Value: float64(m.failures.n.Load()),
	})
	for i, result := range revokeResultNames {
		dst = append(dst, filter.Sample{
			Name: "wasmgate_tls_revocations_total", Kind: filter.SampleCounter,
			Help:   "Certificate revocations asked through the admin API, by outcome (ok, ca_refused, replacement_failed, error).",
			Labels: []filter.Label{{Key: "result", Value: result}},
			Value:  float64(m.revocations[i].Load()),
		})
	}
	return dst
}
