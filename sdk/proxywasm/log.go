package proxywasm

import (
	"fmt"

	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/internal/vmstate"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// The host's log level is fetched at most once per callback, and only when
// the filter logs; a message below it is never formatted.
var (
	hostLevel      types.LogLevel
	hostLevelEpoch = ^uint64(0)
)

// LogLevelEnabled reports whether a message at level would reach the host's
// log. Use it to skip building expensive log arguments.
func LogLevelEnabled(level types.LogLevel) bool {
	if hostLevelEpoch != vmstate.Epoch {
		l, st := abi.GetLogLevel()
		if st != types.StatusOK {
			l = types.LogLevelTrace // a host without the call logs everything
		}
		hostLevel, hostLevelEpoch = l, vmstate.Epoch
	}
	return level >= hostLevel
}

func log(level types.LogLevel, msg string) {
	if LogLevelEnabled(level) {
		abi.Log(level, msg)
	}
}

func logf(level types.LogLevel, format string, args []any) {
	if LogLevelEnabled(level) {
		abi.Log(level, fmt.Sprintf(format, args...))
	}
}

func LogTrace(msg string)                     { log(types.LogLevelTrace, msg) }
func LogTracef(format string, args ...any)    { logf(types.LogLevelTrace, format, args) }
func LogDebug(msg string)                     { log(types.LogLevelDebug, msg) }
func LogDebugf(format string, args ...any)    { logf(types.LogLevelDebug, format, args) }
func LogInfo(msg string)                      { log(types.LogLevelInfo, msg) }
func LogInfof(format string, args ...any)     { logf(types.LogLevelInfo, format, args) }
func LogWarn(msg string)                      { log(types.LogLevelWarn, msg) }
func LogWarnf(format string, args ...any)     { logf(types.LogLevelWarn, format, args) }
func LogError(msg string)                     { log(types.LogLevelError, msg) }
func LogErrorf(format string, args ...any)    { logf(types.LogLevelError, format, args) }
func LogCritical(msg string)                  { log(types.LogLevelCritical, msg) }
func LogCriticalf(format string, args ...any) { logf(types.LogLevelCritical, format, args) }
