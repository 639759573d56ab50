//go:build linux

package main

import (
	"testing"
	"time"
)

const wrkClean = `Running 2s test @ http://127.0.0.1:41867/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.91ms    1.03ms   9.55ms   87.92%
    Req/Sec    86.12k     5.44k   94.36k    60.00%
  Latency Distribution
     50%  531.00us
     75%    1.12ms
     90%    2.19ms
     99%    5.13ms
  171047 requests in 2.00s, 186.29MB read
Requests/sec:  85443.70
Transfer/sec:     93.06MB
`

const wrkErrors = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.40ms   40.02ms   1.99s    97.10%
    Req/Sec    30.01k     2.13k   33.90k    71.00%
  Latency Distribution
     50%    1.90ms
     75%    2.31ms
     90%    3.02ms
     99%    1.20s
  298712 requests in 1.00m, 43.11MB read
  Socket errors: connect 3, read 2, write 0, timeout 17
  Non-2xx or 3xx responses: 12
Requests/sec:  29841.12
Transfer/sec:      4.31MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want loadResult
	}{
		{"clean", wrkClean, loadResult{
			Requests: 171047, Elapsed: 2 * time.Second, RPS: 85443.70,
			P50: 531 * time.Microsecond, P99: 5130 * time.Microsecond,
		}},
		{"errors", wrkErrors, loadResult{
			Requests: 298712, Elapsed: time.Minute, RPS: 29841.12,
			P50: 1900 * time.Microsecond, P99: 1200 * time.Millisecond,
			Errors: 22, Non2xx: 12,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseWrk:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	// Without --latency there is no distribution: refuse rather than report zeros.
	noLatency := "  171047 requests in 2.00s, 186.29MB read\nRequests/sec:  85443.70\n"
	if _, err := parseWrk(noLatency); err == nil {
		t.Error("parseWrk accepted output without a latency distribution")
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk accepted an error message")
	}
}

func TestParseWrkTime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"461.00us": 461 * time.Microsecond,
		"4.61ms":   4610 * time.Microsecond,
		"10.01s":   10010 * time.Millisecond,
		"1.50m":    90 * time.Second,
		"2.00h":    2 * time.Hour,
	} {
		got, err := parseWrkTime(in)
		if err != nil || got != want {
			t.Errorf("parseWrkTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "abcms", "1.0d"} {
		if _, err := parseWrkTime(bad); err == nil {
			t.Errorf("parseWrkTime(%q) succeeded", bad)
		}
	}
}
