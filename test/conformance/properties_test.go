package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/filters/wasm"
)

// Properties as Envoy serializes them (context.cc serializeValue and
// getProperty; filters/common/expr/context.cc for each attribute; the
// "Attributes" page of Envoy's docs for the list and the types).

func i64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func f64(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }

func prop(path string, want exp) step {
	return step{fn: fGetProperty, out: outPair, args: []any{data(path), ret0, ret1}, want: want}
}

func propMissing(path string) step {
	return step{fn: fGetProperty, out: outPair, args: []any{data(path), ret0, ret1}, want: st(NOT_FOUND).untouchedPair()}
}

var routeConfig = &config.Route{
	Name:     "r1",
	Upstream: "users",
	Metadata: config.Metadata{FilterMetadata: map[string]map[string]any{
		"envoy.filters.http.wasm": {
			"tier": "gold", "weight": 3.0, "beta": true,
			"tags": []any{"a", "b"}, "deep": map[string]any{"k": "v"},
		},
		"a.b":   {"c.d": "dotted"},
		"nulls": {"none": nil},
	}},
}

// metadataWire is routeConfig's metadata as protobuf would write an
// envoy.config.core.v3.Metadata: filter_metadata (field 1) entries of
// key (1) and google.protobuf.Struct (2), the Structs by the protobuf
// library itself (deterministic: keys sorted).
func metadataWire(t *testing.T) []byte {
	var out []byte
	for _, ns := range []string{"a.b", "envoy.filters.http.wasm", "nulls"} {
		s, err := structpb.NewStruct(routeConfig.Metadata.FilterMetadata[ns])
		if err != nil {
			t.Fatal(err)
		}
		sb, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, ns)
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendBytes(entry, sb)
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, entry)
	}
	return out
}

// clientCert is a client certificate with a DNS and a URI SAN.
func clientCert(t *testing.T) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := url.Parse("spiffe://acme/client")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "client", Organization: []string{"Acme"}},
		DNSNames:     []string{"client.example", "second.example"},
		URIs:         []*url.URL{uri},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestProperties(t *testing.T) {
	cert := clientCert(t)
	digest := sha256.Sum256(cert.Raw)
	withRoute := func(r *wasm.Run) { r.RouteConfig, r.Route = routeConfig, routeConfig.Name }
	ns := "route_metadata\x00filter_metadata\x00envoy.filters.http.wasm"
	cases := []hostCase{
		{
			name: "properties/request", phase: onRequestHeaders,
			rule: "request.* (expr/context.cc RequestWrapper): size is the Content-Length as int64; total_size adds the headers' byteSize (every name and value, pseudo-headers included); useragent, referer and id read their headers; protocol is HTTP/1.1",
			run: func(r *wasm.Run) {
				r.Request.Header.Set("User-Agent", "probe/1")
				r.Request.Header.Set("Referer", "https://ref.example/")
				r.Request.Header.Set("X-Request-Id", "rid-1")
			},
			steps: []step{
				prop("request\x00size", st(OK).pair(i64(11))),
				prop("request\x00total_size", st(OK).pair(i64(int64(52+20+len("User-Agent")+7+len("Referer")+20+len("X-Request-Id")+5)))),
				prop("request\x00useragent", st(OK).pair([]byte("probe/1"))),
				prop("request\x00referer", st(OK).pair([]byte("https://ref.example/"))),
				prop("request\x00id", st(OK).pair([]byte("rid-1"))),
				prop("request\x00protocol", st(OK).pair([]byte("HTTP/1.1"))),
				prop("request\x00url_path", st(OK).pair([]byte("/p/1"))),
				propMissing("request\x00duration"), // known once the request is complete
				propMissing("request\x00path\x00more"),
				propMissing("request"),
			},
		},
		{
			name: "properties/response", phase: onResponseHeaders,
			rule: "response.* (ResponseWrapper): code, size and total_size are int64; grpc_status without a grpc-status header is the HTTP status mapped (200: UNKNOWN 2); flags is the response-flag bit vector (none: 0); headers is the map with :status",
			steps: []step{
				prop("response\x00code", st(OK).pair(i64(200))),
				prop("response\x00grpc_status", st(OK).pair(i64(2))),
				prop("response\x00flags", st(OK).pair(i64(0))),
				prop("response\x00headers", st(OK).pair(hmap(":status", "200"))),
				prop("response\x00headers\x00:status", st(OK).pair([]byte("200"))),
				prop("response\x00size", st(OK).pair(i64(0))),
				prop("response\x00total_size", st(OK).pair(i64(10))),
			},
		},
		{
			name: "properties/response-before", phase: onRequestHeaders,
			rule:  "response.* before there is a response are NOT_FOUND",
			steps: []step{propMissing("response\x00code"), propMissing("response\x00headers")},
		},
		{
			name: "properties/connection-plaintext", phase: onRequestHeaders,
			rule: "connection.mtls is a bool (one byte) and false without TLS; requested_server_name is an empty string; TLS details are NOT_FOUND without a TLS session",
			steps: []step{
				prop("connection\x00mtls", st(OK).pair([]byte{0})),
				prop("connection\x00requested_server_name", st(OK).nullPair(0)),
				propMissing("connection\x00tls_version"),
				propMissing("connection\x00subject_peer_certificate"),
			},
		},
		{
			name: "properties/connection-tls", phase: onRequestHeaders,
			rule: "with a client certificate: mtls true (01), requested_server_name the SNI, tls_version as BoringSSL names it, subject in RFC 2253 form, the first DNS and URI SANs, the SHA-256 digest of the DER in lowercase hex",
			run: func(r *wasm.Run) {
				r.Request.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, ServerName: "api.test", PeerCertificates: []*x509.Certificate{cert}}
			},
			steps: []step{
				prop("connection\x00mtls", st(OK).pair([]byte{1})),
				prop("connection\x00requested_server_name", st(OK).pair([]byte("api.test"))),
				prop("connection\x00tls_version", st(OK).pair([]byte("TLSv1.3"))),
				prop("connection\x00subject_peer_certificate", st(OK).pair([]byte("CN=client,O=Acme"))),
				prop("connection\x00dns_san_peer_certificate", st(OK).pair([]byte("client.example"))),
				prop("connection\x00uri_san_peer_certificate", st(OK).pair([]byte("spiffe://acme/client"))),
				prop("connection\x00sha256_peer_certificate_digest", st(OK).pair([]byte(hex.EncodeToString(digest[:])))),
				prop("request\x00scheme", st(OK).pair([]byte("https"))),
			},
		},
		{
			name: "properties/route-metadata", phase: onRequestHeaders, run: withRoute,
			rule: "route_metadata is envoy.config.core.v3.Metadata: the path walks filter_metadata by namespace, then the Struct by key and lists by index; segments may hold dots; strings raw, numbers as doubles (8 bytes), bools one byte, maps and lists as serialized pairs, null SERIALIZATION_FAILURE; xds.route_metadata is the same",
			steps: []step{
				prop(ns+"\x00tier", st(OK).pair([]byte("gold"))),
				prop(ns+"\x00weight", st(OK).pair(f64(3))),
				prop(ns+"\x00beta", st(OK).pair([]byte{1})),
				prop(ns+"\x00tags", st(OK).pair(hmap("a", "", "b", ""))),
				prop(ns+"\x00tags\x001", st(OK).pair([]byte("b"))),
				prop(ns+"\x00deep", st(OK).pair(hmap("k", "v"))),
				prop(ns+"\x00deep\x00k", st(OK).pair([]byte("v"))),
				prop(ns, st(OK).pair(hmap("beta", "\x01", "deep", string(hmap("k", "v")), "tags", string(hmap("a", "", "b", "")), "tier", "gold", "weight", string(f64(3))))),
				prop("route_metadata\x00filter_metadata\x00a.b\x00c.d", st(OK).pair([]byte("dotted"))),
				prop("xds\x00route_metadata\x00filter_metadata\x00a.b\x00c.d", st(OK).pair([]byte("dotted"))),
				propMissing("route_metadata\x00filter_metadata\x00a\x00b\x00c.d"),
				propMissing("route_metadata.filter_metadata.a.b.c.d"),
				propMissing(ns + "\x00nope"),
				propMissing(ns + "\x00tags\x002"),
				propMissing("route_metadata\x00no_such_field"),
				{fn: fGetProperty, args: []any{data("route_metadata\x00filter_metadata\x00nulls\x00none"), ret0, ret1}, want: st(3)},
				{fn: fGetProperty, args: []any{data("route_metadata\x00filter_metadata\x00nulls"), ret0, ret1}, want: st(3)},
			},
		},
		{
			name: "properties/route-metadata-wire", phase: onRequestHeaders, run: withRoute,
			rule:  "route_metadata itself is the Metadata message in protobuf wire form (checked against the protobuf library's encoding of its Structs)",
			steps: []step{prop("route_metadata", st(OK).pair(metadataWire(t)))},
		},
		{
			name: "properties/names", phase: onRequestHeaders, run: withRoute,
			rule: "route_name and xds.route_name are the route's name; cluster_name and xds.cluster_name its upstream (before an attempt, the route's); plugin_vm_id the vm id (default: the plugin name); listener_direction an int64 (UNSPECIFIED 0); upstream.request_attempt_count a uint64; node, metadata and filter_state, which have no meaning here, are NOT_FOUND",
			steps: []step{
				prop("route_name", st(OK).pair([]byte("r1"))),
				prop("xds\x00route_name", st(OK).pair([]byte("r1"))),
				prop("cluster_name", st(OK).pair([]byte("users"))),
				prop("xds\x00cluster_name", st(OK).pair([]byte("users"))),
				prop("plugin_vm_id", st(OK).pair([]byte("probe"))),
				prop("listener_direction", st(OK).pair(i64(0))),
				prop("upstream\x00request_attempt_count", st(OK).pair(i64(0))),
				propMissing("upstream\x00address"),
				propMissing("node"),
				propMissing("metadata"),
				propMissing("filter_state"),
				propMissing("cluster_metadata"),
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

// request.time is a timestamp: int64 nanoseconds since the Unix epoch,
// little-endian (serializeValue kTimestamp), the time the request arrived.
func TestPropertyRequestTime(t *testing.T) {
	steps := []step{{fn: fGetProperty, out: outPair, args: []any{data("request\x00time"), ret0, ret1}}}
	p, err := wasm.LoadBytes(t.Context(), probe, wasm.Options{Name: "probe", Config: script(onRequestHeaders, steps), CacheDir: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	before := time.Now().UnixNano()
	out, err := p.Exchange(t.Context(), wasm.Run{Request: request()})
	after := time.Now().UnixNano()
	if err != nil || out.Failed != nil {
		t.Fatalf("exchange: %v %v", err, out.Failed)
	}
	var report []byte
	for _, l := range out.Logs {
		if r, ok := strings.CutPrefix(l.Message, "conformance:"); ok {
			report = []byte(r)
		}
	}
	// status u32, kind 2, size u32, then the value.
	if len(report) != 4+4+4+8 || binary.LittleEndian.Uint32(report) != OK || binary.LittleEndian.Uint32(report[8:]) != 8 {
		t.Fatalf("report % x: want OK and an 8-byte value", report)
	}
	if v := int64(binary.LittleEndian.Uint64(report[12:])); v < before || v > after {
		t.Errorf("request.time %d not within the exchange [%d, %d]", v, before, after)
	}
}
