package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/core/proxy"

	"github.com/wasmgate/wasmgate/filters/wasm/internal/proxywasm"
)

// Properties (proxy_get_property) follow Envoy's attributes
// (envoyproxy.io, "Attributes"; context.cc getProperty and
// filters/common/expr/context.cc). A path is a list of segments, each
// followed by NUL ("request\0path\0"), so a segment may hold dots
// (route_metadata\0filter_metadata\0envoy.filters.http.wasm). Values are
// encoded as Envoy's serializeValue does: strings and bytes as they are;
// int64, uint64 and double as 8 bytes little-endian; bool as one byte;
// durations and timestamps as int64 nanoseconds; maps as a serialized
// header map of their serialized keys and values; lists as such a map of
// (element, ""); protobuf messages in their wire form. A property that
// Envoy documents but that has no meaning here, or that has no value for
// this exchange yet, is NOT_FOUND; a null in metadata is
// SERIALIZATION_FAILURE, as in Envoy. Our own live under wasmgate.*.

func hostGetProperty(ctx context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	raw, ok := read(mem, arg(a, 0), arg(a, 1))
	if !ok {
		return proxywasm.StatusInvalidMemoryAccess
	}
	var buf [8]string
	path := splitPath(buf[:0], raw)
	if len(path) == 0 {
		return proxywasm.StatusNotFound
	}
	v, st := in.property(path)
	if st != proxywasm.StatusOK {
		return st
	}
	return in.give(ctx, mem, v, arg(a, 2), arg(a, 3))
}

func hostSetProperty(_ context.Context, in *instance, mem api.Memory, a []uint64) proxywasm.Status {
	raw, ok1 := read(mem, arg(a, 0), arg(a, 1))
	val, ok2 := read(mem, arg(a, 2), arg(a, 3))
	if !ok1 || !ok2 {
		return proxywasm.StatusInvalidMemoryAccess
	}
	s := in.cur
	var buf [8]string
	path := splitPath(buf[:0], raw)
	if s == nil || len(path) < 2 || path[0] != "wasmgate" {
		return proxywasm.StatusNotFound
	}
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props[propKey(raw)] = bytes.Clone(val)
	return proxywasm.StatusOK
}

// splitPath splits a NUL-separated path into its segments (one trailing NUL
// accepted, as Envoy does).
func splitPath(dst []string, raw []byte) []string {
	raw = bytes.TrimSuffix(raw, []byte{0})
	if len(raw) == 0 {
		return dst
	}
	for {
		i := bytes.IndexByte(raw, 0)
		if i < 0 {
			return append(dst, string(raw))
		}
		dst = append(dst, string(raw[:i]))
		raw = raw[i+1:]
	}
}

// propKey is the key a set property is stored under: its segments, NUL-separated.
func propKey(raw []byte) string { return string(bytes.TrimSuffix(raw, []byte{0})) }

// Value encodings (serializeValue).
func int64Value(v int64) []byte   { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
func uint64Value(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func boolValue(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}

// leaf answers a scalar: found only if the path ends here.
func leaf(rest []string, v []byte) ([]byte, proxywasm.Status) {
	if len(rest) > 0 {
		return nil, proxywasm.StatusNotFound
	}
	return v, proxywasm.StatusOK
}

// property resolves a path; plugin-wide properties work in the root context too.
func (in *instance) property(path []string) ([]byte, proxywasm.Status) {
	head, rest := path[0], path[1:]
	switch head {
	case "plugin_name":
		return leaf(rest, []byte(in.p.name))
	case "plugin_root_id":
		return leaf(rest, []byte(in.p.opts.RootID))
	case "plugin_vm_id":
		return leaf(rest, []byte(in.p.opts.VMID))
	case "listener_direction":
		// envoy.config.core.v3.TrafficDirection: UNSPECIFIED (0); a gateway
		// listener is configured with no direction.
		return leaf(rest, int64Value(0))
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
		return peerProperty(rest, s.sourceAddress())
	case "destination":
		return peerProperty(rest, s.localAddress())
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
			return leaf(rest[1:], int64Value(0))
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
		return leaf(rest, []byte(r.URL.RequestURI()))
	case "url_path":
		return leaf(rest, []byte(r.URL.EscapedPath()))
	case "host":
		return leaf(rest, []byte(r.Host))
	case "scheme":
		return leaf(rest, []byte(proxywasm.Scheme(r)))
	case "method":
		return leaf(rest, []byte(r.Method))
	case "headers":
		return headersProperty(rest, proxywasm.RequestPseudo(nil, s.request()), r.Header)
	case "referer":
		return headerLeaf(rest, r.Header, "Referer")
	case "useragent":
		return headerLeaf(rest, r.Header, "User-Agent")
	case "id":
		return headerLeaf(rest, r.Header, "X-Request-Id")
	case "query":
		return leaf(rest, []byte(r.URL.RawQuery))
	case "protocol":
		return leaf(rest, []byte(protocolString(r)))
	case "time":
		return leaf(rest, int64Value(s.x.Start.UnixNano()))
	case "duration":
		// Envoy: known once the request is complete; here, from the done phase.
		if s.phase < phaseDone || s.x.Start.IsZero() {
			return nil, proxywasm.StatusNotFound
		}
		return leaf(rest, int64Value(int64(time.Since(s.x.Start))))
	case "size":
		// The Content-Length if the client sent one, else the body bytes read.
		if r.ContentLength >= 0 {
			return leaf(rest, int64Value(r.ContentLength))
		}
		return leaf(rest, int64Value(s.x.BytesIn))
	case "total_size":
		return leaf(rest, int64Value(s.x.BytesIn+headerBytes(proxywasm.RequestPseudo(nil, s.request()), r.Header)))
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
		return leaf(rest, int64Value(int64(resp.Status)))
	case "code_details":
		if d := s.codeDetails(resp.Local); d != "" {
			return leaf(rest, []byte(d))
		}
		return nil, proxywasm.StatusNotFound
	case "flags":
		return leaf(rest, int64Value(responseFlags(s.x.Route, resp.Status, s.x.Err)))
	case "grpc_status":
		return leaf(rest, int64Value(grpcStatus(resp.Status, resp.Header)))
	case "headers":
		return headersProperty(rest, status, resp.Header)
	case "size":
		return leaf(rest, int64Value(s.x.BytesOut))
	case "total_size":
		return leaf(rest, int64Value(s.x.BytesOut+headerBytes(status, resp.Header)))
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

// Envoy's response flags (stream_info.h ResponseFlag) for the failures we
// tell apart.
const (
	flagUpstreamRequestTimeout          = 0x4
	flagUpstreamRemoteReset             = 0x10
	flagUpstreamConnectionFailure       = 0x20
	flagUpstreamOverflow                = 0x80
	flagNoRouteFound                    = 0x100
	flagDownstreamConnectionTermination = 0x4000
)

func responseFlags(route string, status int, err error) int64 {
	var flags int64
	if route == "" && status == http.StatusNotFound {
		flags |= flagNoRouteFound
	}
	var perr *proxy.Error
	if errors.As(err, &perr) {
		switch perr.Kind {
		case proxy.KindConnect:
			flags |= flagUpstreamConnectionFailure
		case proxy.KindTimeout:
			flags |= flagUpstreamRequestTimeout
		case proxy.KindBadResponse:
			flags |= flagUpstreamRemoteReset
		case proxy.KindUnavailable:
			flags |= flagUpstreamOverflow
		case proxy.KindClientGone:
			flags |= flagDownstreamConnectionTermination
		}
	}
	return flags
}

// grpcStatus is Envoy's: the grpc-status the response carries, else the one
// its HTTP status maps to (grpc/utility.cc httpToGrpcStatus). Trailers are
// not carried to filters, so a status sent only in trailers is not seen.
func grpcStatus(code int, h http.Header) int64 {
	if v := h.Get("Grpc-Status"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			return int64(n)
		}
	}
	switch code {
	case 400:
		return 13 // Internal
	case 401:
		return 16 // Unauthenticated
	case 403:
		return 7 // PermissionDenied
	case 404:
		return 12 // Unimplemented
	case 429, 502, 503, 504:
		return 14 // Unavailable
	}
	return 2 // Unknown
}

func peerProperty(rest []string, addr string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 || addr == "" {
		return nil, proxywasm.StatusNotFound
	}
	switch rest[0] {
	case "address":
		return leaf(rest[1:], []byte(addr))
	case "port":
		_, port, err := net.SplitHostPort(addr)
		n, err2 := strconv.ParseUint(port, 10, 16)
		if err != nil || err2 != nil {
			return nil, proxywasm.StatusNotFound
		}
		return leaf(rest[1:], int64Value(int64(n)))
	}
	return nil, proxywasm.StatusNotFound
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
		return leaf(rest, boolValue(cs != nil && len(cs.PeerCertificates) > 0))
	case "requested_server_name":
		if cs == nil {
			return leaf(rest, nil)
		}
		return leaf(rest, []byte(cs.ServerName))
	}
	if cs == nil {
		return nil, proxywasm.StatusNotFound // Envoy reads the rest from the TLS session
	}
	var peer []byte
	switch key {
	case "tls_version":
		return leaf(rest, []byte(tlsVersion(cs.Version)))
	case "subject_peer_certificate":
		if len(cs.PeerCertificates) > 0 {
			peer = []byte(cs.PeerCertificates[0].Subject.String())
		}
		return leaf(rest, peer)
	case "dns_san_peer_certificate":
		if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].DNSNames) > 0 {
			return leaf(rest, []byte(cs.PeerCertificates[0].DNSNames[0]))
		}
	case "uri_san_peer_certificate":
		if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].URIs) > 0 {
			return leaf(rest, []byte(cs.PeerCertificates[0].URIs[0].String()))
		}
	case "sha256_peer_certificate_digest":
		if len(cs.PeerCertificates) > 0 {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			return leaf(rest, []byte(hex.EncodeToString(sum[:])))
		}
	}
	// The local certificate (subject_local_certificate, *_san_local_*) is
	// not in the TLS connection state Go hands a handler (README).
	return nil, proxywasm.StatusNotFound
}

// tlsVersion names a version as Envoy (BoringSSL's SSL_get_version) does.
func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "unknown"
}

func (s *stream) upstreamProperty(rest []string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 {
		return nil, proxywasm.StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	switch key {
	case "request_attempt_count":
		return leaf(rest, uint64Value(uint64(s.x.Attempts)))
	case "address":
		if s.x.Target == "" {
			return nil, proxywasm.StatusNotFound
		}
		return leaf(rest, []byte(s.x.Target))
	case "port":
		_, port, err := net.SplitHostPort(s.x.Target)
		n, err2 := strconv.ParseUint(port, 10, 16)
		if s.x.Target == "" || err != nil || err2 != nil {
			return nil, proxywasm.StatusNotFound
		}
		return leaf(rest, int64Value(int64(n)))
	}
	// upstream TLS details and local address are not reported by the
	// proxy (README).
	return nil, proxywasm.StatusNotFound
}

func (s *stream) routeName(rest []string) ([]byte, proxywasm.Status) {
	if s.x.Route == "" {
		return nil, proxywasm.StatusNotFound
	}
	return leaf(rest, []byte(s.x.Route))
}

// clusterName is the route's upstream: the one an attempt went to, else the
// one the route names (Envoy: the upstream host's cluster, else the route's).
func (s *stream) clusterName(rest []string) ([]byte, proxywasm.Status) {
	if s.x.Upstream != "" {
		return leaf(rest, []byte(s.x.Upstream))
	}
	if rc := s.x.RouteConfig(); rc != nil && rc.Upstream != "" {
		return leaf(rest, []byte(rc.Upstream))
	}
	return nil, proxywasm.StatusNotFound
}

func (s *stream) routeMetadata(rest []string) ([]byte, proxywasm.Status) {
	rc := s.x.RouteConfig()
	if rc == nil {
		return nil, proxywasm.StatusNotFound
	}
	return metadataProperty(&rc.Metadata, rest)
}

// protocolString is Envoy's name for the request's protocol.
func protocolString(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "HTTP/2"
	case 3:
		return "HTTP/3"
	}
	return r.Proto
}

// headersProperty is a header map property (request.headers,
// response.headers): the whole map, or one name's values joined with ","
// (Envoy's HeadersWrapper). The map lists each name once, pseudo-headers
// first, then the others sorted.
func headersProperty(rest []string, pseudo []proxywasm.Pair, h http.Header) ([]byte, proxywasm.Status) {
	switch len(rest) {
	case 0:
		pairs := pseudo
		names := make([]string, 0, len(h))
		for k := range h {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			pairs = append(pairs, proxywasm.Pair{K: proxywasm.Lower(k), V: strings.Join(h[k], ",")})
		}
		return proxywasm.AppendMap(nil, pairs), proxywasm.StatusOK
	case 1:
		name := rest[0]
		if strings.HasPrefix(name, ":") {
			for _, p := range pseudo {
				if p.K == strings.ToLower(name) {
					return []byte(p.V), proxywasm.StatusOK
				}
			}
			return nil, proxywasm.StatusNotFound
		}
		return headerLeaf(nil, h, name)
	}
	return nil, proxywasm.StatusNotFound
}

func headerLeaf(rest []string, h http.Header, name string) ([]byte, proxywasm.Status) {
	vv := h.Values(name)
	if len(vv) == 0 {
		return nil, proxywasm.StatusNotFound
	}
	return leaf(rest, []byte(strings.Join(vv, ",")))
}

// headerBytes is Envoy's HeaderMap::byteSize: the lengths of every name and value.
func headerBytes(pseudo []proxywasm.Pair, h http.Header) int64 {
	var n int64
	for _, p := range pseudo {
		n += int64(len(p.K) + len(p.V))
	}
	for k, vv := range h {
		for _, v := range vv {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

func (s *stream) wasmgateProperty(rest []string) ([]byte, proxywasm.Status) {
	if len(rest) == 0 {
		return nil, proxywasm.StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	switch key {
	case "route":
		return leaf(rest, []byte(s.x.Route))
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
		return leaf(rest, proxywasm.AppendMap(nil, pairs))
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
		return leaf(rest, []byte(c.Name))
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
