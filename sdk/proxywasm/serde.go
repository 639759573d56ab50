package proxywasm

import (
	"encoding/binary"
	"math"
)

// Header maps cross the ABI serialized: a little-endian u32 pair count, a
// u32 key size and u32 value size per pair, then every key and value, each
// followed by a NUL byte.

// serBuf is reused by every serialization; the host copies what we pass.
var serBuf []byte

func serializeMap(pairs [][2]string) []byte {
	size := 4
	for _, p := range pairs {
		size += 8 + len(p[0]) + 1 + len(p[1]) + 1
	}
	if cap(serBuf) < size {
		serBuf = make([]byte, size)
	}
	b := serBuf[:size]
	binary.LittleEndian.PutUint32(b, uint32(len(pairs)))
	i := 4
	for _, p := range pairs {
		binary.LittleEndian.PutUint32(b[i:], uint32(len(p[0])))
		binary.LittleEndian.PutUint32(b[i+4:], uint32(len(p[1])))
		i += 8
	}
	for _, p := range pairs {
		i += copy(b[i:], p[0])
		b[i] = 0
		i++
		i += copy(b[i:], p[1])
		b[i] = 0
		i++
	}
	return b
}

// deserializeMap copies the map out of host memory with two allocations:
// one string holding every byte, and the slice of pairs cut from it.
func deserializeMap(b []byte) [][2]string {
	if len(b) < 4 {
		return nil
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n == 0 || n > (len(b)-4)/10 { // each pair takes at least 10 bytes
		return nil
	}
	all := string(b)
	pairs := make([][2]string, n)
	sizes := 4
	data := 4 + 8*n
	for i := range n {
		ks := int(binary.LittleEndian.Uint32(b[sizes:]))
		vs := int(binary.LittleEndian.Uint32(b[sizes+4:]))
		sizes += 8
		if data+ks+1+vs+1 > len(b) {
			return pairs[:i]
		}
		pairs[i][0] = all[data : data+ks]
		data += ks + 1
		pairs[i][1] = all[data : data+vs]
		data += vs + 1
	}
	return pairs
}

// pathBuf is reused for property paths: segments joined by NUL, as the
// upstream SDKs and Envoy expect.
var pathBuf []byte

func serializePath(path []string) []byte {
	b := pathBuf[:0]
	for i, p := range path {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	pathBuf = b
	return b
}

// Buffer edits per the spec: start 0 and size 0 prepends, a start past the
// end appends, start 0 with a size covering the buffer replaces it.
const bufferEnd = math.MaxInt32
