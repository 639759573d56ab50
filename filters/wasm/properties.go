package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// The property host functions and the resolution of a path against the
// running exchange; the values' encoding is internal/proxywasm's
// (properties.go there).

func hostGetProperty(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	raw, ok := proxywasm.Read(mem, proxywasm.Arg(a, 0), proxywasm.Arg(a, 1))
	if !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	var buf [8]string
	path := proxywasm.SplitPath(buf[:0], raw)
	if len(path) == 0 {
		return proxywasm.StatusNotFound
	}
	v, st := in.property(path)
	if st != proxywasm.StatusOK {
		return st
	}
	return in.give(ctx, mem, v, proxywasm.Arg(a, 2), proxywasm.Arg(a, 3))
}

func hostSetProperty(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	raw, ok1 := proxywasm.Read(mem, proxywasm.Arg(a, 0), proxywasm.Arg(a, 1))
	val, ok2 := proxywasm.Read(mem, proxywasm.Arg(a, 2), proxywasm.Arg(a, 3))
	if !ok1 || !ok2 {
		return proxywasm.StatusInvalidMemoryAccess
	}
	s := in.cur
	var buf [8]string
	path := proxywasm.SplitPath(buf[:0], raw)
	if s == nil || len(path) < 2 || path[0] != "wasmgate" {
		return proxywasm.StatusNotFound
	}
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props[proxywasm.PropKey(raw)] = bytes.Clone(val)
	return proxywasm.StatusOK
}

// property resolves a path; plugin-wide properties work in the root context too.
func (in *instance) property(path []string) ([]byte, proxywasm.Status) {
	head, rest := path[0], path[1:]
	switch head {
	case "plugin_name":
		return proxywasm.Leaf(rest, []byte(in.p.name))
	case "plugin_root_id":
		return proxywasm.Leaf(rest, []byte(in.p.opts.RootID))
	case "plugin_vm_id":
		return proxywasm.Leaf(rest, []byte(in.p.opts.VMID))
	case "listener_direction":
		// envoy.config.core.v3.TrafficDirection: UNSPECIFIED (0); a gateway
		// listener is configured with no direction.
		return proxywasm.Leaf(rest, proxywasm.Int64Value(0))
	}
	s := in.cur
	if s == nil || s.x == nil {
		return nil, proxywasm.StatusNotFound
	}
	if v, ok := s.props[strings.Join(path, "\x00")]; ok {
		return v, proxywasm.StatusOK
	}
	switch head {
	case "request":
		return s.requestProperty(rest)
	case "response":
		return s.responseProperty(rest)
	case "source":
		return proxywasm.PeerProperty(rest, s.sourceAddress())
	case "destination":
		return proxywasm.PeerProperty(rest, s.localAddress())
	case "connection":
		return s.connectionProperty(rest)
	case "upstream":
		return s.upstreamProperty(rest)
	case "route_name":
		return s.routeName(rest)
	case "route_metadata":
		return s.routeMetadata(rest)
	case "cluster_name":
		return s.clusterName(rest)
	case "xds":
		if len(rest) == 0 {
			return nil, proxywasm.StatusNotFound
		}
		switch rest[0] {
		case "route_name":
			return s.routeName(rest[1:])
		case "route_metadata":
			return s.routeMetadata(rest[1:])
		case "cluster_name":
			return s.clusterName(rest[1:])
		case "listener_direction":
			return proxywasm.Leaf(rest[1:], proxywasm.Int64Value(0))
		}
		return nil, proxywasm.StatusNotFound
	case "wasmgate":
		return s.wasmgateProperty(rest)
	}
	return nil, proxywasm.StatusNotFound
}

func (s *stream) requestProperty(rest []string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 {
		return nil, proxywasm.StatusNotFound // a wrapper, not a value Envoy serializes
	}
	r := s.request()
	key, rest := rest[0], rest[1:]
	switch key {
	case "path":
		return proxywasm.Leaf(rest, []byte(r.URL.RequestURI()))
	case "url_path":
		return proxywasm.Leaf(rest, []byte(r.URL.EscapedPath()))
	case "host":
		return proxywasm.Leaf(rest, []byte(r.Host))
	case "scheme":
		return proxywasm.Leaf(rest, []byte(proxywasm.Scheme(r)))
	case "method":
		return proxywasm.Leaf(rest, []byte(r.Method))
	case "headers":
		return proxywasm.HeadersProperty(rest, proxywasm.RequestPseudo(nil, s.request()), r.Header)
	case "referer":
		return proxywasm.HeaderLeaf(rest, r.Header, "Referer")
	case "useragent":
		return proxywasm.HeaderLeaf(rest, r.Header, "User-Agent")
	case "id":
		return proxywasm.HeaderLeaf(rest, r.Header, "X-Request-Id")
	case "query":
		return proxywasm.Leaf(rest, []byte(r.URL.RawQuery))
	case "protocol":
		return proxywasm.Leaf(rest, []byte(proxywasm.ProtocolString(r)))
	case "time":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(s.x.Start.UnixNano()))
	case "duration":
		// Envoy: known once the request is complete; here, from the done phase.
		if s.phase < phaseDone || s.x.Start.IsZero() {
			return nil, proxywasm.StatusNotFound
		}
		return proxywasm.Leaf(rest, proxywasm.Int64Value(int64(time.Since(s.x.Start))))
	case "size":
		// The Content-Length if the client sent one, else the body bytes read.
		if r.ContentLength >= 0 {
			return proxywasm.Leaf(rest, proxywasm.Int64Value(r.ContentLength))
		}
		return proxywasm.Leaf(rest, proxywasm.Int64Value(s.x.BytesIn))
	case "total_size":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(s.x.BytesIn+proxywasm.HeaderBytes(proxywasm.RequestPseudo(nil, s.request()), r.Header)))
	}
	return nil, proxywasm.StatusNotFound
}

func (s *stream) responseProperty(rest []string) ([]byte, proxywasm.Status) {
	resp := s.response()
	if len(rest) == 0 || resp == nil {
		return nil, proxywasm.StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	status := []proxywasm.Pair{{K: ":status", V: strconv.Itoa(resp.Status)}}
	switch key {
	case "code":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(int64(resp.Status)))
	case "code_details":
		if d := s.codeDetails(resp.Local); d != "" {
			return proxywasm.Leaf(rest, []byte(d))
		}
		return nil, proxywasm.StatusNotFound
	case "flags":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(proxywasm.ResponseFlags(s.x.Route, resp.Status, s.x.Err)))
	case "grpc_status":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(proxywasm.GRPCStatus(resp.Status, resp.Header)))
	case "headers":
		return proxywasm.HeadersProperty(rest, status, resp.Header)
	case "size":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(s.x.BytesOut))
	case "total_size":
		return proxywasm.Leaf(rest, proxywasm.Int64Value(s.x.BytesOut+proxywasm.HeaderBytes(status, resp.Header)))
	}
	// response.trailers: trailers are not carried to filters (README).
	return nil, proxywasm.StatusNotFound
}

// codeDetails is Envoy's response code details where ours has the same
// meaning: via_upstream for an upstream's response, direct_response for a
// route's respond: or redirect: target.
func (s *stream) codeDetails(local bool) string {
	switch {
	case !local && s.x.Upstream != "":
		return "via_upstream"
	case local && s.x.Upstream == "" && s.x.AnsweredBy == "":
		if rc := s.x.RouteConfig(); rc != nil && (rc.Respond != nil || rc.Redirect != nil) {
			return "direct_response"
		}
	}
	return ""
}

// localAddress is the listener's side of the client connection (Envoy's
// destination), as ip:port.
func (s *stream) localAddress() string {
	if a, ok := s.request().Context().Value(http.LocalAddrContextKey).(net.Addr); ok && a != nil {
		return a.String()
	}
	return ""
}

func (s *stream) connectionProperty(rest []string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 {
		return nil, proxywasm.StatusNotFound
	}
	cs := s.request().TLS
	key, rest := rest[0], rest[1:]
	switch key {
	case "mtls":
		return proxywasm.Leaf(rest, proxywasm.BoolValue(cs != nil && len(cs.PeerCertificates) > 0))
	case "requested_server_name":
		if cs == nil {
			return proxywasm.Leaf(rest, nil)
		}
		return proxywasm.Leaf(rest, []byte(cs.ServerName))
	}
	if cs == nil {
		return nil, proxywasm.StatusNotFound // Envoy reads the rest from the TLS session
	}
	var peer []byte
	switch key {
	case "tls_version":
		return proxywasm.Leaf(rest, []byte(proxywasm.TLSVersion(cs.Version)))
	case "subject_peer_certificate":
		if len(cs.PeerCertificates) > 0 {
			peer = []byte(cs.PeerCertificates[0].Subject.String())
		}
		return proxywasm.Leaf(rest, peer)
	case "dns_san_peer_certificate":
		if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].DNSNames) > 0 {
			return proxywasm.Leaf(rest, []byte(cs.PeerCertificates[0].DNSNames[0]))
		}
	case "uri_san_peer_certificate":
		if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].URIs) > 0 {
			return proxywasm.Leaf(rest, []byte(cs.PeerCertificates[0].URIs[0].String()))
		}
	case "sha256_peer_certificate_digest":
		if len(cs.PeerCertificates) > 0 {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			return proxywasm.Leaf(rest, []byte(hex.EncodeToString(sum[:])))
		}
	}
	// The local certificate (subject_local_certificate, *_san_local_*) is
	// not in the TLS connection state Go hands a handler (README).
	return nil, proxywasm.StatusNotFound
}

func (s *stream) upstreamProperty(rest []string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 {
		return nil, proxywasm.StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	switch key {
	case "request_attempt_count":
		return proxywasm.Leaf(rest, proxywasm.Uint64Value(uint64(s.x.Attempts)))
	case "address":
		if s.x.Target == "" {
			return nil, proxywasm.StatusNotFound
		}
		return proxywasm.Leaf(rest, []byte(s.x.Target))
	case "port":
		_, port, err := net.SplitHostPort(s.x.Target)
		n, err2 := strconv.ParseUint(port, 10, 16)
		if s.x.Target == "" || err != nil || err2 != nil {
			return nil, proxywasm.StatusNotFound
		}
		return proxywasm.Leaf(rest, proxywasm.Int64Value(int64(n)))
	}
	// upstream TLS details and local address are not reported by the
	// proxy (README).
	return nil, proxywasm.StatusNotFound
}

func (s *stream) routeName(rest []string) ([]byte, proxywasm.Status) {
	if s.x.Route == "" {
		return nil, proxywasm.StatusNotFound
	}
	return proxywasm.Leaf(rest, []byte(s.x.Route))
}

// clusterName is the route's upstream: the one an attempt went to, else the
// one the route names (Envoy: the upstream host's cluster, else the route's).
func (s *stream) clusterName(rest []string) ([]byte, proxywasm.Status) {
	if s.x.Upstream != "" {
		return proxywasm.Leaf(rest, []byte(s.x.Upstream))
	}
	if rc := s.x.RouteConfig(); rc != nil && rc.Upstream != "" {
		return proxywasm.Leaf(rest, []byte(rc.Upstream))
	}
	return nil, proxywasm.StatusNotFound
}

func (s *stream) routeMetadata(rest []string) ([]byte, proxywasm.Status) {
	rc := s.x.RouteConfig()
	if rc == nil {
		return nil, proxywasm.StatusNotFound
	}
	return proxywasm.MetadataProperty(&rc.Metadata, rest)
}

func (s *stream) wasmgateProperty(rest []string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 {
		return nil, proxywasm.StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	switch key {
	case "route":
		return proxywasm.Leaf(rest, []byte(s.x.Route))
	case "route_params":
		if len(rest) == 1 {
			if v, found := s.x.Params.Get(rest[0]); found {
				return []byte(v), proxywasm.StatusOK
			}
			return nil, proxywasm.StatusNotFound
		}
		pairs := make([]proxywasm.Pair, 0, len(s.x.Params))
		for _, p := range s.x.Params {
			pairs = append(pairs, proxywasm.Pair{K: p.Name, V: p.Value})
		}
		return proxywasm.Leaf(rest, proxywasm.AppendMap(nil, pairs))
	case "consumer":
		c := s.x.Consumer
		if c == nil {
			return nil, proxywasm.StatusNotFound
		}
		if len(rest) == 2 && rest[0] == "metadata" {
			if v, found := c.Metadata[rest[1]]; found {
				return []byte(v), proxywasm.StatusOK
			}
			return nil, proxywasm.StatusNotFound
		}
		return proxywasm.Leaf(rest, []byte(c.Name))
	}
	return nil, proxywasm.StatusNotFound
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
