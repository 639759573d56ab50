//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Scenarios (-scenarios): one gateway serving a route per filter setup
// (configs/scenarios.yaml), loaded one after the other in every round
// beside the direct and nginx runs, so that "what does a filter cost" is
// read from one run: each scenario's gateway CPU per request, its ratio to
// nginx's in the same round, and its difference from the plain route in
// the same round. Medians over the rounds, as everywhere in this tool.

// scenarioNames are the routes of configs/scenarios.yaml, in report order.
var scenarioNames = []string{"plain", "headers", "jwt", "ratelimit", "wasm-go", "wasm-wat", "cache"}

const (
	scenarioConfig = "test/load/configs/scenarios.yaml"
	scenarioToken  = "test/load/configs/jwt-rs256.token"
)

// parseScenarios resolves -scenarios: "all" or a comma-separated subset.
// plain is always measured, since every other scenario is read against it.
func parseScenarios(v string) ([]string, error) {
	if v == "all" {
		return scenarioNames, nil
	}
	want := []string{"plain"}
	for s := range strings.SplitSeq(v, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(scenarioNames, s) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (known: all, %s)", s, strings.Join(scenarioNames, ", "))
		}
		if !slices.Contains(want, s) {
			want = append(want, s)
		}
	}
	// Report order, whatever the order given.
	slices.SortFunc(want, func(a, b string) int { return slices.Index(scenarioNames, a) - slices.Index(scenarioNames, b) })
	return want, nil
}

// scenarioSetup points the options at the scenarios' config and token.
func (o *options) scenarioSetup() error {
	if _, err := os.Stat(scenarioConfig); err != nil {
		return fmt.Errorf("-scenarios reads %s: run from the repository root (%v)", scenarioConfig, err)
	}
	tok, err := os.ReadFile(scenarioToken)
	if err != nil {
		return fmt.Errorf("-scenarios: %v", err)
	}
	o.configFile = scenarioConfig
	o.path = "/plain/"
	o.headers = append(o.headers, "Authorization: Bearer "+strings.TrimSpace(string(tok)))
	return nil
}

// scenarioRound is one round: direct, nginx (if any), then every scenario.
type scenarioRound struct {
	Direct sample
	Nginx  *sample
	Gw     map[string]*sample
}

func (r scenarioRound) cpu(name string) float64 {
	s := r.Gw[name]
	return perReqMicros(s.GatewayCPU, s.Requests)
}

// measureScenarios is measure for -scenarios.
func (b *bench) measureScenarios(ctx context.Context) error {
	o := b.o
	base := strings.TrimSuffix(b.through, o.path)
	url := func(name string) string { return base + "/" + name + "/" }
	b.header()
	if o.warmup > 0 {
		targets := []string{b.direct}
		if b.ngx != nil {
			targets = append(targets, b.viaNgx)
		}
		for _, s := range o.scenarios {
			targets = append(targets, url(s))
		}
		for _, u := range targets {
			r, err := b.load(ctx, u, o.warmup)
			if err != nil {
				return fmt.Errorf("warm-up of %s: %v", u, err)
			}
			if r.Requests == 0 || r.Non2xx > 0 {
				return fmt.Errorf("warm-up of %s: %d responses, %d not 2xx", u, r.Requests, r.Non2xx)
			}
		}
	}
	w := b.out()
	var rounds []scenarioRound
	var failed int64
	for i := range o.rounds {
		r := scenarioRound{Gw: map[string]*sample{}}
		type run struct {
			name, url string
			s         *sample
		}
		runs := []run{{"direct", b.direct, &r.Direct}}
		if b.ngx != nil {
			r.Nginx = &sample{}
			runs = append(runs, run{"nginx", b.viaNgx, r.Nginx})
		}
		for _, s := range o.scenarios {
			r.Gw[s] = &sample{}
			runs = append(runs, run{s, url(s), r.Gw[s]})
		}
		// Rotate the order each round, so a drift of the machine hits all alike.
		for k := range runs {
			x := runs[(k+i)%len(runs)]
			if err := b.sample(ctx, x.url, x.s, x.s != &r.Direct && x.s != r.Nginx); err != nil {
				return err
			}
			failed += x.s.Errors + x.s.Non2xx
			if x.s.Errors+x.s.Non2xx > 0 {
				fmt.Fprintf(w, "       round %d %s: %d errors, %d non-2xx\n", i+1, x.name, x.s.Errors, x.s.Non2xx)
			}
			if x.s.FirstError != "" {
				fmt.Fprintf(w, "       round %d %s: first error: %s\n", i+1, x.name, x.s.FirstError)
			}
		}
		fmt.Fprintf(w, "round %d: direct %.0f req/s", i+1, r.Direct.RPS)
		if r.Nginx != nil {
			fmt.Fprintf(w, ", nginx %.2f µs/req", perReqMicros(r.Nginx.NginxCPU, r.Nginx.Requests))
		}
		for _, s := range o.scenarios {
			fmt.Fprintf(w, ", %s %.2f", s, r.cpu(s))
		}
		fmt.Fprintln(w, " (gateway CPU µs/req)")
		rounds = append(rounds, r)
	}

	med := func(f func(scenarioRound) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		return median(v)
	}
	fmt.Fprintf(w, "\nmedians over %d rounds (ratios and differences are medians of the per-round figures):\n", len(rounds))
	fmt.Fprintf(w, "  %-10s %12s %10s %12s %10s %14s\n", "scenario", "gw CPU µs/r", "× nginx", "Δ plain µs", "÷ plain", "req/s")
	for _, s := range o.scenarios {
		vsNginx := "-"
		if b.ngx != nil {
			vsNginx = fmt.Sprintf("%.2f", med(func(r scenarioRound) float64 {
				return safeDiv(r.cpu(s), perReqMicros(r.Nginx.NginxCPU, r.Nginx.Requests))
			}))
		}
		fmt.Fprintf(w, "  %-10s %12.2f %10s %12.2f %10.3f %14.0f\n", s,
			med(func(r scenarioRound) float64 { return r.cpu(s) }), vsNginx,
			med(func(r scenarioRound) float64 { return r.cpu(s) - r.cpu("plain") }),
			med(func(r scenarioRound) float64 { return safeDiv(r.cpu(s), r.cpu("plain")) }),
			med(func(r scenarioRound) float64 { return r.Gw[s].RPS }))
	}
	if b.ngx != nil {
		fmt.Fprintf(w, "  nginx      %12.2f\n", med(func(r scenarioRound) float64 { return perReqMicros(r.Nginx.NginxCPU, r.Nginx.Requests) }))
	}
	fmt.Fprintf(w, "  direct: upstream CPU %.2f µs/req; gateway RSS idle %.1f MiB, peak under load %.1f MiB\n",
		med(func(r scenarioRound) float64 { return perReqMicros(r.Direct.UpstreamCPU, r.Direct.Requests) }),
		toMiB(b.idleMem.RSS), toMiB(b.peakRSS))
	if failed > 0 {
		return errors.New("some requests failed (errors or non-2xx): the numbers above are not trustworthy")
	}
	return nil
}
