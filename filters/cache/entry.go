package cache

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// Entry is one stored response, or, for a response with Vary, the marker
// at its primary key that names the fields which select a variant. An
// entry is never changed once stored: a refresh stores a new one.
type Entry struct {
	Status int
	Header http.Header
	Body   []byte
	// ResponseTime is when the response arrived; InitialAge its corrected
	// initial age (RFC 9111 §4.2.3). Its current age is InitialAge plus
	// the time since ResponseTime.
	ResponseTime time.Time
	InitialAge   time.Duration
	Lifetime     time.Duration // freshness lifetime, §4.2.1
	SWR, SIE     time.Duration // stale-while-revalidate, stale-if-error
	Revalidate   bool          // must-revalidate and its kin: never served stale
	// Vary is set on a marker only: the canonical names of the fields a
	// variant's secondary key is made of.
	Vary []string
}

// age is the entry's current age at now.
func (e *Entry) age(now time.Time) time.Duration {
	return e.InitialAge + max(now.Sub(e.ResponseTime), 0)
}

// size is what the entry costs a store, roughly: its body and header bytes.
func (e *Entry) size() int64 {
	n := int64(len(e.Body)) + 64
	for k, vv := range e.Header {
		n += int64(len(k))
		for _, v := range vv {
			n += int64(len(v)) + 16
		}
	}
	for _, v := range e.Vary {
		n += int64(len(v))
	}
	return n
}

func (e *Entry) etag() string {
	if v := e.Header["Etag"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (e *Entry) lastModified() string {
	if v := e.Header["Last-Modified"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// The encoding an entry has in Redis: a version byte, then varints and
// length-prefixed strings. Small and quick to read, with no reflection.
const entryVersion = 1

var errBadEntry = errors.New("cache entry: bad encoding")

func (e *Entry) marshal() []byte {
	b := make([]byte, 0, e.size()+32)
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, uint64(e.Status))
	b = binary.AppendVarint(b, e.ResponseTime.UnixNano())
	b = binary.AppendVarint(b, int64(e.InitialAge))
	b = binary.AppendVarint(b, int64(e.Lifetime))
	b = binary.AppendVarint(b, int64(e.SWR))
	b = binary.AppendVarint(b, int64(e.SIE))
	rv := byte(0)
	if e.Revalidate {
		rv = 1
	}
	b = append(b, rv)
	b = binary.AppendUvarint(b, uint64(len(e.Vary)))
	for _, v := range e.Vary {
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for k, vv := range e.Header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vv)))
		for _, v := range vv {
			b = appendString(b, v)
		}
	}
	return appendString(b, string(e.Body))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadEntry
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadEntry
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadEntry
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// count reads a count of items each at least one byte long.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errBadEntry
		return 0
	}
	return int(n)
}

func unmarshalEntry(b []byte) (*Entry, error) {
	if len(b) == 0 || b[0] != entryVersion {
		return nil, errBadEntry
	}
	r := &reader{b: b[1:]}
	e := &Entry{Status: int(r.uvarint())}
	e.ResponseTime = time.Unix(0, r.varint())
	e.InitialAge = time.Duration(r.varint())
	e.Lifetime = time.Duration(r.varint())
	e.SWR = time.Duration(r.varint())
	e.SIE = time.Duration(r.varint())
	if len(r.b) == 0 {
		return nil, errBadEntry
	}
	e.Revalidate = r.b[0] == 1
	r.b = r.b[1:]
	if n := r.count(); n > 0 {
		e.Vary = make([]string, n)
		for i := range e.Vary {
			e.Vary[i] = string(r.bytes())
		}
	}
	nh := r.count()
	e.Header = make(http.Header, nh)
	for i := 0; i < nh && r.err == nil; i++ {
		k := string(r.bytes())
		vv := make([]string, r.count())
		for j := range vv {
			vv[j] = string(r.bytes())
		}
		e.Header[k] = vv
	}
	e.Body = r.bytes()
	if r.err != nil || len(r.b) != 0 || e.Status < 100 || e.Status > 999 {
		return nil, errBadEntry
	}
	return e, nil
}
