package proxywasm

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

func hostGetProperty(ctx context.Context, h Host, mem api.Memory, a []uint64) Status {
	raw, ok := Read(mem, Arg(a, 0), Arg(a, 1))
	if !ok {
		return StatusInvalidMemoryAccess
	}
	var buf [8]string
	path := SplitPath(buf[:0], raw)
	if len(path) == 0 {
		return StatusNotFound
	}
	v, st := property(h, path)
	if st != StatusOK {
		return st
	}
	return Give(ctx, h, mem, v, Arg(a, 2), Arg(a, 3))
}

func hostSetProperty(_ context.Context, h Host, mem api.Memory, a []uint64) Status {
	raw, ok1 := Read(mem, Arg(a, 0), Arg(a, 1))
	val, ok2 := Read(mem, Arg(a, 2), Arg(a, 3))
	if !ok1 || !ok2 {
		return StatusInvalidMemoryAccess
	}
	_, s := h.Current()
	var buf [8]string
	path := SplitPath(buf[:0], raw)
	if s == nil || len(path) < 2 || path[0] != "wasmgate" {
		return StatusNotFound
	}
	if s.props == nil {
		s.props = map[string][]byte{}
	}
	s.props[PropKey(raw)] = bytes.Clone(val)
	return StatusOK
}

// property resolves a path; plugin-wide properties work in the root context too.
func property(h Host, path []string) ([]byte, Status) {
	head, rest := path[0], path[1:]
	switch head {
	case "plugin_name":
		return Leaf(rest, []byte(h.PluginName()))
	case "plugin_root_id":
		return Leaf(rest, []byte(h.RootID()))
	case "plugin_vm_id":
		return Leaf(rest, []byte(h.VMID()))
	case "listener_direction":
		// envoy.config.core.v3.TrafficDirection: UNSPECIFIED (0); a gateway
		// listener is configured with no direction.
		return Leaf(rest, Int64Value(0))
	}
	x, st := h.Current()
	if st == nil || x == nil {
		return nil, StatusNotFound
	}
	s := exchange{x, st}
	if v, ok := st.props[strings.Join(path, "\x00")]; ok {
		return v, StatusOK
	}
	switch head {
	case "request":
		return s.requestProperty(rest)
	case "response":
		return s.responseProperty(rest)
	case "source":
		return PeerProperty(rest, s.sourceAddress())
	case "destination":
		return PeerProperty(rest, s.localAddress())
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
			return nil, StatusNotFound
		}
		switch rest[0] {
		case "route_name":
			return s.routeName(rest[1:])
		case "route_metadata":
			return s.routeMetadata(rest[1:])
		case "cluster_name":
			return s.clusterName(rest[1:])
		case "listener_direction":
			return Leaf(rest[1:], Int64Value(0))
		}
		return nil, StatusNotFound
	case "wasmgate":
		return s.wasmgateProperty(rest)
	}
	return nil, StatusNotFound
}

func (s exchange) requestProperty(rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound // a wrapper, not a value Envoy serializes
	}
	r := s.request()
	key, rest := rest[0], rest[1:]
	switch key {
	case "path":
		return Leaf(rest, []byte(r.URL.RequestURI()))
	case "url_path":
		return Leaf(rest, []byte(r.URL.EscapedPath()))
	case "host":
		return Leaf(rest, []byte(r.Host))
	case "scheme":
		return Leaf(rest, []byte(Scheme(r)))
	case "method":
		return Leaf(rest, []byte(r.Method))
	case "headers":
		return HeadersProperty(rest, RequestPseudo(nil, s.request()), r.Header)
	case "referer":
		return HeaderLeaf(rest, r.Header, "Referer")
	case "useragent":
		return HeaderLeaf(rest, r.Header, "User-Agent")
	case "id":
		return HeaderLeaf(rest, r.Header, "X-Request-Id")
	case "query":
		return Leaf(rest, []byte(r.URL.RawQuery))
	case "protocol":
		return Leaf(rest, []byte(ProtocolString(r)))
	case "time":
		return Leaf(rest, Int64Value(s.x.Start.UnixNano()))
	case "duration":
		// Envoy: known once the request is complete; here, from the done phase.
		if s.s.Phase < PhaseDone || s.x.Start.IsZero() {
			return nil, StatusNotFound
		}
		return Leaf(rest, Int64Value(int64(time.Since(s.x.Start))))
	case "size":
		// The Content-Length if the client sent one, else the body bytes read.
		if r.ContentLength >= 0 {
			return Leaf(rest, Int64Value(r.ContentLength))
		}
		return Leaf(rest, Int64Value(s.x.BytesIn))
	case "total_size":
		return Leaf(rest, Int64Value(s.x.BytesIn+HeaderBytes(RequestPseudo(nil, s.request()), r.Header)))
	}
	return nil, StatusNotFound
}

func (s exchange) responseProperty(rest []string) ([]byte, Status) {
	resp := s.response()
	if len(rest) == 0 || resp == nil {
		return nil, StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	status := []Pair{{K: ":status", V: strconv.Itoa(resp.Status)}}
	switch key {
	case "code":
		return Leaf(rest, Int64Value(int64(resp.Status)))
	case "code_details":
		if d := s.codeDetails(resp.Local); d != "" {
			return Leaf(rest, []byte(d))
		}
		return nil, StatusNotFound
	case "flags":
		return Leaf(rest, Int64Value(ResponseFlags(s.x.Route, resp.Status, s.x.Err)))
	case "grpc_status":
		return Leaf(rest, Int64Value(GRPCStatus(resp.Status, resp.Header)))
	case "headers":
		return HeadersProperty(rest, status, resp.Header)
	case "size":
		return Leaf(rest, Int64Value(s.x.BytesOut))
	case "total_size":
		return Leaf(rest, Int64Value(s.x.BytesOut+HeaderBytes(status, resp.Header)))
	}
	// response.trailers: trailers are not carried to filters (README).
	return nil, StatusNotFound
}

// codeDetails is Envoy's response code details where ours has the same
// meaning: via_upstream for an upstream's response, direct_response for a
// route's respond: or redirect: target.
func (s exchange) codeDetails(local bool) string {
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
func (s exchange) localAddress() string {
	if a, ok := s.request().Context().Value(http.LocalAddrContextKey).(net.Addr); ok && a != nil {
		return a.String()
	}
	return ""
}

func (s exchange) connectionProperty(rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	cs := s.request().TLS
	key, rest := rest[0], rest[1:]
	switch key {
	case "mtls":
		return Leaf(rest, BoolValue(cs != nil && len(cs.PeerCertificates) > 0))
	case "requested_server_name":
		if cs == nil {
			return Leaf(rest, nil)
		}
		return Leaf(rest, []byte(cs.ServerName))
	}
	if cs == nil {
		return nil, StatusNotFound // Envoy reads the rest from the TLS session
	}
	var peer []byte
	switch key {
	case "tls_version":
		return Leaf(rest, []byte(TLSVersion(cs.Version)))
	case "subject_peer_certificate":
		if len(cs.PeerCertificates) > 0 {
			peer = []byte(cs.PeerCertificates[0].Subject.String())
		}
		return Leaf(rest, peer)
	case "dns_san_peer_certificate":
		if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].DNSNames) > 0 {
			return Leaf(rest, []byte(cs.PeerCertificates[0].DNSNames[0]))
		}
	case "uri_san_peer_certificate":
		if len(cs.PeerCertificates) > 0 && len(cs.PeerCertificates[0].URIs) > 0 {
			return Leaf(rest, []byte(cs.PeerCertificates[0].URIs[0].String()))
		}
	case "sha256_peer_certificate_digest":
		if len(cs.PeerCertificates) > 0 {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			return Leaf(rest, []byte(hex.EncodeToString(sum[:])))
		}
	}
	// The local certificate (subject_local_certificate, *_san_local_*) is
	// not in the TLS connection state Go hands a handler (README).
	return nil, StatusNotFound
}

func (s exchange) upstreamProperty(rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	switch key {
	case "request_attempt_count":
		return Leaf(rest, Uint64Value(uint64(s.x.Attempts)))
	case "address":
		if s.x.Target == "" {
			return nil, StatusNotFound
		}
		return Leaf(rest, []byte(s.x.Target))
	case "port":
		_, port, err := net.SplitHostPort(s.x.Target)
		n, err2 := strconv.ParseUint(port, 10, 16)
		if s.x.Target == "" || err != nil || err2 != nil {
			return nil, StatusNotFound
		}
		return Leaf(rest, Int64Value(int64(n)))
	}
	// upstream TLS details and local address are not reported by the
	// proxy (README).
	return nil, StatusNotFound
}

func (s exchange) routeName(rest []string) ([]byte, Status) {
	if s.x.Route == "" {
		return nil, StatusNotFound
	}
	return Leaf(rest, []byte(s.x.Route))
}

// clusterName is the route's upstream: the one an attempt went to, else the
// one the route names (Envoy: the upstream host's cluster, else the route's).
func (s exchange) clusterName(rest []string) ([]byte, Status) {
	if s.x.Upstream != "" {
		return Leaf(rest, []byte(s.x.Upstream))
	}
	if rc := s.x.RouteConfig(); rc != nil && rc.Upstream != "" {
		return Leaf(rest, []byte(rc.Upstream))
	}
	return nil, StatusNotFound
}

func (s exchange) routeMetadata(rest []string) ([]byte, Status) {
	rc := s.x.RouteConfig()
	if rc == nil {
		return nil, StatusNotFound
	}
	return MetadataProperty(&rc.Metadata, rest)
}

func (s exchange) wasmgateProperty(rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return nil, StatusNotFound
	}
	key, rest := rest[0], rest[1:]
	switch key {
	case "route":
		return Leaf(rest, []byte(s.x.Route))
	case "route_params":
		if len(rest) == 1 {
			if v, found := s.x.Params.Get(rest[0]); found {
				return []byte(v), StatusOK
			}
			return nil, StatusNotFound
		}
		pairs := make([]Pair, 0, len(s.x.Params))
		for _, p := range s.x.Params {
			pairs = append(pairs, Pair{K: p.Name, V: p.Value})
		}
		return Leaf(rest, AppendMap(nil, pairs))
	case "consumer":
		c := s.x.Consumer
		if c == nil {
			return nil, StatusNotFound
		}
		if len(rest) == 2 && rest[0] == "metadata" {
			if v, found := c.Metadata[rest[1]]; found {
				return []byte(v), StatusOK
			}
			return nil, StatusNotFound
		}
		return Leaf(rest, []byte(c.Name))
	}
	return nil, StatusNotFound
}

// sourceAddress is the client as ip:port: the exchange's client IP (which
// honors trusted proxies) with the peer's port.
func (s exchange) sourceAddress() string {
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

// SplitPath splits a NUL-separated path into its segments (one trailing NUL
// accepted, as Envoy does).
func SplitPath(dst []string, raw []byte) []string {
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

// PropKey is the key a set property is stored under: its segments, NUL-separated.
func PropKey(raw []byte) string { return string(bytes.TrimSuffix(raw, []byte{0})) }

// Value encodings (serializeValue): Int64Value, Uint64Value, BoolValue.

// Int64Value is an int64 as 8 bytes little-endian.
func Int64Value(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// Uint64Value is a uint64 as 8 bytes little-endian.
func Uint64Value(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// BoolValue is a bool as one byte.
func BoolValue(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}

// Leaf answers a scalar: found only if the path ends here.
func Leaf(rest []string, v []byte) ([]byte, Status) {
	if len(rest) > 0 {
		return nil, StatusNotFound
	}
	return v, StatusOK
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

// ResponseFlags are the flags of an exchange's route, status and error.
func ResponseFlags(route string, status int, err error) int64 {
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

// GRPCStatus is Envoy's: the grpc-status the response carries, else the one
// its HTTP status maps to (grpc/utility.cc httpToGrpcStatus). Trailers are
// not carried to filters, so a status sent only in trailers is not seen.
func GRPCStatus(code int, h http.Header) int64 {
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

// PeerProperty is source.* or destination.* of a peer at addr (ip:port).
func PeerProperty(rest []string, addr string) ([]byte, Status) {
	if len(rest) == 0 || addr == "" {
		return nil, StatusNotFound
	}
	switch rest[0] {
	case "address":
		return Leaf(rest[1:], []byte(addr))
	case "port":
		_, port, err := net.SplitHostPort(addr)
		n, err2 := strconv.ParseUint(port, 10, 16)
		if err != nil || err2 != nil {
			return nil, StatusNotFound
		}
		return Leaf(rest[1:], Int64Value(int64(n)))
	}
	return nil, StatusNotFound
}

// TLSVersion names a version as Envoy (BoringSSL's SSL_get_version) does.
func TLSVersion(v uint16) string {
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

// ProtocolString is Envoy's name for the request's protocol.
func ProtocolString(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "HTTP/2"
	case 3:
		return "HTTP/3"
	}
	return r.Proto
}

// HeadersProperty is a header map property (request.headers,
// response.headers): the whole map, or one name's values joined with ","
// (Envoy's HeadersWrapper). The map lists each name once, pseudo-headers
// first, then the others sorted.
func HeadersProperty(rest []string, pseudo []Pair, h http.Header) ([]byte, Status) {
	switch len(rest) {
	case 0:
		pairs := pseudo
		names := make([]string, 0, len(h))
		for k := range h {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			pairs = append(pairs, Pair{K: Lower(k), V: strings.Join(h[k], ",")})
		}
		return AppendMap(nil, pairs), StatusOK
	case 1:
		name := rest[0]
		if strings.HasPrefix(name, ":") {
			for _, p := range pseudo {
				if p.K == strings.ToLower(name) {
					return []byte(p.V), StatusOK
				}
			}
			return nil, StatusNotFound
		}
		return HeaderLeaf(nil, h, name)
	}
	return nil, StatusNotFound
}

// HeaderLeaf is one header's values joined with ",", found only if the
// path ends here.
func HeaderLeaf(rest []string, h http.Header, name string) ([]byte, Status) {
	vv := h.Values(name)
	if len(vv) == 0 {
		return nil, StatusNotFound
	}
	return Leaf(rest, []byte(strings.Join(vv, ",")))
}

// HeaderBytes is Envoy's HeaderMap::byteSize: the lengths of every name and value.
func HeaderBytes(pseudo []Pair, h http.Header) int64 {
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
