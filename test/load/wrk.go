//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// runWrk drives url with wrk (one thread, conns connections) for d and parses
// its report. prefix is the CPU-pinning command (e.g. "taskset -c 1"), if any.
func runWrk(ctx context.Context, prefix []string, url string, headers []string, conns int, d time.Duration) (loadResult, error) {
	secs := max(1, int(math.Round(d.Seconds())))
	args := append(append([]string{}, prefix...), "wrk", "-t1", "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(secs)+"s", "--latency")
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return loadResult{}, fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	res, err := parseWrk(out.String())
	if err != nil {
		return res, fmt.Errorf("wrk output: %v\n%s", err, out.String())
	}
	return res, nil
}

// parseWrk reads the report of `wrk --latency`:
//
//	Running 10s test @ http://127.0.0.1:8080/
//	  1 threads and 64 connections
//	  Thread Stats   Avg      Stdev     Max   +/- Stdev
//	    Latency   635.91us    0.89ms  12.92ms   93.69%
//	    Req/Sec    56.20k     4.13k   64.48k    82.00%
//	  Latency Distribution
//	     50%  461.00us
//	     ...
//	     99%    4.61ms
//	  563522 requests in 10.01s, 82.44MB read
//	  Socket errors: connect 0, read 2, write 0, timeout 0
//	  Non-2xx or 3xx responses: 12
//	Requests/sec:  56294.97
//	Transfer/sec:      8.24MB
//
// The "Socket errors" and "Non-2xx" lines appear only when non-zero.
func parseWrk(out string) (loadResult, error) {
	var r loadResult
	var haveRPS, haveReqs, haveP50, haveP99 bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("Requests/sec %q: %v", f[1], err)
			}
			r.RPS, haveRPS = v, true
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("requests %q: %v", f[0], err)
			}
			d, err := parseWrkTime(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return r, err
			}
			r.Requests, r.Elapsed, haveReqs = n, d, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkTime(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.P50, haveP50 = d, true
			} else {
				r.P99, haveP99 = d, true
			}
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// connect N, read N, write N, timeout N
			_, list, _ := strings.Cut(line, ":")
			for _, part := range strings.Split(list, ",") {
				kv := strings.Fields(part)
				if len(kv) != 2 {
					return r, fmt.Errorf("socket errors %q", line)
				}
				n, err := strconv.ParseInt(kv[1], 10, 64)
				if err != nil {
					return r, fmt.Errorf("socket errors %q: %v", line, err)
				}
				r.Errors += n
			}
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err != nil {
				return r, fmt.Errorf("non-2xx %q: %v", line, err)
			}
			r.Non2xx = n
		}
	}
	if !haveRPS || !haveReqs || !haveP50 || !haveP99 {
		return r, fmt.Errorf("missing Requests/sec, request count or latency distribution (run wrk with --latency)")
	}
	return r, nil
}

// parseWrkTime reads wrk's durations: "461.00us", "4.61ms", "10.01s", "1.00m", "2.00h".
func parseWrkTime(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("wrk time %q: %v", s, err)
		}
		return time.Duration(v * float64(u.unit)), nil
	}
	return 0, fmt.Errorf("wrk time %q: unknown unit", s)
}
