package proxywasm

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Ticks (proxy_set_tick_period_milliseconds; proxy_on_tick runs on one
// instance of the plugin, Host.SetTickPeriod) and proxy_done.

func hostSetTickPeriod(_ context.Context, h Host, _ api.Memory, a []uint64) Status {
	h.SetTickPeriod(time.Duration(Arg(a, 0)) * time.Millisecond)
	return StatusOK
}

// hostDone is proxy_done: a root context that answered false to
// proxy_on_done says it has finished.
func hostDone(_ context.Context, h Host, _ api.Memory, _ []uint64) Status {
	if _, s := h.Current(); s != nil {
		return StatusOK // streams are always done at once
	}
	if h.Drained() {
		return StatusOK
	}
	return StatusNotFound // nothing is waiting for this root context
}
