package admin

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
)

// Extensions are admin endpoints that packages outside the core add, from
// init(), so that the admin API serves what the core knows nothing about
// (the cache filter's purge, for one) and core never imports filters. The
// guard (policy.go) covers them as it covers every endpoint: a method other
// than GET or HEAD needs an admin token and a JSON body. The state a
// handler acts on is its package's own (a filter keeps what its routes
// built); the admin API only routes to it.
type Extension struct {
	// Name is the endpoint's label in the admin request metrics: a fixed
	// word, one per extension.
	Name string
	// Pattern is a net/http ServeMux pattern with its method, e.g.
	// "POST /cache/purge".
	Pattern string
	Handler http.Handler
}

var extensions struct {
	sync.RWMutex
	list []Extension
}

// Register adds an extension endpoint; call it from init(). A pattern or
// name registered twice, or one the core already serves, is a programming
// error and panics.
func Register(e Extension) {
	extensions.Lock()
	defer extensions.Unlock()
	if e.Name == "" || e.Pattern == "" || e.Handler == nil {
		panic("admin: an extension needs a name, a pattern and a handler")
	}
	for _, o := range extensions.list {
		if o.Pattern == e.Pattern || o.Name == e.Name {
			panic(fmt.Sprintf("admin: extension %q (%s) registered twice", e.Name, e.Pattern))
		}
	}
	if slices.Contains(Endpoints, e.Name) {
		panic(fmt.Sprintf("admin: extension name %q is a core endpoint's", e.Name))
	}
	extensions.list = append(extensions.list, e)
	Endpoints = append(Endpoints[:len(Endpoints):len(Endpoints)], e.Name)
}

// registered returns the extensions, in registration order.
func registered() []Extension {
	extensions.RLock()
	defer extensions.RUnlock()
	return slices.Clone(extensions.list)
}

// extensionName is the metrics name of the extension serving pattern, ""
// if none does.
func extensionName(pattern string) string {
	for _, e := range registered() {
		if e.Pattern == pattern {
			return e.Name
		}
	}
	return ""
}
