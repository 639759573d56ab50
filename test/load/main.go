//go:build linux

// Command load measures the gateway against the direct-to-upstream baseline
// in the same run: per round, the same load goes straight to an upstream and
// then through the gateway, and the report gives their ratio, the gateway's
// CPU cost per request, latencies and memory. See README.md.
//
//	go run ./test/load -gateway bin/wasmgate [-c 64 -d 10s -rounds 5 ...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	gateway    string
	configFile string
	conns      int
	duration   time.Duration
	maxReqs    int64
	rounds     int
	warmup     time.Duration
	wrk        string
	nginx      string
	body       int
	path       string
	headers    headerFlags
	pin        bool
	serverCPUs string
	loadCPUs   string
	json       bool
	idleRSS    bool
	idleConns  int
	settle     time.Duration
	role       string
	scenarios  []string // -scenarios: the routes of configs/scenarios.yaml to measure
}

// loadResult is what one load run measured, from wrk or the built-in generator.
type loadResult struct {
	Requests int64         // completed responses (any status)
	Elapsed  time.Duration // measured time
	RPS      float64
	P50, P99 time.Duration
	Errors   int64 // connect/read/write errors and timeouts
	Non2xx   int64 // responses with a status outside 2xx (wrk: outside 2xx/3xx)
	// FirstError is one of the errors, as an example (built-in generator only).
	FirstError string
}

func main() {
	var o options
	fs := flag.CommandLine
	fs.StringVar(&o.gateway, "gateway", "", "gateway binary to start (required), e.g. bin/wasmgate")
	fs.StringVar(&o.configFile, "config", "", "config template (text/template with {{.Listen}} {{.Admin}} {{.Upstream}} {{.UpstreamAddr}}) instead of the built-in minimal one")
	fs.IntVar(&o.conns, "c", 64, "keep-alive connections")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "duration of each measured run")
	fs.Int64Var(&o.maxReqs, "n", 0, "built-in generator only: at most this many requests per run (0: no limit)")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds of direct+gateway runs; the summary is their median")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up of each target before the first round (0: none)")
	fs.StringVar(&o.wrk, "wrk", "auto", "use wrk as the load generator: auto (if installed), on, off")
	fs.StringVar(&o.nginx, "nginx", "auto", "also run the load through nginx proxying the same upstream, for a reference: auto (if installed), on, off")
	fs.IntVar(&o.body, "body", 1024, "upstream response body size in bytes")
	fs.StringVar(&o.path, "path", "/", "request path")
	fs.Var(&o.headers, "H", `request header "Name: value" sent on every request, direct and through the gateway (repeatable), e.g. an Authorization header for an auth route`)
	fs.BoolVar(&o.pin, "pin", true, "pin the servers and the load generator to separate CPUs with taskset")
	fs.StringVar(&o.serverCPUs, "server-cpus", "0", "CPU list for the gateway and the upstream (with -pin)")
	fs.StringVar(&o.loadCPUs, "load-cpus", "1", "CPU list for the load generator (with -pin)")
	fs.BoolVar(&o.json, "json", false, "print the medians as JSON on stdout (the tables go to stderr)")
	fs.BoolVar(&o.idleRSS, "idle-rss", false, "only start the gateway with the minimal config and print its idle RSS")
	fs.IntVar(&o.idleConns, "idle-conns", 0, "with -idle-rss: also open this many keep-alive connections, one request each, and print the RSS they cost")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "wait after readiness before reading the idle RSS")
	fs.StringVar(&o.role, "role", "", "internal: run as the upstream server")
	scenarios := fs.String("scenarios", "", `measure several filter setups in one run (run from the repository root): "all" or a comma-separated list of `+strings.Join(scenarioNames, ", ")+`; replaces -config and -path`)
	fs.Usage = usage
	fs.Parse(os.Args[1:])

	if o.role == "upstream" {
		if err := serveUpstream(o.body); err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			os.Exit(1)
		}
		return
	}
	if *scenarios != "" {
		var err error
		if o.scenarios, err = parseScenarios(*scenarios); err == nil {
			err = o.scenarioSetup()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
	}
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		fs.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, &o)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "load: interrupted; servers stopped")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprintf(out, "usage: go run ./test/load -gateway bin/wasmgate [flags]\n\nflags:\n")
	flag.VisitAll(func(f *flag.Flag) {
		if f.Name == "role" {
			return // hidden
		}
		name, text := flag.UnquoteUsage(f)
		fmt.Fprintf(out, "  -%s %s\n    \t%s", f.Name, name, text)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(out, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(out)
	})
}

func (o *options) check() error {
	if o.role != "" {
		return fmt.Errorf("-role %q: only \"upstream\" exists", o.role)
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if o.gateway == "" {
		return errors.New("-gateway is required")
	}
	if o.conns < 1 || o.rounds < 1 || o.duration <= 0 || o.body < 0 || o.maxReqs < 0 || o.warmup < 0 {
		return errors.New("-c, -rounds and -d must be positive; -body, -n and -warmup not negative")
	}
	if o.wrk != "auto" && o.wrk != "on" && o.wrk != "off" {
		return fmt.Errorf("-wrk %q: want auto, on or off", o.wrk)
	}
	if o.nginx != "auto" && o.nginx != "on" && o.nginx != "off" {
		return fmt.Errorf("-nginx %q: want auto, on or off", o.nginx)
	}
	if o.path == "" || o.path[0] != '/' {
		return fmt.Errorf("-path %q: must start with /", o.path)
	}
	bin, err := exec.LookPath(o.gateway)
	if err != nil {
		return fmt.Errorf("-gateway: %v (build it first: go build -o bin/wasmgate ./cmd/wasmgate)", err)
	}
	o.gateway, err = filepath.Abs(bin)
	return err
}

// bench is one started setup: the upstream, the gateway and how to load them.
type bench struct {
	o       *options
	pin     pinning
	useWrk  bool
	up, gw  *child
	ngx     *child // nginx, the reference proxy; nil without one
	direct  string // URL straight to the upstream
	through string // URL through the gateway
	viaNgx  string // URL through nginx
	idleMem memInfo
	peakRSS int64 // highest VmRSS sampled while the gateway was under load
}

func run(ctx context.Context, o *options) error {
	b := &bench{o: o}
	b.pin = setupPinning(o.pin, o.serverCPUs, o.loadCPUs)
	if !o.idleRSS {
		_, err := exec.LookPath("wrk")
		switch {
		case o.wrk == "on" && err != nil:
			return errors.New("-wrk on: wrk is not installed (apt-get install wrk)")
		case o.wrk == "on", o.wrk == "auto" && err == nil:
			b.useWrk = true
		}
	}

	tmp, err := os.MkdirTemp("", "wasmgate-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	up, upAddr, err := startUpstream(ctx, b.pin.servers, o.body)
	if err != nil {
		return err
	}
	b.up = up
	defer up.stop()

	tmpl := ""
	if o.configFile != "" && !o.idleRSS {
		raw, err := os.ReadFile(o.configFile)
		if err != nil {
			return err
		}
		tmpl = string(raw)
	}
	cfg, err := writeConfig(tmp, tmpl, upAddr)
	if err != nil {
		return err
	}
	gw, listen, _, err := startGateway(ctx, b.pin.servers, o.gateway, cfg)
	if err != nil {
		return err
	}
	b.gw = gw
	defer gw.stop()
	b.direct = "http://" + upAddr + o.path
	b.through = "http://" + listen + o.path
	if !o.idleRSS {
		bin, err := findNginx(o.nginx)
		if err != nil {
			return err
		}
		if bin != "" {
			ngx, url, err := startNginx(ctx, b.pin.servers, bin, tmp, upAddr, o.path)
			if err != nil {
				return err
			}
			b.ngx, b.viaNgx = ngx, url
			defer ngx.stop()
		}
	}

	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	if b.idleMem, err = readMem(gw.pid()); err != nil {
		return fmt.Errorf("gateway memory: %v", err)
	}
	if o.idleRSS && o.idleConns > 0 {
		return b.measureIdleConns(ctx, o.idleConns)
	}
	if o.idleRSS {
		return b.reportIdle()
	}
	if len(o.scenarios) > 0 {
		return b.measureScenarios(ctx)
	}
	return b.measure(ctx)
}

// measure runs the warm-up and the rounds, then prints the report.
func (b *bench) measure(ctx context.Context) error {
	o := b.o
	b.header()
	if o.warmup > 0 {
		for _, url := range b.targets() {
			r, err := b.load(ctx, url, o.warmup)
			if err != nil {
				return fmt.Errorf("warm-up: %v", err)
			}
			if r.Requests == 0 {
				return fmt.Errorf("warm-up of %s: no responses", url)
			}
		}
	}
	var rounds []roundResult
	for i := range o.rounds {
		r, err := b.round(ctx, i)
		if err != nil {
			return err
		}
		rounds = append(rounds, r)
		b.printRound(r, i == 0)
	}
	return b.summary(rounds)
}

// targets are the URLs each round loads: direct, through the gateway, and
// through nginx when there is one.
func (b *bench) targets() []string {
	if b.ngx == nil {
		return []string{b.direct, b.through}
	}
	return []string{b.direct, b.through, b.viaNgx}
}

// round runs the direct, the gateway (and the nginx) load back to back,
// rotating which goes first so that slow drifts of the machine hit all
// alike.
func (b *bench) round(ctx context.Context, i int) (roundResult, error) {
	r := roundResult{Round: i + 1}
	runs := []*sample{&r.Direct, &r.Gateway}
	names := []string{"direct", "gateway"}
	if b.ngx != nil {
		r.Nginx = &sample{}
		runs, names = append(runs, r.Nginx), append(names, "nginx")
	}
	urls := b.targets()
	var order []string
	for k := range runs {
		j := (k + i) % len(runs)
		order = append(order, names[j])
		if err := b.sample(ctx, urls[j], runs[j], runs[j] == &r.Gateway); err != nil {
			return r, err
		}
	}
	r.Order = strings.Join(order, ",")
	return r, nil
}

// sample is one measured load run with the servers' CPU time around it.
type sample struct {
	loadResult
	GatewayCPU, UpstreamCPU time.Duration
	NginxCPU                time.Duration // 0 without nginx
	PeakRSS                 int64         // gateway VmRSS, sampled during the run
}

func (b *bench) sample(ctx context.Context, url string, s *sample, watchRSS bool) error {
	g0, err1 := cpuTime(b.gw.pid())
	u0, err2 := cpuTime(b.up.pid())
	n0, err3 := b.nginxCPU()
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("CPU time: %v", err)
	}
	stopRSS := make(chan struct{})
	rssDone := make(chan int64, 1)
	if watchRSS {
		go func() { rssDone <- sampleRSS(b.gw.pid(), stopRSS) }()
	} else {
		rssDone <- 0
	}
	res, err := b.load(ctx, url, b.o.duration)
	close(stopRSS)
	s.PeakRSS = <-rssDone
	if err != nil {
		return err
	}
	g1, err1 := cpuTime(b.gw.pid())
	u1, err2 := cpuTime(b.up.pid())
	n1, err3 := b.nginxCPU()
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("CPU time: %v", err)
	}
	s.loadResult, s.GatewayCPU, s.UpstreamCPU, s.NginxCPU = res, g1-g0, u1-u0, n1-n0
	b.peakRSS = max(b.peakRSS, s.PeakRSS)
	return nil
}

// nginxCPU is nginx's CPU time so far (0 without nginx).
func (b *bench) nginxCPU() (time.Duration, error) {
	if b.ngx == nil {
		return 0, nil
	}
	return cpuTime(b.ngx.pid())
}

// sampleRSS returns the highest VmRSS of pid seen every 100 ms until stop.
func sampleRSS(pid int, stop <-chan struct{}) int64 {
	var peak int64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, err := readMem(pid); err == nil {
			peak = max(peak, m.RSS)
		}
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// load runs the chosen generator against url for d, checking first that
// both servers are still alive.
func (b *bench) load(ctx context.Context, url string, d time.Duration) (loadResult, error) {
	for _, c := range []*child{b.up, b.gw, b.ngx} {
		if c == nil {
			continue
		}
		if gone, why := c.exited(); gone {
			return loadResult{}, why
		}
	}
	if b.useWrk {
		return runWrk(ctx, b.pin.load, url, b.o.headers, b.o.conns, d)
	}
	return runGen(ctx, url, b.o.headers, b.o.conns, d, b.o.maxReqs)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// headerFlags collects repeated -H "Name: value" flags.
type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, "; ") }

func (h *headerFlags) Set(v string) error {
	name, _, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%q: want \"Name: value\"", v)
	}
	*h = append(*h, v)
	return nil
}
