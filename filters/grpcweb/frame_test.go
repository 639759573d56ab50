package grpcweb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/iotest"
)

func TestTrailerFrame(t *testing.T) {
	got := appendTrailerFrame([]byte{0, 0, 0, 0, 1, 'x'}, http.Header{
		"Grpc-Status":  {"3"},
		"Grpc-Message": {"bad%20name"},
		"X-Multi":      {"a", "b"},
	})
	block := "grpc-message: bad%20name\r\ngrpc-status: 3\r\nx-multi: a\r\nx-multi: b\r\n"
	want := append([]byte{0, 0, 0, 0, 1, 'x', 0x80, 0, 0, 0, byte(len(block))}, block...)
	if !bytes.Equal(got, want) {
		t.Errorf("frame\n%q\nwant\n%q", got, want)
	}
}

// chunked reads src in pieces of the given sizes, cycling.
type chunked struct {
	src   []byte
	sizes []int
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = max(c.sizes[c.i%len(c.sizes)], 0)
		c.i++
	}
	n = min(n, len(p), len(c.src))
	copy(p, c.src[:n])
	c.src = c.src[n:]
	return n, nil
}

func readText(src io.Reader) ([]byte, error) {
	return io.ReadAll(newTextReader(io.NopCloser(src)))
}

func TestTextReader(t *testing.T) {
	msg := []byte("\x00\x00\x00\x00\x05hello, and more bytes than one quantum")
	// One base64 string, and several padded pieces (a client may flush
	// each message on its own), in reads of every awkward size.
	pieces := base64.StdEncoding.EncodeToString(msg[:5]) + base64.StdEncoding.EncodeToString(msg[5:6]) + base64.StdEncoding.EncodeToString(msg[6:])
	for _, enc := range []string{base64.StdEncoding.EncodeToString(msg), pieces} {
		for _, sizes := range [][]int{{1}, {2}, {3}, {5}, {7, 1}, {4096}, {0, 1, 0, 2}} {
			got, err := readText(&chunked{src: []byte(enc), sizes: sizes})
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%q in reads of %v: %q, %v", enc, sizes, got, err)
			}
		}
		if got, err := readText(iotest.OneByteReader(bytes.NewReader([]byte(enc)))); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("one byte at a time: %q, %v", got, err)
		}
		if got, err := decodeText([]byte(enc)); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("decodeText: %q, %v", got, err)
		}
	}
	for in, want := range map[string]error{
		"AAAAAQ":       errShortText,
		"AAAA\nAAA":    errBadText,
		"AA=A":         errBadText,
		"A===":         errBadText,
		"AAAA AAA":     errBadText,
		"AAAA-_AA":     errBadText, // URL alphabet
		"====":         errBadText,
		"QQ==QQ==QQ=":  errShortText,
		"QQ==QUI=QUJD": nil,
	} {
		_, err := readText(&chunked{src: []byte(in), sizes: []int{3}})
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
		if _, err := decodeText([]byte(in)); !errors.Is(err, want) {
			t.Errorf("decodeText(%q): %v, want %v", in, err, want)
		}
	}
}

// reference decodes quantum by quantum with the standard decoder: what
// textReader must agree with, whatever the reads.
func reference(b []byte) ([]byte, error) {
	if len(b)%4 != 0 {
		return nil, errShortText
	}
	var out []byte
	for i := 0; i < len(b); i += 4 {
		q := b[i : i+4]
		if !alphabet[q[0]] || !alphabet[q[1]] || !alphabet[q[2]] || !alphabet[q[3]] {
			return nil, errBadText
		}
		d, err := base64.StdEncoding.DecodeString(string(q))
		if err != nil {
			return nil, errBadText
		}
		out = append(out, d...)
	}
	return out, nil
}

// FuzzTextReader: any bytes, split into reads of any sizes, decode as the
// quantum-by-quantum reference does, or fail as it does; and any data
// sent as padded pieces comes back whole.
func FuzzTextReader(f *testing.F) {
	f.Add([]byte("AAAAAAVoZWxsbw=="), []byte{1, 3}, []byte("x"), uint8(2))
	f.Add([]byte("QQ==QUI="), []byte{5}, []byte{}, uint8(0))
	f.Add([]byte("AA\r\nAA"), []byte{2}, []byte("\x00\x01\x02\x03"), uint8(1))
	f.Fuzz(func(t *testing.T, in, splits, data []byte, cut uint8) {
		sizes := make([]int, len(splits))
		for i, s := range splits {
			sizes[i] = int(s % 64)
		}
		sizes = append(sizes, 1) // reads of 0 bytes only would never end
		want, werr := reference(in)
		got, err := readText(&chunked{src: in, sizes: sizes})
		if (err != nil) != (werr != nil) || (err == nil && !bytes.Equal(got, want)) {
			t.Fatalf("%q in reads of %v: %q, %v; reference %q, %v", in, sizes, got, err, want, werr)
		}
		if whole, err := decodeText(in); (err != nil) != (werr != nil) || (err == nil && !bytes.Equal(whole, want)) {
			t.Fatalf("decodeText(%q): %q, %v; reference %q, %v", in, whole, err, want, werr)
		}
		c := int(cut) % (len(data) + 1)
		enc := base64.StdEncoding.EncodeToString(data[:c]) + base64.StdEncoding.EncodeToString(data[c:])
		if got, err := readText(&chunked{src: []byte(enc), sizes: sizes}); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%q (as %q) came back as %q, %v", data, enc, got, err)
		}
	})
}
