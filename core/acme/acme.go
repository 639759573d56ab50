// Package acme obtains and renews the certificates of listeners' tls.acme
// blocks from an RFC 8555 CA, with certmagic: one certificate cache per
// process, one certmagic.Config per distinct block. A reload prepares the
// new blocks beside the running ones and commits them only when the whole
// reload succeeds; a block that did not change is kept as it is, so its
// certificates stay in the cache and are never dropped or ordered again.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"github.com/wasmgate/wasmgate/core/config"
)

// Manager owns the process's certificate cache and the committed blocks.
type Manager struct {
	logger *slog.Logger
	zl     *zap.Logger

	cacheOnce sync.Once
	cache     *certmagic.Cache

	mu       sync.Mutex
	blocks   map[string]*Block // committed, by key (the block's config)
	ctx      context.Context   // ends at Stop: ends every Manage
	stop     context.CancelFunc
	stopOnce sync.Once

	failures counter // renewal failures, all blocks (metrics.go)

	revokeMu    sync.Mutex                   // one revocation at a time (revoke.go)
	revocations [revokeResults]atomic.Uint64 // by outcome
}

// RenewCheckInterval is how often the cache looks for certificates to
// renew (and OCSP staples to refresh); certmagic's default. Tests lower it.
var RenewCheckInterval = certmagic.DefaultRenewCheckInterval

// New returns a Manager with no blocks. logger receives certmagic's logs.
func New(logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	if v, err := time.ParseDuration(os.Getenv("WASMGATE_ACME_RENEW_CHECK")); err == nil && v > 0 {
		RenewCheckInterval = v
	}
	return &Manager{logger: logger, zl: zapToSlog(logger), blocks: map[string]*Block{}, ctx: ctx, stop: stop}
}

func (m *Manager) certCache() *certmagic.Cache {
	m.cacheOnce.Do(func() {
		m.cache = certmagic.NewCache(certmagic.CacheOptions{
			GetConfigForCert:   m.configForCert,
			RenewCheckInterval: RenewCheckInterval,
			OCSPCheckInterval:  RenewCheckInterval,
			Logger:             m.zl,
		})
	})
	return m.cache
}

// configForCert finds the block managing one of cert's names.
func (m *Manager) configForCert(cert certmagic.Certificate) (*certmagic.Config, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.blocks {
		for _, n := range cert.Names {
			if b.Manages(n) || b.spec.OnDemand != nil {
				return b.cm, nil
			}
		}
	}
	return nil, fmt.Errorf("no tls.acme block manages %v", cert.Names)
}

// Stop ends maintenance (renewals) and every pending order.
func (m *Manager) Stop() {
	if m == nil {
		return
	}
	m.stopOnce.Do(func() {
		m.stop()
		if m.cache != nil {
			m.cache.Stop()
		}
	})
}

// Block is one tls.acme block at work: what a listener's handshake asks for
// certificates (it implements server.ManagedCerts).
type Block struct {
	key    string
	spec   config.ACME
	names  map[string]bool // lower case; "*.example.com" as written
	cm     *certmagic.Config
	issuer *certmagic.ACMEIssuer
	m      *Manager
	// ctx ends when a commit drops the block (or at Stop): its pending
	// orders and retries stop with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	lastErr map[string]string // name -> last failure to obtain or renew
}

// Manages reports whether name is one of the block's names (a listed
// wildcard covers one label).
func (b *Block) Manages(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if b.names[name] {
		return true
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return b.names["*"+name[i:]]
	}
	return false
}

// GetCertificate answers a handshake: TLS-ALPN-01 challenges, managed
// certificates from the cache, and on-demand issuance where permitted.
func (b *Block) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return b.cm.GetCertificate(hello)
}

// Plan is a reload's blocks, prepared but not committed.
type Plan struct {
	m         *Manager
	blocks    map[string]*Block // by key: reused or new
	listeners []*Block          // by listener index; nil without tls.acme
	fresh     []*Block          // new in this plan, to start on Commit
}

// Listener returns the block of listener i of the prepared config, or nil.
func (p *Plan) Listener(i int) *Block {
	if p == nil || i >= len(p.listeners) {
		return nil
	}
	return p.listeners[i]
}

// Prepare builds the blocks of cfg's listeners, reusing committed ones
// whose config did not change. It has no effect until Commit.
func (m *Manager) Prepare(cfg *config.Config) (*Plan, error) {
	p := &Plan{m: m, blocks: map[string]*Block{}, listeners: make([]*Block, len(cfg.Listeners))}
	var errs []error
	m.mu.Lock()
	committed := m.blocks
	m.mu.Unlock()
	for i, l := range cfg.Listeners {
		if l.TLS == nil || l.TLS.ACME == nil {
			continue
		}
		at := config.JoinIndex("listeners", i) + ".tls.acme"
		spec := *l.TLS.ACME
		httpPort := plainPort(cfg.Listeners)
		keyBytes, _ := json.Marshal(struct {
			S        config.ACME
			Addr     string
			HTTPPort int
		}{spec, l.Address, httpPort})
		key := string(keyBytes)
		if b := p.blocks[key]; b != nil {
			p.listeners[i] = b
			continue
		}
		if b := committed[key]; b != nil {
			p.blocks[key] = b
			p.listeners[i] = b
			continue
		}
		b, err := m.newBlock(cfg, at, spec, l.Address, httpPort)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.key = key
		p.blocks[key] = b
		p.listeners[i] = b
		p.fresh = append(p.fresh, b)
	}
	if err := errors.Join(errs...); err != nil {
		p.Abort()
		return nil, err
	}
	return p, nil
}

// Commit makes p's blocks the running ones: new blocks start obtaining
// their certificates (in the background; storage is read first, so a
// certificate obtained before, by this or another instance, is not ordered
// again), and names no block manages any more leave the cache.
func (p *Plan) Commit() {
	m := p.m
	m.mu.Lock()
	old := m.blocks
	m.blocks = p.blocks
	m.mu.Unlock()
	for _, b := range p.fresh {
		if len(b.spec.Names) > 0 {
			if err := b.cm.ManageAsync(b.ctx, b.spec.Names); err != nil {
				m.logger.Error("acme: cannot manage certificates", "names", b.spec.Names, "err", err)
			}
		}
	}
	var gone []certmagic.SubjectIssuer
	for key, b := range old {
		if p.blocks[key] != nil {
			continue
		}
		b.cancel()
		for _, n := range b.spec.Names {
			if !p.managed(n) {
				gone = append(gone, certmagic.SubjectIssuer{Subject: n})
			}
		}
	}
	if len(gone) > 0 && m.cache != nil {
		m.cache.RemoveManaged(gone)
	}
}

// Abort drops a plan that will not be committed (the reload failed
// later): its new blocks never started anything.
func (p *Plan) Abort() {
	if p == nil {
		return
	}
	for _, b := range p.fresh {
		b.cancel()
	}
}

func (p *Plan) managed(name string) bool {
	for _, b := range p.blocks {
		if slices.Contains(b.spec.Names, name) {
			return true
		}
	}
	return false
}

// HandleHTTPChallenge answers an HTTP-01 challenge request (from this
// instance's orders, or another's through the shared storage) and reports
// whether it did. The plain listeners call it before routing.
func (m *Manager) HandleHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		return false
	}
	m.mu.Lock()
	blocks := make([]*Block, 0, len(m.blocks))
	for _, b := range m.blocks {
		blocks = append(blocks, b)
	}
	m.mu.Unlock()
	for _, b := range blocks {
		if b.issuer.HandleHTTPChallenge(w, r) {
			return true
		}
	}
	return false
}

// Active reports whether any block is committed.
func (m *Manager) Active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blocks) > 0
}

func (m *Manager) newBlock(cfg *config.Config, at string, spec config.ACME, address string, httpPort int) (*Block, error) {
	storage, err := newStorage(cfg, at, spec, m.logger)
	if err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if spec.CARoot != "" {
		pemBytes, err := os.ReadFile(spec.CARoot)
		if err != nil {
			return nil, config.FieldErr(at+".ca_root", "cannot load %s: %v", spec.CARoot, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, config.FieldErr(at+".ca_root", "%s holds no PEM certificate", spec.CARoot)
		}
	}
	b := &Block{spec: spec, names: map[string]bool{}, m: m, lastErr: map[string]string{}}
	b.ctx, b.cancel = context.WithCancel(m.ctx)
	for _, n := range spec.Names {
		b.names[strings.ToLower(n)] = true
	}
	tmpl := certmagic.Config{
		RenewalWindowRatio: spec.RenewalWindowRatio,
		OnEvent:            b.onEvent,
		OCSP:               certmagic.OCSPConfig{DisableStapling: spec.OCSPStapling != nil && !*spec.OCSPStapling},
		Storage:            storage,
		Logger:             m.zl,
	}
	if od := spec.OnDemand; od != nil {
		tmpl.OnDemand = &certmagic.OnDemandConfig{DecisionFunc: permit(od, m.logger)}
	}
	b.cm = certmagic.New(m.certCache(), tmpl)
	host, port := splitAddr(address)
	issuer := certmagic.ACMEIssuer{
		CA:                      spec.Directory,
		TestCA:                  spec.Directory, // never fall back to another CA than the one configured
		Email:                   spec.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    !slices.Contains(spec.Challenges, "http-01"),
		DisableTLSALPNChallenge: !slices.Contains(spec.Challenges, "tls-alpn-01"),
		// certmagic binds these to solve challenges itself; finding them
		// taken by our own listeners, it leaves the answers to them
		// (HandleHTTPChallenge, GetCertificate).
		ListenHost:     host,
		AltHTTPPort:    httpPort,
		AltTLSALPNPort: port,
		TrustedRoots:   roots,
		Logger:         m.zl,
	}
	if e := spec.EAB; e != nil {
		issuer.ExternalAccount = &acme.EAB{KeyID: e.KeyID, MACKey: e.MACKey}
	}
	b.issuer = certmagic.NewACMEIssuer(b.cm, issuer)
	b.cm.Issuers = []certmagic.Issuer{b.issuer}
	return b, nil
}

// permit is the on-demand decision: a name in allow, or one the ask
// endpoint answers 200 for. Anything else (another status, no answer) is
// refused: no order is placed.
func permit(od *config.ACMEOnDemand, logger *slog.Logger) func(ctx context.Context, name string) error {
	allow := map[string]bool{}
	for _, n := range od.Allow {
		allow[strings.ToLower(n)] = true
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, name string) error {
		name = strings.ToLower(name)
		if allow[name] {
			return nil
		}
		if od.Ask == "" {
			return fmt.Errorf("%s is not in on_demand.allow", name)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, od.Ask, nil)
		if err != nil {
			return err
		}
		q := req.URL.Query()
		q.Set("domain", name)
		req.URL.RawQuery = q.Encode()
		resp, err := client.Do(req)
		if err != nil {
			logger.Warn("acme: on_demand.ask did not answer; refusing", "name", name, "err", err)
			return fmt.Errorf("on_demand.ask: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("on_demand.ask answered %d for %s", resp.StatusCode, name)
		}
		return nil
	}
}

// plainPort is the port of the first plain listener (where the CA's
// HTTP-01 requests arrive), 0 if none or unknown.
func plainPort(ls []config.Listener) int {
	for _, l := range ls {
		if l.TLS == nil {
			_, p := splitAddr(l.Address)
			return p
		}
	}
	return 0
}

func splitAddr(address string) (string, int) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
