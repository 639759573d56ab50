package wasm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/proxy"
	"github.com/wasmgate/wasmgate/core/upstream"
	"github.com/wasmgate/wasmgate/filters/internal/stores"
)

// hostOptions fills the options that need the whole config: the upstreams
// the plugin may call (plugins.NAME.callouts) and the Redis store for
// shared_data: redis.
func hostOptions(bc *filter.BuildContext, pc *PluginConfig, o *Options) error {
	if pc.SharedData == "redis" && bc.Config != nil {
		if stores.RedisOf(bc.Config) == nil {
			return config.FieldErr("shared_data", `shared_data: redis needs a Redis server in the config: stores: {redis: {address: "127.0.0.1:6379"}}`)
		}
		o.SharedRedis = stores.RedisOf(bc.Config)
	}
	if len(pc.Callouts) == 0 {
		return nil
	}
	o.Callouts = make(map[string]Caller, len(pc.Callouts))
	for _, name := range pc.Callouts {
		var uc *config.Upstream
		if bc.Config != nil {
			uc = bc.Config.Upstreams[name]
		}
		if uc == nil {
			return config.FieldErr("callouts", "unknown upstream %q", name)
		}
		if bc.Upstream != nil {
			if c := bc.Upstream(name); c != nil {
				o.Callouts[name] = &sharedCaller{Name: name, Upstream: uc, c: c}
				continue
			}
		}
		c, err := calloutUpstream(bc, name, uc)
		if err != nil {
			return err
		}
		o.Callouts[name] = c
	}
	return nil
}

// sharedCaller sends callouts through the gateway's own upstream (the
// routes' targets, health, pools and breaker). Name and Upstream are
// exported for the plugin's pool key: a plugin kept across a reload keeps
// this caller, which stays valid because the gateway carries an unchanged
// upstream over to the new snapshot; a changed one changes the key, and
// the plugin is built anew with the new upstream.
type sharedCaller struct {
	Name     string
	Upstream *config.Upstream
	c        filter.Caller
}

func (s *sharedCaller) Call(ctx context.Context, req *http.Request) (*http.Response, error) {
	return s.c.Call(ctx, req)
}

// upstreamCaller sends callouts through an upstream of the plugin's own,
// with its balancer, health, retries within budget and circuit breaker,
// when the plugin is built outside a gateway (validate, plugin test). Kept
// across builds while the upstream's config is unchanged.
type upstreamCaller struct {
	Name     string
	Upstream *config.Upstream // exported: part of the plugin's pool key, so a changed upstream reloads the plugin
	u        *upstream.Upstream
	proxy    *proxy.Proxy // sends the target's host: the guest left :authority empty
	asIs     *proxy.Proxy // sends the guest's :authority
}

type closeUpstream struct{ u *upstream.Upstream }

// calloutKey keeps a callout's upstream (pools, health) while its config,
// as JSON, is unchanged.
type calloutKey struct{ name, config string }

func (c closeUpstream) Close() error { c.u.Close(); return nil }

func calloutUpstream(bc *filter.BuildContext, name string, uc *config.Upstream) (*upstreamCaller, error) {
	create := func() (io.Closer, error) {
		u, err := upstream.New(name, uc)
		if err != nil {
			return nil, err
		}
		return closeUpstream{u}, nil
	}
	id, _ := json.Marshal(uc)
	c, err := bc.Keep(calloutKey{name, string(id)}, create)
	if err != nil {
		return nil, config.FieldErr("callouts", "upstream %q: %v", name, err)
	}
	return &upstreamCaller{Name: name, Upstream: uc, u: c.(closeUpstream).u,
		proxy: proxy.New(proxy.Options{}), asIs: proxy.New(proxy.Options{PreserveHost: true})}, nil
}

func (c *upstreamCaller) Call(ctx context.Context, req *http.Request) (*http.Response, error) {
	req = req.WithContext(ctx)
	x := &filter.Exchange{Request: req, Start: time.Now()}
	// As Envoy's async client: the guest's :authority is the Host sent;
	// an empty one stands for the target's own host.
	p := c.proxy
	if req.Host != "" {
		p = c.asIs
	}
	resp, perr := p.RoundTrip(discardWriter{}, x, c.u, false)
	if perr != nil {
		return nil, perr
	}
	return resp, nil
}

// discardWriter takes the 1xx responses a callout's upstream may send.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
