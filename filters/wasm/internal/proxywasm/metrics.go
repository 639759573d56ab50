package proxywasm

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/guestmetric"
)

// Plugin-defined metrics (proxy_define_metric and friends), in the
// plugin's guestmetric.Set (Host.Metrics), shared by its instances.

func hostDefineMetric(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	kind := guestmetric.Kind(Arg(a, 0))
	if kind > guestmetric.Histogram {
		return StatusBadArgument
	}
	name, ok := Read(mem, Arg(a, 1), Arg(a, 2))
	if !ok || mem == nil {
		return StatusInvalidMemoryAccess
	}
	if len(name) == 0 {
		return StatusBadArgument
	}
	if _, ok := mem.Read(Arg(a, 3), 4); !ok {
		return StatusInvalidMemoryAccess
	}
	id := h.Metrics().Define(kind, string(name))
	if id == 0 {
		return StatusBadArgument // another kind under this name, or too many metrics
	}
	mem.WriteUint32Le(Arg(a, 3), id)
	return StatusOK
}

func hostIncrementMetric(_ context.Context, h Host, _ api.Memory, a []uint64) Status {
	e := h.Metrics().Get(Arg(a, 0))
	if e == nil {
		return StatusNotFound
	}
	d := int64(a[1])
	switch {
	case e.Kind == guestmetric.Histogram:
		return StatusBadArgument
	case e.Kind == guestmetric.Counter && d < 0:
		return StatusBadArgument
	}
	e.Add(d)
	return StatusOK
}

func hostRecordMetric(_ context.Context, h Host, _ api.Memory, a []uint64) Status {
	e := h.Metrics().Get(Arg(a, 0))
	if e == nil {
		return StatusNotFound
	}
	if e.Kind == guestmetric.Counter { // as Envoy: recording a counter adds to it
		e.Add(int64(a[1] & (1<<63 - 1)))
		return StatusOK
	}
	e.Record(int64(a[1]))
	return StatusOK
}

func hostGetMetric(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	e := h.Metrics().Get(Arg(a, 0))
	if e == nil {
		return StatusNotFound
	}
	if e.Kind == guestmetric.Histogram { // as Envoy: a histogram has no single value
		return StatusBadArgument
	}
	if mem == nil || !mem.WriteUint64Le(Arg(a, 1), uint64(e.Value())) {
		return StatusInvalidMemoryAccess
	}
	return StatusOK
}
