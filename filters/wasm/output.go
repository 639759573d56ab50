package wasm

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
	"github.com/wasmgate/wasmgate/filters/wasm/internal/wasmrt"
)

// The guest's stdout and stderr (WASI fd_write, wasmrt/wasi.go) go to the
// gateway log through the instance.

// wasiFuncs are wasmrt's WASI functions in this package's host-function
// form, for linking (hostmod.go) and inspection.
var wasiFuncs = func() map[string]hostFunc {
	m := make(map[string]hostFunc, len(wasmrt.WASI))
	for name, f := range wasmrt.WASI {
		fn := f.Fn
		m[name] = hostFunc{f.Params, f.Results, func(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
			return fn(ctx, in, mem, a)
		}}
	}
	return m
}()

const errnoNosys = wasmrt.ErrnoNosys

// WriteOutput implements wasmrt.Output: it logs stdout/stderr a line at a
// time (runtimes write a line in many pieces); a partial line waits for
// its end, up to 4KiB.
func (in *instance) WriteOutput(ctx context.Context, fd int, b []byte) {
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
			in.WriteOutput(ctx, fd, []byte{'\n'})
		}
	}
}

// guestLog sends a guest's line to the gateway log and, when the exchange
// captures logs, to the exchange.
func (in *instance) guestLog(ctx context.Context, level string, sl slog.Level, msg []byte) {
	s := in.cur
	if s != nil && s.capture != nil {
		s.capture.logs = append(s.capture.logs, LogEntry{Level: level, Message: string(msg)})
	}
	if in.p.logger.Enabled(ctx, sl) {
		if s != nil && s.x != nil {
			in.p.logger.Log(ctx, sl, string(msg), "route", s.x.Route)
		} else {
			in.p.logger.Log(ctx, sl, string(msg))
		}
	}
}
