package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Sections are the blocks of the config that a package outside core/config
// owns, as filters own their blocks in a route's filters list: the package
// declares the block's Go type and its checks, and registers them under the
// block's key from init(). The core decodes the block with positions (the
// same walker, the same unknown-field and did-you-mean messages), hands it
// to the owner's check, and keeps it in the Config for the owner to read
// back. So adding a section, or an auth filter with its own credentials,
// touches nothing under core/.
//
// Three core blocks take registered keys: the top level (stores, plugins),
// observability (metrics, tracing, access_log; request_id is the core's),
// and each consumer, whose credential blocks (api_keys, jwt...) belong to
// the auth filter that checks them.

type sectionDef struct {
	typ      reflect.Type // what the block decodes into
	defaults func(any)    // a section's; may be nil
	check    func(*Validator, any)
	// checkAll is a credential's check: one value per consumer, in
	// order, a nil *T where the consumer has no such block.
	checkAll func(*Validator, []any)
}

// Scopes of the blocks that take registered keys.
const (
	scopeTop           = ""
	scopeObservability = "observability"
	scopeConsumer      = "consumers"
)

var registry = struct {
	sync.RWMutex
	m map[string]map[string]*sectionDef // scope → key → section
}{m: map[string]map[string]*sectionDef{}}

// RegisterSection makes name a key of the config, owned by the calling
// package: "stores" at the top level, or "observability.tracing" inside
// the observability block. The block decodes into a T; then, on every
// loaded config, defaults (if not nil) fills its unset fields and check
// reports its problems through v with paths from the document root. Both
// run whether the key is written or not (on a zero T), so defaults hold
// either way; every section's defaults run before any check. Packages call
// it from init(); a name registered twice, or one the core owns, panics.
func RegisterSection[T any](name string, defaults func(s *T), check func(v *Validator, s *T)) {
	scope, key := scopeTop, name
	if s, k, ok := strings.Cut(name, "."); ok {
		scope, key = s, k
	}
	if scope != scopeTop && scope != scopeObservability {
		panic(fmt.Sprintf("config: section %q: only top-level and observability.* keys can be registered", name))
	}
	def := &sectionDef{typ: reflect.TypeFor[T]()}
	if defaults != nil {
		def.defaults = func(s any) { defaults(s.(*T)) }
	}
	if check != nil {
		def.check = func(v *Validator, s any) { check(v, s.(*T)) }
	}
	register(scope, key, def)
}

// RegisterCredential makes key a credential block of every consumer
// (consumers[i].KEY), owned by the auth filter that checks it. check gets
// each consumer's block, in the order of consumers, nil for a consumer
// without one, so it can refuse a credential that two consumers share.
// Credentials have no defaults: they are all written out. Packages call it
// from init(); a key registered twice, or "name" or "metadata", panics.
func RegisterCredential[T any](key string, check func(v *Validator, blocks []*T)) {
	def := &sectionDef{typ: reflect.TypeFor[T]()}
	if check != nil {
		def.checkAll = func(v *Validator, all []any) {
			typed := make([]*T, len(all))
			for i, b := range all {
				typed[i], _ = b.(*T)
			}
			check(v, typed)
		}
	}
	register(scopeConsumer, key, def)
}

func register(scope, key string, def *sectionDef) {
	if key == "" || strings.ContainsAny(key, `.[]"`) {
		panic(fmt.Sprintf("config: %q is not a plain YAML key", key))
	}
	if hasField(scopeType(scope), key) {
		panic(fmt.Sprintf("config: %s is the core's; register another key", JoinKey(scope, key)))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.m[scope] == nil {
		registry.m[scope] = map[string]*sectionDef{}
	}
	if _, dup := registry.m[scope][key]; dup {
		panic(fmt.Sprintf("config: %s registered twice", JoinKey(scope, key)))
	}
	registry.m[scope][key] = def
}

func scopeType(scope string) reflect.Type {
	switch scope {
	case scopeObservability:
		return reflect.TypeFor[Observability]()
	case scopeConsumer:
		return reflect.TypeFor[Consumer]()
	}
	return reflect.TypeFor[Config]()
}

func hasField(t reflect.Type, key string) bool {
	_, names := fieldsOf(t)
	return slices.Contains(names, key)
}

// registered returns the section registered under key in scope, or nil.
func registered(scope, key string) *sectionDef {
	registry.RLock()
	defer registry.RUnlock()
	return registry.m[scope][key]
}

// registeredKeys lists the keys registered in scope, sorted.
func registeredKeys(scope string) []string {
	registry.RLock()
	defer registry.RUnlock()
	keys := make([]string, 0, len(registry.m[scope]))
	for k := range registry.m[scope] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// openBlock is implemented by the core blocks that take registered keys:
// where their decoded sections are kept.
type openBlock interface {
	sectionsIn() (scope string, m *map[string]any)
}

func (c *Config) sectionsIn() (string, *map[string]any) { return scopeTop, &c.sections }
func (o *Observability) sectionsIn() (string, *map[string]any) {
	return scopeObservability, &o.sections
}
func (c *Consumer) sectionsIn() (string, *map[string]any) { return scopeConsumer, &c.credentials }

var openBlockType = reflect.TypeFor[openBlock]()

// Section returns the block decoded for name (as registered with
// RegisterSection), defaults applied and checked. It is nil when name is
// not registered, or c was not loaded (a Config built in code) and
// SetSection did not set it; it panics if T is not the registered type.
func Section[T any](c *Config, name string) *T {
	if c == nil {
		return nil
	}
	m, key := c.sectionSlot(name)
	return typed[T]((*m)[key], name)
}

// Credential returns the consumer's block registered under key with
// RegisterCredential, nil if the consumer has none.
func Credential[T any](c *Consumer, key string) *T {
	if c == nil {
		return nil
	}
	return typed[T](c.credentials[key], JoinKey("consumers[]", key))
}

func typed[T any](v any, name string) *T {
	if v == nil {
		return nil
	}
	t, ok := v.(*T)
	if !ok {
		panic(fmt.Sprintf("config: %s holds a %T, not a *%s", name, v, reflect.TypeFor[T]()))
	}
	return t
}

// SetSection sets a section of a Config built in code (tests, tools); a
// loaded Config is never changed. v is a *T of the registered type.
func SetSection(c *Config, name string, v any) {
	m, key := c.sectionSlot(name)
	if *m == nil {
		*m = map[string]any{}
	}
	(*m)[key] = v
}

// sectionSlot is the map c keeps the section registered as name in, and
// its key there.
func (c *Config) sectionSlot(name string) (*map[string]any, string) {
	if s, k, ok := strings.Cut(name, "."); ok && s == scopeObservability {
		return &c.Observability.sections, k
	}
	return &c.sections, name
}

// sectionDefaults gives every registered section of c a value (a zero one
// for a key not written) and fills its defaults.
func sectionDefaults(c *Config) {
	for _, ob := range []openBlock{c, &c.Observability} {
		scope, m := ob.sectionsIn()
		for _, key := range registeredKeys(scope) {
			if *m == nil {
				*m = map[string]any{}
			}
			s, ok := (*m)[key]
			if !ok {
				s = reflect.New(registered(scope, key).typ).Interface()
				(*m)[key] = s
			}
			if d := registered(scope, key).defaults; d != nil {
				d(s)
			}
		}
	}
}

// sections runs the registered sections' and credentials' checks, in the
// order of their keys.
func (v *Validator) sections() {
	for _, ob := range []openBlock{v.c, &v.c.Observability} {
		scope, m := ob.sectionsIn()
		for _, key := range registeredKeys(scope) {
			if check := registered(scope, key).check; check != nil {
				check(v, (*m)[key])
			}
		}
	}
	for _, key := range registeredKeys(scopeConsumer) {
		check := registered(scopeConsumer, key).checkAll
		if check == nil {
			continue
		}
		blocks := make([]any, len(v.c.Consumers))
		for i := range v.c.Consumers {
			blocks[i] = v.c.Consumers[i].credentials[key]
		}
		check(v, blocks)
	}
}
