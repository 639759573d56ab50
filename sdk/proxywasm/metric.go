package proxywasm

import (
	"github.com/wasmgate/wasmgate/sdk/internal/abi"
	"github.com/wasmgate/wasmgate/sdk/proxywasm/types"
)

// Metrics live in the host (wasmgate exports them with its own). Define them
// once, in OnPluginStart, and keep the handle.

type (
	MetricCounter   uint32
	MetricGauge     uint32
	MetricHistogram uint32
)

func defineMetric(t types.MetricType, name string) uint32 {
	id, st := abi.DefineMetric(t, name)
	if st != types.StatusOK {
		LogErrorf("proxywasm: defining metric %q: %v", name, st.Err())
	}
	return id
}

// DefineCounterMetric defines (or finds) a counter.
func DefineCounterMetric(name string) MetricCounter {
	return MetricCounter(defineMetric(types.MetricTypeCounter, name))
}

func (m MetricCounter) Increment(offset uint64) { abi.IncrementMetric(uint32(m), int64(offset)) }
func (m MetricCounter) Value() uint64 {
	v, _ := abi.GetMetric(uint32(m))
	return v
}

// DefineGaugeMetric defines (or finds) a gauge.
func DefineGaugeMetric(name string) MetricGauge {
	return MetricGauge(defineMetric(types.MetricTypeGauge, name))
}

func (m MetricGauge) Add(offset int64) { abi.IncrementMetric(uint32(m), offset) }
func (m MetricGauge) Value() int64 {
	v, _ := abi.GetMetric(uint32(m))
	return int64(v)
}

// DefineHistogramMetric defines (or finds) a histogram.
func DefineHistogramMetric(name string) MetricHistogram {
	return MetricHistogram(defineMetric(types.MetricTypeHistogram, name))
}

func (m MetricHistogram) Record(value uint64) { abi.RecordMetric(uint32(m), value) }
func (m MetricHistogram) Value() uint64 {
	v, _ := abi.GetMetric(uint32(m))
	return v
}
