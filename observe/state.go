package observe

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/wasmgate/wasmgate/core/filter"
	"github.com/wasmgate/wasmgate/core/server"
	coreupstream "github.com/wasmgate/wasmgate/core/upstream"
)

// State the gateway already keeps (upstream health, breakers, retry
// budgets) is exported through observable instruments:
// read when /metrics is scraped, never on the request path.

// stateInstruments are the observable instruments and the admin counter.
type stateInstruments struct {
	upstreams     atomic.Pointer[upstreamSource] // the live snapshot's; nil before one is live
	targetHealthy metric.Int64ObservableGauge
	breakerState  metric.Int64ObservableGauge
	ejections     metric.Int64ObservableCounter
	retriesDenied metric.Int64ObservableCounter
	dnsFailures   metric.Int64ObservableCounter
	dnsChanges    metric.Int64ObservableCounter
	adminRequests metric.Int64Counter

	server         atomic.Pointer[serverSource] // nil before a snapshot is live
	connsRefused   metric.Int64ObservableCounter
	requestsShed   metric.Int64ObservableCounter
	malformed      metric.Int64ObservableCounter
	resetCloses    metric.Int64ObservableCounter
	overloadLevel  metric.Int64ObservableGauge
	refusalReasons [len(server.RefusalReasons)]metric.MeasurementOption
}

type upstreamSource struct{ coreupstream.StatusSource }

type serverSource struct{ server.StatsSource }

// breakerValue is the circuit-breaker gauge's value for a breaker state;
// false for an upstream without an error-ratio breaker (no circuit_breaker
// block, or one with limits only: state off), which has no series.
func breakerValue(s string) (int64, bool) {
	switch s {
	case "closed":
		return 0, true
	case "half-open":
		return 1, true
	case "open":
		return 2, true
	}
	return 0, false
}

func (si *stateInstruments) init(mt metric.Meter) error {
	var err error
	var errs []error
	add := func(e error) { errs = append(errs, e) }
	si.targetHealthy, err = mt.Int64ObservableGauge("wasmgate.upstream.target.healthy",
		metric.WithDescription("1 while a target may be picked (passing active checks, not ejected), else 0."))
	add(err)
	si.breakerState, err = mt.Int64ObservableGauge("wasmgate.upstream.circuit_breaker.state",
		metric.WithDescription("Error-ratio circuit breaker state per upstream: 0 closed, 1 half-open, 2 open."))
	add(err)
	si.ejections, err = mt.Int64ObservableCounter("wasmgate.upstream.ejections", metric.WithUnit("{ejection}"),
		metric.WithDescription("Passive outlier ejections per target."))
	add(err)
	si.retriesDenied, err = mt.Int64ObservableCounter("wasmgate.upstream.retries.refused", metric.WithUnit("{attempt}"),
		metric.WithDescription("Retries refused by the upstream's retry budget or circuit_breaker.max_retries."))
	add(err)
	si.dnsFailures, err = mt.Int64ObservableCounter("wasmgate.upstream.dns.failures", metric.WithUnit("{lookup}"),
		metric.WithDescription("DNS lookups of target names (dns.refresh) that failed or found no address; the name's last good addresses stay in use."))
	add(err)
	si.dnsChanges, err = mt.Int64ObservableCounter("wasmgate.upstream.dns.changes", metric.WithUnit("{refresh}"),
		metric.WithDescription("DNS refreshes that changed an upstream's targets."))
	add(err)
	si.adminRequests, err = mt.Int64Counter("wasmgate.admin.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Admin API requests, by endpoint and status."))
	add(err)
	si.connsRefused, err = mt.Int64ObservableCounter("wasmgate.server.connections.refused", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections refused before a byte was read, by reason (listener connection caps, accept rate, overload)."))
	add(err)
	si.requestsShed, err = mt.Int64ObservableCounter("wasmgate.server.requests.shed", metric.WithUnit("{request}"),
		metric.WithDescription("Requests answered 503 past server.overload.heap_hard."))
	add(err)
	si.malformed, err = mt.Int64ObservableCounter("wasmgate.server.requests.malformed", metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused before routing for their framing (HTTP/1.x message framing, HTTP/2 Host and content-length)."))
	add(err)
	si.resetCloses, err = mt.Int64ObservableCounter("wasmgate.server.http2.reset_closes", metric.WithUnit("{connection}"),
		metric.WithDescription("HTTP/2 and HTTP/3 connections closed because the client reset most of their streams (rapid reset)."))
	add(err)
	si.overloadLevel, err = mt.Int64ObservableGauge("wasmgate.server.overload.level",
		metric.WithDescription("Overload level: 0 normal, 1 refusing new connections (heap_soft), 2 refusing requests (heap_hard)."))
	add(err)
	for i, r := range server.RefusalReasons {
		si.refusalReasons[i] = metric.WithAttributes(attribute.String("reason", r))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, err = mt.RegisterCallback(si.observe, si.targetHealthy, si.breakerState, si.ejections, si.retriesDenied,
		si.dnsFailures, si.dnsChanges,
		si.connsRefused, si.requestsShed, si.malformed, si.resetCloses, si.overloadLevel)
	return err
}

// observe runs at scrape time.
func (si *stateInstruments) observe(_ context.Context, o metric.Observer) error {
	if src := si.server.Load(); src != nil {
		var st server.Stats
		src.ReadStats(&st)
		for i, n := range st.ConnectionsRefused {
			o.ObserveInt64(si.connsRefused, int64(n), si.refusalReasons[i])
		}
		o.ObserveInt64(si.requestsShed, int64(st.RequestsShed))
		o.ObserveInt64(si.malformed, int64(st.RequestsMalformed))
		o.ObserveInt64(si.resetCloses, int64(st.ResetCloses))
		o.ObserveInt64(si.overloadLevel, int64(st.OverloadLevel))
	}
	if src := si.upstreams.Load(); src != nil {
		src.ReadStatuses(func(st *coreupstream.Status) {
			up := keyUpstream.String(st.Name)
			if v, ok := breakerValue(st.Breaker.State); ok {
				o.ObserveInt64(si.breakerState, v, metric.WithAttributes(up))
			}
			o.ObserveInt64(si.retriesDenied, int64(st.RetriesDenied), metric.WithAttributes(up))
			if st.DNS.Lookups > 0 {
				o.ObserveInt64(si.dnsFailures, int64(st.DNS.Failures), metric.WithAttributes(up))
				o.ObserveInt64(si.dnsChanges, int64(st.DNS.Changes), metric.WithAttributes(up))
			}
			for _, t := range st.Targets {
				attrs := metric.WithAttributes(up, keyTarget.String(t.Host))
				healthy := int64(0)
				if t.Available {
					healthy = 1
				}
				o.ObserveInt64(si.targetHealthy, healthy, attrs)
				o.ObserveInt64(si.ejections, int64(t.Ejections), attrs)
			}
		})
	}
	return nil
}

// ObserveUpstreams keeps the snapshot's upstreams; they are read once the
// snapshot goes live (ConfigApplied).
func (o *Observer) ObserveUpstreams(src coreupstream.StatusSource) { o.upstreamSrc = src }

// ObserveServer keeps the gateway's server, read once the snapshot goes
// live (ConfigApplied).
func (o *Observer) ObserveServer(src server.StatsSource) { o.serverSrc = src }

// AdminRequest counts one admin API request. The admin API's rate is low
// and its endpoints and statuses a fixed set: the attributes are made here.
func (o *Observer) AdminRequest(endpoint string, status int, _ time.Duration) {
	if o.meters == nil {
		return
	}
	o.meters.adminRequests.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("endpoint", endpoint), attribute.String("http.response.status_code", strconv.Itoa(status))))
}

var (
	_ coreupstream.StatusObserver = (*Observer)(nil)
	_ server.StatsObserver        = (*Observer)(nil)
	_ filter.AdminObserver        = (*Observer)(nil)
)
