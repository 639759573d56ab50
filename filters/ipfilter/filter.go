package ipfilter

import (
	"net/http"
	"net/netip"

	"github.com/wasmgate/wasmgate/core/filter"
)

// OnRequest refuses addresses not allowed, with 403. An exchange without a
// client address (never from the gateway itself) is refused too.
func (f *Filter) OnRequest(x *filter.Exchange) *filter.Response {
	if f.Allows(x.ClientIP) {
		return nil
	}
	f.denied.Add(1)
	return filter.Error(http.StatusForbidden, "client address is not allowed on this route")
}

// Allows reports whether addr passes the lists.
func (f *Filter) Allows(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range f.deny {
		if p.Contains(addr) {
			return false
		}
	}
	if len(f.allow) == 0 {
		return true
	}
	for _, p := range f.allow {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

var (
	_ filter.Filter    = (*Filter)(nil)
	_ filter.Config    = (*Config)(nil)
	_ filter.Validator = (*Config)(nil)
)
