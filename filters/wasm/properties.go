package wasm

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// Properties use Envoy's attribute names where one exists, and ours under
// wasmgate.*. A path arrives as segments each followed by NUL.

func hostGetProperty(ctx context.Context, in *instance, mem api.Memory, a []uint64) status {
	raw, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok {
		return statusInvalidMemoryAccess
	}
	v, found := in.property(propertyPath(raw))
	if !found {
		return statusNotFound
	}
	return in.give(ctx, mem, v, arg(a, 2), arg(a, 3))
}

func hostSetProperty(_ context.Context, in *instance, mem api.Memory, a []uint64) status {
	raw, ok1 := read(mem, arg(a, 0), arg(a, 1))
	val, ok2 := read(mem, arg(a, 2), arg(a, 3))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	path := propertyPath(raw)
	s := in.cur
	if s == nil || !strings.HasPrefix(path, "wasmgate.") {
		return statusNotFound
	}
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props[path] = bytes.Clone(val)
	return statusOK
}

// propertyPath turns "a\0b\0" into "a.b".
func propertyPath(raw []byte) string {
	raw = bytes.TrimSuffix(raw, []byte{0})
	return strings.ReplaceAll(string(raw), "\x00", ".")
}

// property returns a property's value; plugin-wide ones work in the root
// context too.
func (in *instance) property(path string) ([]byte, bool) {
	switch path {
	case "plugin_name":
		return []byte(in.p.name), true
	case "plugin_root_id":
		return []byte(in.p.opts.RootID), true
	}
	s := in.cur
	if s == nil {
		return nil, false
	}
	if v, ok := s.props[path]; ok {
		return v, true
	}
	r := s.request()
	switch path {
	case "request.path":
		return []byte(r.URL.RequestURI()), true
	case "request.url_path":
		return []byte(r.URL.Path), true
	case "request.query":
		return []byte(r.URL.RawQuery), true
	case "request.method":
		return []byte(r.Method), true
	case "request.host":
		return []byte(r.Host), true
	case "request.scheme":
		return []byte(scheme(r)), true
	case "request.protocol":
		return []byte(r.Proto), true
	case "request.id":
		if id := r.Header.Get("X-Request-Id"); id != "" {
			return []byte(id), true
		}
		return nil, false
	case "request.headers":
		return appendMap(nil, headerPairs(nil, r.Header)), true
	case "source.address":
		return []byte(s.sourceAddress()), true
	case "source.port":
		_, port, err := net.SplitHostPort(r.RemoteAddr)
		n, err2 := strconv.ParseUint(port, 10, 16)
		if err != nil || err2 != nil {
			return nil, false
		}
		return putU64(nil, n), true
	case "response.code":
		if resp := s.response(); resp != nil {
			return putU64(nil, uint64(resp.Status)), true
		}
		return nil, false
	case "wasmgate.route":
		return []byte(s.x.Route), true
	case "wasmgate.route_params":
		pairs := make([]pair, 0, len(s.x.Params))
		for _, p := range s.x.Params {
			pairs = append(pairs, pair{p.Name, p.Value})
		}
		return appendMap(nil, pairs), true
	case "wasmgate.consumer":
		if c := s.x.Consumer; c != nil {
			return []byte(c.Name), true
		}
		return nil, false
	}
	if name, ok := strings.CutPrefix(path, "wasmgate.route_params."); ok {
		if v, found := s.x.Params.Get(name); found {
			return []byte(v), true
		}
		return nil, false
	}
	if key, ok := strings.CutPrefix(path, "wasmgate.consumer.metadata."); ok && s.x.Consumer != nil {
		if v, found := s.x.Consumer.Metadata[key]; found {
			return []byte(v), true
		}
	}
	return nil, false
}

// sourceAddress is the client as ip:port: the exchange's client IP (which
// honors trusted proxies) with the peer's port.
func (s *stream) sourceAddress() string {
	r := s.request()
	if !s.x.ClientIP.IsValid() {
		return r.RemoteAddr
	}
	_, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		port = "0"
	}
	return net.JoinHostPort(s.x.ClientIP.String(), port)
}
