package proxywasm

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

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
