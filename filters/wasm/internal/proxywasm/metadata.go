package proxywasm

import (
	"encoding/binary"
	"math"
	"sort"
	"strconv"

	"github.com/wasmgate/wasmgate/core/config"
)

// Route metadata as Envoy's route_metadata property shows it. The property
// is an envoy.config.core.v3.Metadata message: the path walks its fields
// (filter_metadata, a map of namespace to google.protobuf.Struct), then
// into the Struct as CEL sees it (a map; numbers are doubles), then into
// nested maps by key and lists by index. What the path ends on is encoded
// as Envoy's serializeValue does: the message itself in protobuf wire form,
// maps and lists as serialized pairs, scalars as their bytes.

// MetadataProperty resolves rest against route metadata md.
func MetadataProperty(md *config.Metadata, rest []string) ([]byte, Status) {
	if len(rest) == 0 {
		return appendMetadata(nil, md), StatusOK
	}
	switch rest[0] {
	case "filter_metadata":
		rest = rest[1:]
		if len(rest) == 0 {
			pairs := make([]Pair, 0, len(md.FilterMetadata))
			for _, ns := range sortedKeys(md.FilterMetadata) {
				v, ok := serializeMeta(md.FilterMetadata[ns])
				if !ok {
					return nil, StatusSerializationFail
				}
				pairs = append(pairs, Pair{K: ns, V: string(v)})
			}
			return AppendMap(nil, pairs), StatusOK
		}
		obj, ok := md.FilterMetadata[rest[0]]
		if !ok {
			return nil, StatusNotFound
		}
		v, st := walkMeta(obj, rest[1:])
		if st != StatusOK {
			return nil, st
		}
		out, ok := serializeMeta(v)
		if !ok {
			return nil, StatusSerializationFail
		}
		return out, StatusOK
	case "typed_filter_metadata":
		// Never set here (config refuses it): an empty map, as Envoy has.
		if len(rest) == 1 {
			return AppendMap(nil, nil), StatusOK
		}
	}
	return nil, StatusNotFound
}

// walkMeta follows path into a Struct value: keys into maps, indices into lists.
func walkMeta(v any, path []string) (any, Status) {
	for _, seg := range path {
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[seg]
			if !ok {
				return nil, StatusNotFound
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, StatusNotFound
			}
			v = t[i]
		default:
			return nil, StatusNotFound
		}
	}
	return v, StatusOK
}

// serializeMeta encodes a Struct value as Envoy's serializeValue encodes
// its CEL form. A null (anywhere inside) cannot be encoded: ok is false.
func serializeMeta(v any) (out []byte, ok bool) {
	switch t := v.(type) {
	case string:
		return []byte(t), true
	case float64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(t)), true
	case bool:
		return BoolValue(t), true
	case map[string]any:
		pairs := make([]Pair, 0, len(t))
		for _, k := range sortedKeys(t) {
			b, ok := serializeMeta(t[k])
			if !ok {
				return nil, false
			}
			pairs = append(pairs, Pair{K: k, V: string(b)})
		}
		return AppendMap(nil, pairs), true
	case []any:
		pairs := make([]Pair, 0, len(t))
		for _, e := range t {
			b, ok := serializeMeta(e)
			if !ok {
				return nil, false
			}
			pairs = append(pairs, Pair{K: string(b), V: ""})
		}
		return AppendMap(nil, pairs), true
	}
	return nil, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Protobuf wire form (protobuf.dev/programming-guides/encoding) of
// envoy.config.core.v3.Metadata{filter_metadata: map<string, Struct> = 1}
// and google.protobuf.Struct/Value/ListValue (struct.proto). Map entries
// are written in key order, which any parser accepts.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
)

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendMetadata(b []byte, md *config.Metadata) []byte {
	for _, ns := range sortedKeys(md.FilterMetadata) {
		var entry []byte
		entry = appendBytesField(entry, 1, []byte(ns))
		entry = appendBytesField(entry, 2, appendStruct(nil, md.FilterMetadata[ns]))
		b = appendBytesField(b, 1, entry)
	}
	return b
}

// appendStruct writes Struct{fields: map<string, Value> = 1}.
func appendStruct(b []byte, obj map[string]any) []byte {
	for _, k := range sortedKeys(obj) {
		var entry []byte
		entry = appendBytesField(entry, 1, []byte(k))
		entry = appendBytesField(entry, 2, appendValue(nil, obj[k]))
		b = appendBytesField(b, 1, entry)
	}
	return b
}

// appendValue writes Value{null_value = 1; number_value = 2; string_value
// = 3; bool_value = 4; struct_value = 5; list_value = 6}.
func appendValue(b []byte, v any) []byte {
	switch t := v.(type) {
	case nil:
		b = appendTag(b, 1, wireVarint)
		return append(b, 0)
	case float64:
		b = appendTag(b, 2, wireFixed64)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(t))
	case string:
		return appendBytesField(b, 3, []byte(t))
	case bool:
		b = appendTag(b, 4, wireVarint)
		if t {
			return append(b, 1)
		}
		return append(b, 0)
	case map[string]any:
		return appendBytesField(b, 5, appendStruct(nil, t))
	case []any:
		var list []byte
		for _, e := range t {
			list = appendBytesField(list, 1, appendValue(nil, e)) // ListValue{values = 1}
		}
		return appendBytesField(b, 6, list)
	}
	return b
}
