package config

import (
	"reflect"
	"time"
)

const (
	defaultPluginMemory       = 64 << 20 // 64MiB
	defaultPluginTimeout      = 100 * time.Millisecond
	defaultPluginStartTimeout = 10 * time.Second
	defaultPluginMaxBody      = 1 << 20 // 1MiB
	defaultFailurePolicy      = "fail_closed"
	defaultPluginCallouts     = 64
	defaultCalloutTimeout     = 5 * time.Second
	defaultPluginSharedData   = 1 << 20 // 1MiB
	wasmPageSize              = 64 << 10
	maxPluginMemory           = 4 << 30 // the 32-bit address space
)

// pluginDefaults fills each plugin's unset fields. Instances stays 0 when
// unset: the Wasm host sizes the pool from GOMAXPROCS.
func pluginDefaults(c *Config) {
	for name, p := range c.Plugins {
		if p == nil { // "name:" with nothing under it; validation says what is missing
			p = &Plugin{}
			c.Plugins[name] = p
		}
		setSize(&p.Limits.Memory, defaultPluginMemory)
		setDuration(&p.Limits.Timeout, defaultPluginTimeout)
		setDuration(&p.Limits.StartTimeout, defaultPluginStartTimeout)
		setSize(&p.Limits.MaxBody, defaultPluginMaxBody)
		setString(&p.FailurePolicy, defaultFailurePolicy)
		setBool(&p.CloseOnContextDone, true)
		setDuration(&p.Limits.CalloutTimeout, defaultCalloutTimeout)
		setSize(&p.Limits.SharedData, defaultPluginSharedData)
		setString(&p.SharedData, "memory")
		if p.Limits.Callouts == 0 {
			p.Limits.Callouts = defaultPluginCallouts
		}
	}
}

func (v *Validator) plugins() {
	for _, name := range sortedKeys(v.c.Plugins) {
		p := JoinKey("plugins", name)
		v.Name(p, "plugin", name)
		pl := v.c.Plugins[name]
		if pl.Source == "" {
			v.Errorf(p+".source", "required: the path of the plugin's .wasm file, e.g. source: plugins/check.wasm")
		}
		switch m := int64(pl.Limits.Memory); {
		case m < wasmPageSize:
			v.Errorf(p+".limits.memory", "%d bytes is less than one 64KiB Wasm page; e.g. memory: 16MiB (Go guests need at least 4MiB)", m)
		case m > maxPluginMemory:
			v.Errorf(p+".limits.memory", "%d bytes is more than a 32-bit Wasm memory can address; the maximum is 4GiB", m)
		}
		v.NotNegative(p+".limits.instances", pl.Limits.Instances)
		v.OneOf(p+".failure_policy", pl.FailurePolicy, "fail_closed", "fail_open")
		v.NotNegative(p+".limits.callouts", pl.Limits.Callouts)
		v.OneOf(p+".shared_data", pl.SharedData, "memory", "redis")
		if pl.SharedData == "redis" && !hasRedis(v.c) {
			v.Errorf(p+".shared_data", `shared_data: redis needs a Redis server in the config: stores: {redis: {address: "127.0.0.1:6379"}}`)
		}
		for i, u := range pl.Callouts {
			v.Upstream(JoinIndex(p+".callouts", i), u)
		}
		seen := map[string]bool{}
		for i, b := range pl.Bodies {
			f := JoinIndex(p+".bodies", i)
			v.OneOf(f, b, "request", "response")
			if seen[b] {
				v.Errorf(f, "%q is listed twice", b)
			}
			seen[b] = true
		}
	}
}

// hasRedis reports whether the stores section has a redis block; it lives
// here only until plugins move to filters/wasm, beside the stores section.
func hasRedis(c *Config) bool {
	s := reflect.ValueOf(c.sections["stores"])
	return s.IsValid() && !s.Elem().FieldByName("Redis").IsNil()
}
