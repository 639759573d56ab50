package wasmrt

import (
	"encoding/binary"
	"errors"
)

// ImportsModule reports whether the binary module code imports anything
// from module, reading only its import section: what a caller needs to
// know before compiling (a compile can take seconds). A malformed module
// reports false with an error; the compile will say more.
func ImportsModule(code []byte, module string) (bool, error) {
	r := byteReader{b: code}
	if magic := r.bytes(8); r.err != nil || string(magic[:4]) != "\x00asm" {
		return false, errors.New("not a WebAssembly binary module")
	}
	for len(r.b) > 0 && r.err == nil {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			break
		}
		if id != 2 { // the import section
			continue
		}
		s := byteReader{b: body}
		for n := s.u32(); n > 0 && s.err == nil; n-- {
			mod := string(s.bytes(int(s.u32())))
			s.bytes(int(s.u32())) // the field name
			if mod == module && s.err == nil {
				return true, nil
			}
			switch s.byte() {
			case 0: // function: a type index
				s.u32()
			case 1: // table: a reference type, limits
				s.byte()
				s.limits()
			case 2: // memory: limits
				s.limits()
			case 3: // global: a value type, mutability
				s.byte()
				s.byte()
			default:
				s.err = errors.New("unknown import kind")
			}
		}
		return false, s.err
	}
	return false, r.err
}

type byteReader struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated module")

func (r *byteReader) byte() byte {
	if len(r.b) == 0 {
		r.err = errTruncated
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.err = errTruncated
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *byteReader) u32() uint32 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<32-1 {
		r.err = errTruncated
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return uint32(v)
}

// limits reads a table's or memory's limits (flags, min, max if flag bit
// 0; a 64-bit memory's are still LEB128).
func (r *byteReader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}
