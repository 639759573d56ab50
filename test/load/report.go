//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"time"
)

// roundResult is one round: the same load direct and through the gateway.
type roundResult struct {
	Round   int
	Order   string
	Direct  sample
	Gateway sample
	Nginx   *sample // the same load through nginx; nil without nginx
}

func (r roundResult) ratio() float64 { return safeDiv(r.Gateway.RPS, r.Direct.RPS) }

// gatewayCPUPerReq is the gateway's CPU time during the gateway run per
// request served, in µs.
func (r roundResult) gatewayCPUPerReq() float64 {
	return perReqMicros(r.Gateway.GatewayCPU, r.Gateway.Requests)
}

// upstreamCPUPerReq is the upstream's CPU per request in the direct run, in
// µs: the cost of the backend alone, for scale.
func (r roundResult) upstreamCPUPerReq() float64 {
	return perReqMicros(r.Direct.UpstreamCPU, r.Direct.Requests)
}

// nginxCPUPerReq is nginx's CPU per request in the nginx run, in µs.
func (r roundResult) nginxCPUPerReq() float64 {
	if r.Nginx == nil {
		return 0
	}
	return perReqMicros(r.Nginx.NginxCPU, r.Nginx.Requests)
}

// cpuVsNginx is the gateway's CPU per request over nginx's.
func (r roundResult) cpuVsNginx() float64 {
	return safeDiv(r.gatewayCPUPerReq(), r.nginxCPUPerReq())
}

func perReqMicros(cpu time.Duration, reqs int64) float64 {
	return safeDiv(float64(cpu)/float64(time.Microsecond), float64(reqs))
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// out is where the human-readable report goes: stderr when stdout carries JSON.
func (b *bench) out() io.Writer {
	if b.o.json {
		return os.Stderr
	}
	return os.Stdout
}

func (b *bench) header() {
	w := b.out()
	gen := fmt.Sprintf("built-in Go generator (wrk not installed or -wrk off), GOMAXPROCS %d", runtime.GOMAXPROCS(0))
	if b.useWrk {
		gen = "wrk -t1"
	}
	fmt.Fprintf(w, "load: %s\n", gen)
	fmt.Fprintf(w, "load: %d connections, %v per run, %d rounds, %v warm-up, %d-byte responses, GET %s\n",
		b.o.conns, b.o.duration, b.o.rounds, b.o.warmup, b.o.body, b.o.path)
	fmt.Fprintf(w, "load: %s\n", b.pin.note)
	fmt.Fprintf(w, "load: direct %s, gateway %s (pid %d), upstream pid %d\n", b.direct, b.through, b.gw.pid(), b.up.pid())
	if b.ngx != nil {
		fmt.Fprintf(w, "load: reference: nginx %s (pid %d, one process, keep-alive pool to the same upstream)\n", b.viaNgx, b.ngx.pid())
	} else {
		fmt.Fprintf(w, "load: no nginx reference (-nginx off, or not installed: apt-get install nginx-light)\n")
	}
	fmt.Fprintf(w, "load: gateway idle RSS %s (after %v settle)\n\n", mib(b.idleMem.RSS), b.o.settle)
}

const roundFormat = "%-5s  %-20s  %12s  %12s  %6s  %11s  %11s  %17s  %17s  %9s  %s%s\n"

func (b *bench) printRound(r roundResult, first bool) {
	w := b.out()
	if first {
		ngx := ""
		if r.Nginx != nil {
			ngx = "  nginx req/s  ngx CPU µs/r  gw/ngx CPU"
		}
		fmt.Fprintf(w, roundFormat, "round", "order", "direct req/s", "gateway req/s", "ratio",
			"gw CPU µs/r", "up CPU µs/r", "direct p50/p99", "gateway p50/p99", "gw RSS", "errors/non-2xx (d; g)", ngx)
	}
	ngx := ""
	if r.Nginx != nil {
		ngx = fmt.Sprintf("  %11.0f  %12.2f  %10.2f", r.Nginx.RPS, r.nginxCPUPerReq(), r.cpuVsNginx())
	}
	fmt.Fprintf(w, roundFormat, fmt.Sprint(r.Round), r.Order,
		fmt.Sprintf("%.0f", r.Direct.RPS), fmt.Sprintf("%.0f", r.Gateway.RPS), fmt.Sprintf("%.3f", r.ratio()),
		fmt.Sprintf("%.2f", r.gatewayCPUPerReq()), fmt.Sprintf("%.2f", r.upstreamCPUPerReq()),
		lat(r.Direct.P50)+"/"+lat(r.Direct.P99), lat(r.Gateway.P50)+"/"+lat(r.Gateway.P99),
		mib(r.Gateway.PeakRSS),
		fmt.Sprintf("%d/%d; %d/%d", r.Direct.Errors, r.Direct.Non2xx, r.Gateway.Errors, r.Gateway.Non2xx), ngx)
	errs := []struct{ name, err string }{{"direct", r.Direct.FirstError}, {"gateway", r.Gateway.FirstError}}
	if r.Nginx != nil {
		errs = append(errs, struct{ name, err string }{"nginx", r.Nginx.FirstError})
	}
	for _, e := range errs {
		if e.err != "" {
			fmt.Fprintf(w, "       %s: first error: %s\n", e.name, e.err)
		}
	}
}

// summaryJSON is the -json output: medians over the rounds.
type summaryJSON struct {
	Generator            string  `json:"generator"`
	Pinning              string  `json:"pinning"`
	Connections          int     `json:"connections"`
	DurationSeconds      float64 `json:"duration_seconds"`
	Rounds               int     `json:"rounds"`
	BodyBytes            int     `json:"body_bytes"`
	DirectRPS            float64 `json:"direct_rps"`
	GatewayRPS           float64 `json:"gateway_rps"`
	Ratio                float64 `json:"ratio"`
	GatewayCPUMicrosReq  float64 `json:"gateway_cpu_us_per_req"`
	UpstreamCPUMicrosReq float64 `json:"upstream_cpu_us_per_req"`
	DirectP50Micros      float64 `json:"direct_p50_us"`
	DirectP99Micros      float64 `json:"direct_p99_us"`
	GatewayP50Micros     float64 `json:"gateway_p50_us"`
	GatewayP99Micros     float64 `json:"gateway_p99_us"`
	GatewayIdleRSSMiB    float64 `json:"gateway_idle_rss_mib"`
	GatewayPeakRSSMiB    float64 `json:"gateway_peak_rss_mib"`
	GatewayHWMMiB        float64 `json:"gateway_hwm_mib"`
	NginxRPS             float64 `json:"nginx_rps,omitempty"`
	NginxCPUMicrosReq    float64 `json:"nginx_cpu_us_per_req,omitempty"`
	CPUVsNginx           float64 `json:"gateway_cpu_vs_nginx,omitempty"`
	Errors               int64   `json:"errors"`
	Non2xx               int64   `json:"non_2xx"`
}

// round keeps two decimals of every measured figure.
func (s *summaryJSON) round() {
	for _, f := range []*float64{&s.DirectRPS, &s.GatewayRPS, &s.GatewayCPUMicrosReq, &s.UpstreamCPUMicrosReq,
		&s.DirectP50Micros, &s.DirectP99Micros, &s.GatewayP50Micros, &s.GatewayP99Micros,
		&s.GatewayIdleRSSMiB, &s.GatewayPeakRSSMiB, &s.GatewayHWMMiB, &s.NginxRPS, &s.NginxCPUMicrosReq, &s.CPUVsNginx} {
		*f = math.Round(*f*100) / 100
	}
	s.Ratio = math.Round(s.Ratio*1000) / 1000
}

// summary prints the medians over the rounds and fails if any request failed.
func (b *bench) summary(rounds []roundResult) error {
	med := func(f func(roundResult) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		return median(v)
	}
	micros := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	s := summaryJSON{
		Generator:            "builtin",
		Pinning:              b.pin.note,
		Connections:          b.o.conns,
		DurationSeconds:      b.o.duration.Seconds(),
		Rounds:               len(rounds),
		BodyBytes:            b.o.body,
		DirectRPS:            med(func(r roundResult) float64 { return r.Direct.RPS }),
		GatewayRPS:           med(func(r roundResult) float64 { return r.Gateway.RPS }),
		Ratio:                med(roundResult.ratio),
		GatewayCPUMicrosReq:  med(roundResult.gatewayCPUPerReq),
		UpstreamCPUMicrosReq: med(roundResult.upstreamCPUPerReq),
		DirectP50Micros:      med(func(r roundResult) float64 { return micros(r.Direct.P50) }),
		DirectP99Micros:      med(func(r roundResult) float64 { return micros(r.Direct.P99) }),
		GatewayP50Micros:     med(func(r roundResult) float64 { return micros(r.Gateway.P50) }),
		GatewayP99Micros:     med(func(r roundResult) float64 { return micros(r.Gateway.P99) }),
		GatewayIdleRSSMiB:    toMiB(b.idleMem.RSS),
		GatewayPeakRSSMiB:    toMiB(b.peakRSS),
	}
	if b.useWrk {
		s.Generator = "wrk"
	}
	if b.ngx != nil {
		s.NginxRPS = med(func(r roundResult) float64 { return r.Nginx.RPS })
		s.NginxCPUMicrosReq = med(roundResult.nginxCPUPerReq)
		s.CPUVsNginx = med(roundResult.cpuVsNginx)
	}
	if m, err := readMem(b.gw.pid()); err == nil {
		s.GatewayHWMMiB = toMiB(m.HWM)
	}
	for _, r := range rounds {
		s.Errors += r.Direct.Errors + r.Gateway.Errors
		s.Non2xx += r.Direct.Non2xx + r.Gateway.Non2xx
		if r.Nginx != nil {
			s.Errors += r.Nginx.Errors
			s.Non2xx += r.Nginx.Non2xx
		}
	}

	w := b.out()
	fmt.Fprintf(w, "\nmedians over %d rounds (the ratio is the median of the per-round ratios):\n", len(rounds))
	fmt.Fprintf(w, "  direct            %10.0f req/s   p50 %s  p99 %s   upstream CPU %.2f µs/req\n",
		s.DirectRPS, latMicros(s.DirectP50Micros), latMicros(s.DirectP99Micros), s.UpstreamCPUMicrosReq)
	fmt.Fprintf(w, "  through gateway   %10.0f req/s   p50 %s  p99 %s   gateway CPU %.2f µs/req\n",
		s.GatewayRPS, latMicros(s.GatewayP50Micros), latMicros(s.GatewayP99Micros), s.GatewayCPUMicrosReq)
	fmt.Fprintf(w, "  ratio gateway/direct  %.3f\n", s.Ratio)
	if b.ngx != nil {
		fmt.Fprintf(w, "  through nginx     %10.0f req/s   nginx CPU %.2f µs/req   gateway CPU ÷ nginx CPU %.2f (median of rounds)\n",
			s.NginxRPS, s.NginxCPUMicrosReq, s.CPUVsNginx)
	}
	fmt.Fprintf(w, "  gateway RSS  idle %.1f MiB, peak under load %.1f MiB (VmHWM %.1f MiB)\n",
		s.GatewayIdleRSSMiB, s.GatewayPeakRSSMiB, s.GatewayHWMMiB)
	fmt.Fprintf(w, "  errors %d, non-2xx %d\n", s.Errors, s.Non2xx)

	if b.o.json {
		s.round()
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	if s.Errors+s.Non2xx > 0 {
		return fmt.Errorf("%d errors and %d non-2xx responses: the numbers above are not trustworthy", s.Errors, s.Non2xx)
	}
	return nil
}

// reportIdle prints the gateway's idle RSS for -idle-rss.
func (b *bench) reportIdle() error {
	const target = 30 << 20
	rss := b.idleMem.RSS
	verdict := "under"
	if rss >= target {
		verdict = "OVER"
	}
	if b.o.json {
		if err := json.NewEncoder(os.Stdout).Encode(map[string]any{
			"gateway_idle_rss_mib": math.Round(toMiB(rss)*100) / 100, "target_mib": 30, "ok": rss < target,
		}); err != nil {
			return err
		}
	} else {
		fmt.Printf("gateway idle RSS: %s (VmRSS %d kB, %v after ready; %s the 30 MiB target)\n",
			mib(rss), rss>>10, b.o.settle, verdict)
	}
	if rss >= target {
		return errors.New("idle RSS over target")
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func toMiB(b int64) float64 { return float64(b) / (1 << 20) }

func mib(b int64) string { return fmt.Sprintf("%.1fMiB", toMiB(b)) }

// lat formats a latency compactly: µs below 1 ms, else ms.
func lat(d time.Duration) string {
	return latMicros(float64(d) / float64(time.Microsecond))
}

func latMicros(us float64) string {
	if us < 1000 {
		return fmt.Sprintf("%.0fµs", us)
	}
	return fmt.Sprintf("%.2fms", us/1000)
}
