package wasmrt

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// The WASI subset (wasi_snapshot_preview1 and wasi_unstable): output to
// the gateway log, clocks, randomness, an empty environment and argument
// list, exit. No filesystem, network or environment; every other WASI
// import answers ENOSYS.

// HostFunc is one host function: its Wasm signature (one letter per
// value: i for i32, I for i64) and implementation, which reads its i32
// arguments from a and returns the status the guest gets.
type HostFunc struct {
	Params  string
	Results string // "" or "i"
	Fn      func(ctx context.Context, out Output, mem api.Memory, a []uint64) uint32
}

// Output takes what a guest writes to stdout (fd 1) and stderr (fd 2).
type Output interface {
	WriteOutput(ctx context.Context, fd int, b []byte)
}

// ErrnoNosys is the answer of a WASI function not provided.
const ErrnoNosys = errnoNosys

const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNosys   = 52
)

// WASI is the WASI subset provided, by function name.
var WASI = map[string]HostFunc{
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

func wasiOK(context.Context, Output, api.Memory, []uint64) uint32   { return errnoSuccess }
func wasiBadf(context.Context, Output, api.Memory, []uint64) uint32 { return errnoBadf }

// wasiFdWrite sends stdout and stderr to the log, one entry per call.
func wasiFdWrite(ctx context.Context, o Output, mem api.Memory, a []uint64) uint32 {
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
	o.WriteOutput(ctx, int(fd), out)
	return errnoSuccess
}

func wasiClockTimeGet(_ context.Context, _ Output, mem api.Memory, a []uint64) uint32 {
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

func wasiClockResGet(_ context.Context, _ Output, mem api.Memory, a []uint64) uint32 {
	if mem == nil || !mem.WriteUint64Le(arg(a, 1), 1000) {
		return errnoFault
	}
	return errnoSuccess
}

func wasiRandomGet(_ context.Context, _ Output, mem api.Memory, a []uint64) uint32 {
	b, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok {
		return errnoFault
	}
	_, _ = rand.Read(b)
	return errnoSuccess
}

func wasiSizesGet(_ context.Context, _ Output, mem api.Memory, a []uint64) uint32 {
	if mem == nil || !mem.WriteUint32Le(arg(a, 0), 0) || !mem.WriteUint32Le(arg(a, 1), 0) {
		return errnoFault
	}
	return errnoSuccess
}

// wasiFdstatGet describes stdout and stderr as character devices, so
// language runtimes agree to write to them.
func wasiFdstatGet(_ context.Context, _ Output, mem api.Memory, a []uint64) uint32 {
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
func wasiProcExit(_ context.Context, _ Output, _ api.Memory, a []uint64) uint32 {
	panic(sys.NewExitError(arg(a, 0)))
}

// wasiPollOneoff answers every subscription at once without waiting: a
// guest must not sleep inside a callback (its deadline is running), and
// language runtimes only use it to yield.
func wasiPollOneoff(_ context.Context, _ Output, mem api.Memory, a []uint64) uint32 {
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

func arg(a []uint64, i int) uint32 { return uint32(a[i]) }

// read returns guest memory [ptr, ptr+size), or false if out of range.
func read(mem api.Memory, ptr, size uint32) ([]byte, bool) {
	if mem == nil {
		return nil, false
	}
	if size == 0 {
		return nil, true
	}
	return mem.Read(ptr, size)
}
