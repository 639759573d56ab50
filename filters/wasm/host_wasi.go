package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// The WASI subset (wasi_snapshot_preview1 and wasi_unstable): output to
// the gateway log, clocks, randomness, an empty environment and argument
// list, exit. No filesystem, network or environment; every other WASI
// import answers ENOSYS.

const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNosys   = 52
)

var wasiFuncs = map[string]hostFunc{
	"fd_write":          {"iiii", "i", wasiFdWrite},
	"clock_time_get":    {"iIi", "i", wasiClockTimeGet},
	"clock_res_get":     {"ii", "i", wasiClockResGet},
	"random_get":        {"ii", "i", wasiRandomGet},
	"environ_sizes_get": {"ii", "i", wasiSizesGet},
	"args_sizes_get":    {"ii", "i", wasiSizesGet},
	"environ_get":       {"ii", "i", wasiOK},
	"args_get":          {"ii", "i", wasiOK},
	"sched_yield":       {"", "i", wasiOK},
	"fd_prestat_get":    {"ii", "i", wasiBadf},
	"fd_close":          {"i", "i", wasiBadf},
	"fd_fdstat_get":     {"ii", "i", wasiFdstatGet},
	"proc_exit":         {"i", "", wasiProcExit},
	"poll_oneoff":       {"iiii", "i", wasiPollOneoff},
}

func wasiOK(context.Context, *instance, api.Memory, []uint64) status   { return errnoSuccess }
func wasiBadf(context.Context, *instance, api.Memory, []uint64) status { return errnoBadf }

// wasiFdWrite sends stdout and stderr to the log, one entry per call.
func wasiFdWrite(ctx context.Context, in *instance, mem api.Memory, a []uint64) status {
	fd, iovs, n, retN := arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3)
	if fd != 1 && fd != 2 {
		return errnoBadf
	}
	if mem == nil || n > 1024 {
		return errnoInval
	}
	var out []byte
	var total uint32
	for i := uint32(0); i < n; i++ {
		ptr, ok1 := mem.ReadUint32Le(iovs + 8*i)
		size, ok2 := mem.ReadUint32Le(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			return errnoFault
		}
		b, ok := read(mem, ptr, size)
		if !ok {
			return errnoFault
		}
		if len(out)+len(b) <= 64<<10 { // a log line, not a firehose
			out = append(out, b...)
		}
		total += size
	}
	if !mem.WriteUint32Le(retN, total) {
		return errnoFault
	}
	in.writeOutput(ctx, int(fd), out)
	return errnoSuccess
}

// writeOutput logs stdout/stderr a line at a time (runtimes write a line
// in many pieces); a partial line waits for its end, up to 4KiB.
func (in *instance) writeOutput(ctx context.Context, fd int, b []byte) {
	level, name := slog.LevelInfo, "stdout"
	if fd == 2 {
		level, name = slog.LevelWarn, "stderr"
	}
	buf := append(in.output[fd-1], b...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimRight(buf[:i], "\r"); len(line) > 0 {
			in.guestLog(ctx, name, level, line)
		}
		buf = buf[i+1:]
	}
	if len(buf) > 4<<10 {
		in.guestLog(ctx, name, level, buf)
		buf = buf[:0]
	}
	in.output[fd-1] = append(in.output[fd-1][:0], buf...)
}

// flushOutput logs partial lines left when a callback returns.
func (in *instance) flushOutput(ctx context.Context) {
	for fd := 1; fd <= 2; fd++ {
		if b := in.output[fd-1]; len(b) > 0 {
			in.writeOutput(ctx, fd, []byte{'\n'})
		}
	}
}

func wasiClockTimeGet(_ context.Context, _ *instance, mem api.Memory, a []uint64) status {
	var t int64
	switch arg(a, 0) {
	case 0: // realtime
		t = time.Now().UnixNano()
	case 1: // monotonic
		t = int64(time.Since(processStart)) + 1
	default:
		return errnoInval
	}
	if mem == nil || !mem.WriteUint64Le(arg(a, 2), uint64(t)) {
		return errnoFault
	}
	return errnoSuccess
}

var processStart = time.Now()

func wasiClockResGet(_ context.Context, _ *instance, mem api.Memory, a []uint64) status {
	if mem == nil || !mem.WriteUint64Le(arg(a, 1), 1000) {
		return errnoFault
	}
	return errnoSuccess
}

func wasiRandomGet(_ context.Context, _ *instance, mem api.Memory, a []uint64) status {
	b, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok {
		return errnoFault
	}
	_, _ = rand.Read(b)
	return errnoSuccess
}

func wasiSizesGet(_ context.Context, _ *instance, mem api.Memory, a []uint64) status {
	if mem == nil || !mem.WriteUint32Le(arg(a, 0), 0) || !mem.WriteUint32Le(arg(a, 1), 0) {
		return errnoFault
	}
	return errnoSuccess
}

// wasiFdstatGet describes stdout and stderr as character devices, so
// language runtimes agree to write to them.
func wasiFdstatGet(_ context.Context, _ *instance, mem api.Memory, a []uint64) status {
	fd := arg(a, 0)
	if fd > 2 {
		return errnoBadf
	}
	var stat [24]byte
	stat[0] = 2 // character device
	if mem == nil || !mem.Write(arg(a, 1), stat[:]) {
		return errnoFault
	}
	return errnoSuccess
}

// wasiProcExit ends the guest: the instance is then discarded.
func wasiProcExit(ctx context.Context, in *instance, _ api.Memory, a []uint64) status {
	panic(sys.NewExitError(arg(a, 0)))
}

// wasiPollOneoff answers every subscription at once without waiting: a
// guest must not sleep inside a callback (its deadline is running), and
// language runtimes only use it to yield.
func wasiPollOneoff(_ context.Context, _ *instance, mem api.Memory, a []uint64) status {
	in, out, n, retN := arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3)
	if mem == nil || n == 0 || n > 64 {
		return errnoInval
	}
	for i := uint32(0); i < n; i++ {
		sub, ok := mem.Read(in+48*i, 48)
		if !ok {
			return errnoFault
		}
		var ev [32]byte
		copy(ev[:8], sub[:8]) // userdata
		ev[10] = sub[8]       // the event type is the subscription's tag
		if !mem.Write(out+32*i, ev[:]) {
			return errnoFault
		}
	}
	if !mem.WriteUint32Le(retN, n) {
		return errnoFault
	}
	return errnoSuccess
}
