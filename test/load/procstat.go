//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Reading another process's CPU time and memory from Linux.
//
// CPU time comes from the process's POSIX CPU clock (clock_gettime on the
// clock id the kernel derives from the pid): nanosecond precision, summed over
// all threads of the process including ones that already exited, and readable
// for any pid without ptrace rights. If that fails (not Linux, an old kernel),
// /proc/PID/stat utime+stime is used instead: also all threads, but counted in
// clock ticks (10 ms at the usual CLK_TCK of 100). /proc/PID/schedstat is not
// used: it covers one thread only, and summing /proc/PID/task/*/schedstat loses
// threads that exited.

// clkTck is USER_HZ, the unit of /proc/PID/stat times. It is 100 on every
// mainstream Linux architecture; the kernel ABI fixes it, whatever HZ is.
const clkTck = 100

// cpuTime returns the CPU time pid has used so far (user+system, all threads).
func cpuTime(pid int) (time.Duration, error) {
	if d, err := processCPUClock(pid); err == nil {
		return d, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// processCPUClock reads CLOCK_PROCESS_CPUTIME_ID of another process:
// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) = (^pid << 3) | 2.
func processCPUClock(pid int) (time.Duration, error) {
	clk := (^int32(pid))<<3 | 2
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, uintptr(clk), uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, errno
	}
	return time.Duration(ts.Nano()), nil
}

// parseStatCPU extracts utime+stime from the text of /proc/PID/stat. The
// second field (comm) is parenthesized and may itself hold spaces and
// parentheses, so fields are counted from the last ")".
func parseStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc stat: no ')' in %.40q", stat)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15); fields[0] is state.
	fields := strings.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat: only %d fields after comm", len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: utime/stime %q: %v", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clkTck), nil
}

// memInfo is the resident set of a process: now and its high-water mark.
type memInfo struct {
	RSS, HWM int64 // bytes
}

// readMem reads VmRSS and VmHWM from /proc/PID/status.
func readMem(pid int) (memInfo, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memInfo{}, err
	}
	defer f.Close()
	return parseStatusMem(f)
}

// parseStatusMem reads the VmRSS and VmHWM lines ("VmRSS:	   12345 kB").
func parseStatusMem(r io.Reader) (memInfo, error) {
	var m memInfo
	found := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			return m, fmt.Errorf("/proc status: unexpected %s line %q", key, val)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status: %s: %v", key, err)
		}
		if key == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if found < 2 {
		return m, fmt.Errorf("/proc status: no VmRSS/VmHWM (a kernel thread, or a zombie?)")
	}
	return m, nil
}
