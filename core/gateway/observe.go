package gateway

import (
	"crypto/sha256"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/server"
	"github.com/wasmgate/wasmgate/core/upstream"
)

// observer builds the snapshot's observer from the registered ones (the
// observe filter package, when linked in). nil when nothing is observed.
func (b *builder) observer() filter.Observer {
	var all observers
	for _, build := range filter.Observers() {
		o, err := build(&filter.BuildContext{Logger: b.logger, Config: b.cfg, Keeper: b.keep, DryRun: b.dryRun})
		if err != nil {
			b.fail("observability", err)
			continue
		}
		if o != nil {
			all = append(all, o)
		}
	}
	switch len(all) {
	case 0:
		return nil
	case 1:
		return all[0]
	}
	return all
}

// meterOf is the meter of the first observer that exports metrics: the
// filters register their instruments there.
func meterOf(o filter.Observer) filter.Meter {
	os, ok := o.(observers)
	if !ok {
		os = observers{o}
	}
	for _, o := range os {
		if ms, ok := o.(filter.MeterSource); ok {
			if m := ms.Meter(); m != nil {
				return m
			}
		}
	}
	return nil
}

func attemptObserver(o filter.Observer) filter.AttemptObserver {
	ao, _ := o.(filter.AttemptObserver)
	return ao
}

// observers fans every observer call out, for when more than one observer
// package is linked in.
type observers []filter.Observer

func (os observers) Begin(x *filter.Exchange) {
	for _, o := range os {
		o.Begin(x)
	}
}

func (os observers) End(x *filter.Exchange) {
	for _, o := range os {
		o.End(x)
	}
}

func (os observers) AttemptStart(x *filter.Exchange, a *filter.Attempt) {
	for _, o := range os {
		if ao, ok := o.(filter.AttemptObserver); ok {
			ao.AttemptStart(x, a)
		}
	}
}

func (os observers) AttemptEnd(x *filter.Exchange, a *filter.Attempt) {
	for _, o := range os {
		if ao, ok := o.(filter.AttemptObserver); ok {
			ao.AttemptEnd(x, a)
		}
	}
}

func (os observers) ConfigApplied(hash [32]byte, reload bool) {
	for _, o := range os {
		if co, ok := o.(filter.ConfigObserver); ok {
			co.ConfigApplied(hash, reload)
		}
	}
}

func (os observers) ConfigRejected(err error) {
	for _, o := range os {
		if co, ok := o.(filter.ConfigObserver); ok {
			co.ConfigRejected(err)
		}
	}
}

func (os observers) ObserveUpstreams(src upstream.StatusSource) {
	for _, o := range os {
		if uo, ok := o.(upstream.StatusObserver); ok {
			uo.ObserveUpstreams(src)
		}
	}
}

func (os observers) ObserveServer(src server.StatsSource) {
	for _, o := range os {
		if so, ok := o.(server.StatsObserver); ok {
			so.ObserveServer(src)
		}
	}
}

func (os observers) AdminRequest(endpoint string, status int, elapsed time.Duration) {
	for _, o := range os {
		if ao, ok := o.(filter.AdminObserver); ok {
			ao.AdminRequest(endpoint, status, elapsed)
		}
	}
}

func (os observers) Metrics() (string, http.Handler) {
	for _, o := range os {
		if me, ok := o.(filter.MetricsExposer); ok {
			if path, h := me.Metrics(); h != nil {
				return path, h
			}
		}
	}
	return "", nil
}

// configApplied tells s's observer that s went live.
func (s *Snapshot) configApplied(reload bool) {
	if co, ok := s.observer.(filter.ConfigObserver); ok {
		co.ConfigApplied(sha256.Sum256(s.Source), reload)
	}
}

// configRejected tells s's observer, still serving, that a reload failed.
func (s *Snapshot) configRejected(err error) {
	if co, ok := s.observer.(filter.ConfigObserver); ok {
		co.ConfigRejected(err)
	}
}

// ReadStatuses implements upstream.StatusSource for the snapshot's
// observer: it reads live upstream state, at scrape time only.
func (s *Snapshot) ReadStatuses(fn func(*upstream.Status)) {
	var st upstream.Status
	for _, name := range s.upNames {
		s.upstreams[name].ReadStatus(&st)
		fn(&st)
	}
}

// AdminRequest counts one admin API request with the serving snapshot's
// observer (admin.RequestObserver).
func (g *Gateway) AdminRequest(endpoint string, status int, elapsed time.Duration) {
	if ao, ok := g.current.Load().observer.(filter.AdminObserver); ok {
		ao.AdminRequest(endpoint, status, elapsed)
	}
}

// Metrics serves the observer's metrics on the admin listener, if any.
func (g *Gateway) Metrics() (string, http.Handler) {
	if me, ok := g.current.Load().observer.(filter.MetricsExposer); ok {
		return me.Metrics()
	}
	return "", nil
}

// filterNames are the names of a route's filters as its chain holds them,
// `- chain:` entries expanded, so a rejection is logged by filter name.
func filterNames(cfg *config.Config, specs []config.FilterSpec) []string {
	var names []string
	for _, f := range cfg.ExpandFilters(specs, "") {
		names = append(names, f.Spec.Name)
	}
	return names
}

var (
	_ upstream.StatusSource   = (*Snapshot)(nil)
	_ upstream.StatusObserver = observers(nil)
	_ server.StatsObserver    = observers(nil)
	_ filter.AdminObserver    = observers(nil)
	_ filter.AttemptObserver  = observers(nil)
	_ filter.ConfigObserver   = observers(nil)
	_ filter.MetricsExposer   = observers(nil)
)
