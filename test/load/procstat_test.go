//go:build linux

package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		want       time.Duration
	}{
		// utime 1234 + stime 566 ticks = 18 s at CLK_TCK 100.
		{"plain", "4242 (wasmgate) S 1 4242 4242 0 -1 4194560 2431 0 0 0 1234 566 0 0 20 0 9 0 1523 1270800384 4830 18446744073709551615\n", 18 * time.Second},
		// comm holds spaces and parentheses; fields count from the last ')'.
		{"odd comm", "77 (a) b (c)) R 1 77 77 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 9 0 0\n", 120 * time.Millisecond},
	}
	for _, tt := range tests {
		got, err := parseStatCPU(tt.stat)
		if err != nil || got != tt.want {
			t.Errorf("%s: parseStatCPU = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1 0 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

const statusFixture = `Name:	wasmgate
Umask:	0022
State:	S (sleeping)
Tgid:	4242
VmPeak:	 1264384 kB
VmSize:	 1264384 kB
VmLck:	       0 kB
VmHWM:	   24576 kB
VmRSS:	   18312 kB
RssAnon:	    9000 kB
Threads:	9
`

func TestParseStatusMem(t *testing.T) {
	got, err := parseStatusMem(strings.NewReader(statusFixture))
	if err != nil {
		t.Fatal(err)
	}
	if want := (memInfo{RSS: 18312 << 10, HWM: 24576 << 10}); got != want {
		t.Errorf("parseStatusMem = %+v, want %+v", got, want)
	}
	// A zombie or kernel thread has no Vm* lines.
	if _, err := parseStatusMem(strings.NewReader("Name:\tkthreadd\nState:\tS (sleeping)\n")); err == nil {
		t.Error("parseStatusMem accepted a status without VmRSS")
	}
}

// TestSelf checks the live readers against this very process.
func TestSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	pid := os.Getpid()
	precise, err := processCPUClock(pid)
	if err != nil {
		t.Fatalf("process CPU clock: %v", err)
	}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	ticks, err := parseStatCPU(string(b))
	if err != nil {
		t.Fatal(err)
	}
	// The two clocks agree to within tick granularity (and scheduling slop).
	if diff := precise - ticks; diff < -50*time.Millisecond || diff > 50*time.Millisecond {
		t.Errorf("CPU clock %v vs /proc stat %v", precise, ticks)
	}
	m, err := readMem(pid)
	if err != nil || m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("readMem(self) = %+v, %v", m, err)
	}
}

func TestCountCPUs(t *testing.T) {
	for in, want := range map[string]int{"1": 1, "0-3": 4, "0-1,4,6-7": 5, "": 0, "a": 0, "3-1": 0} {
		if got := countCPUs(in); got != want {
			t.Errorf("countCPUs(%q) = %d, want %d", in, got, want)
		}
	}
}
