package filter

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// registry maps a config key (the filter's name, its package folder and its
// key in a route's filters list) to a constructor of its empty config.
var registry = struct {
	sync.RWMutex
	m map[string]func() Config
}{m: map[string]func() Config{}}

// Register makes a filter available under name. Filter packages call it from
// init(); registering a name twice is a programming error and panics.
func Register(name string, newConfig func() Config) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[name]; dup {
		panic(fmt.Sprintf("filter: %q registered twice", name))
	}
	registry.m[name] = newConfig
}

// Lookup returns a new empty config for the filter registered under name.
func Lookup(name string) (Config, bool) {
	registry.RLock()
	defer registry.RUnlock()
	newConfig, ok := registry.m[name]
	if !ok {
		return nil, false
	}
	return newConfig(), true
}

// Names lists the registered filters, sorted, for error messages and docs.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ConfigTypes maps each registered filter to its config type (a pointer
// type, as Lookup returns it), for the config's JSON Schema.
func ConfigTypes() map[string]reflect.Type {
	registry.RLock()
	defer registry.RUnlock()
	types := make(map[string]reflect.Type, len(registry.m))
	for name, newConfig := range registry.m {
		types[name] = reflect.TypeOf(newConfig())
	}
	return types
}
