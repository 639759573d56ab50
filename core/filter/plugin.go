package filter

// Plugins are filters' shared, long-lived runtimes (a Wasm module's pool of
// instances), used by the routes that name them. A filter backed by one
// reports its state through PluginReporter; the admin API (GET /plugins)
// and the console list each plugin once, with the routes using it.

// PluginReporter is implemented by filters that run a plugin. Every route's
// filter of one plugin reports the same state; the Name tells them apart.
type PluginReporter interface {
	PluginStatus() PluginStatus
}

// PluginStatus is a plugin's state as the admin API shows it. The counts
// are since the plugin was loaded (a reload that changes neither its
// module nor its config keeps it, and them).
type PluginStatus struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // the runtime: "wasm"
	// Routes use the plugin; filled in by the gateway.
	Routes []string `json:"routes"`
	// Instances live now, of them idle, and the pool's bound.
	Instances     int `json:"instances"`
	IdleInstances int `json:"idle_instances"`
	MaxInstances  int `json:"max_instances"`
	// Exchanges entered the plugin; Failures are every failed one: Traps
	// (traps and host errors), DeadlineHits (a callback past its timeout),
	// Unavailable (no instance to run on).
	Exchanges    uint64 `json:"exchanges"`
	Failures     uint64 `json:"failures"`
	Traps        uint64 `json:"traps"`
	DeadlineHits uint64 `json:"deadline_hits"`
	Unavailable  uint64 `json:"unavailable"`
	// InstancesCreated counts instances started (replacements included);
	// InstancesDiscarded those thrown away after a failure.
	InstancesCreated   uint64 `json:"instances_created"`
	InstancesDiscarded uint64 `json:"instances_discarded"`
	// MemoryBytes is the live instances' linear memory together;
	// MemoryLimitBytes the cap of each.
	MemoryBytes      uint64 `json:"memory_bytes"`
	MemoryLimitBytes int64  `json:"memory_limit_bytes"`
}
