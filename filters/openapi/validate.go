package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// checker validates a JSON document against a compiled schema in one pass
// over its bytes, without decoding it into maps: a value is parsed where
// it is checked, and a value no schema constrains is only scanned. So a
// valid body costs no allocation. anyOf/oneOf/not re-read a value's bytes
// once per branch, quietly. A subtree whose schema uses a keyword the
// compiler leaves to jsonschema is decoded (encoding/json) and handed to it.
type checker struct {
	data     []byte
	path     []seg
	keys     []string // the keys of the objects being read, for duplicates
	problems *problems
	quiet    int // > 0 inside an anyOf/oneOf/not branch: count, do not record
	failed   int // problems found, recorded or not
	syntax   bool
	prefix   string
	scratch  []byte // parameters written as JSON (request.go)
	// Limits, so that no body costs more than its size says: nesting
	// depth, and values visited (anyOf/oneOf branches re-read theirs;
	// recursive schemas with branches could otherwise multiply that).
	depth, work, budget int
	// reason says why the check stopped, when it is not a plain syntax
	// error: a limit, or JSON this checker refuses though a parser might
	// take it (a lone surrogate, a duplicate key). at is where, or "".
	reason, at string
	// direction: readOnly properties must not be sent in a request,
	// writeOnly ones not in a response.
	request bool
}

// seg is one step of the location: an object member's raw key (offsets
// into data, still escaped) or an array index.
type seg struct {
	start, end int
	index      int // -1 for a key
}

var checkers = sync.Pool{New: func() any { return &checker{path: make([]seg, 0, 16)} }}

// validateJSON checks data against s, adding problems under prefix (e.g.
// "/body"). It reports whether data is JSON at all.
func validateJSON(s *schema, data []byte, prefix string, request bool, ps *problems) bool {
	c := checkers.Get().(*checker)
	c.start(data, prefix, request, ps)
	before, dropped := len(ps.list), ps.dropped
	i := c.value(s, ws(data, 0))
	if !c.syntax && ws(data, i) != len(data) {
		c.syntax = true
	}
	ok := !c.syntax
	if c.syntax {
		// What was found before the error says little: only the error.
		ps.list, ps.dropped = ps.list[:before], dropped
		switch {
		case c.reason != "" && c.at != "":
			ps.add(c.at, c.reason)
		case c.reason != "":
			ps.add(prefix, c.reason)
		default:
			ps.add(prefix, "not valid JSON")
		}
	}
	c.release()
	return ok
}

const maxDepth = 512

func (c *checker) start(data []byte, prefix string, request bool, ps *problems) {
	c.data, c.problems, c.prefix, c.request = data, ps, prefix, request
	c.path, c.keys, c.quiet, c.failed, c.syntax = c.path[:0], c.keys[:0], 0, 0, false
	c.depth, c.work, c.budget, c.reason, c.at = 0, 0, 64*len(data)+1024, "", ""
}

// release returns the checker to its pool, keeping no reference to the
// data (keys alias it).
func (c *checker) release() {
	clear(c.keys[:cap(c.keys)])
	c.data, c.problems = nil, nil
	checkers.Put(c)
}

// prefix is kept beside the checker's fields for location strings.
func (c *checker) fail(msg string) {
	c.failed++
	if c.quiet > 0 {
		return
	}
	c.problems.addAt(c, msg)
}

func ws(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// value checks the value starting at i against s (nil: anything) and
// returns the index after it. A syntax error sets c.syntax and returns
// len(data).
func (c *checker) value(s *schema, i int) int {
	d := c.data
	if i >= len(d) {
		c.syntax = true
		return len(d)
	}
	if c.work++; c.work > c.budget {
		c.reason = "too complex to validate: its schema's branches re-read it too often"
		c.syntax = true
		return len(d)
	}
	if s == nil {
		return c.skip(i)
	}
	if s.fallback != nil {
		return c.viaFallback(s, i)
	}
	if s.falseSchema {
		c.fail("no value is allowed here")
		return c.skip(i)
	}
	var t jsonType
	end := 0
	switch b := d[i]; {
	case b == '{':
		t = tObject
		if s.types != 0 && s.types&tObject == 0 {
			c.wrongType(s, t)
			return c.skip(i)
		}
		if c.depth++; c.depth > maxDepth {
			c.reason = "nested deeper than " + strconv.Itoa(maxDepth) + " levels"
			c.syntax = true
			return len(d)
		}
		end = c.object(s, i)
		c.depth--
	case b == '[':
		t = tArray
		if s.types != 0 && s.types&tArray == 0 {
			c.wrongType(s, t)
			return c.skip(i)
		}
		if c.depth++; c.depth > maxDepth {
			c.reason = "nested deeper than " + strconv.Itoa(maxDepth) + " levels"
			c.syntax = true
			return len(d)
		}
		end = c.array(s, i)
		c.depth--
	case b == '"':
		t = tString
		var str string
		var esc bool
		end, str, esc = c.str(i)
		if c.syntax {
			return end
		}
		if s.types != 0 && s.types&tString == 0 {
			c.wrongType(s, t)
			return end
		}
		if s.needString || s.enumStrs != nil {
			if esc {
				str = unescape(d[i:end])
			}
			c.checkString(s, str)
		}
	case b == 't' || b == 'f' || b == 'n':
		lit, ty := "null", tNull
		if b == 't' {
			lit, ty = "true", tBool
		} else if b == 'f' {
			lit, ty = "false", tBool
		}
		if !bytes.HasPrefix(d[i:], []byte(lit)) {
			c.syntax = true
			return len(d)
		}
		end, t = i+len(lit), ty
		if s.types != 0 && s.types&t == 0 {
			c.wrongType(s, t)
			return end
		}
	default:
		var f float64
		var isInt bool
		end, f, isInt = c.number(i)
		lit := d[i:end]
		if c.syntax {
			return end
		}
		t = tNumber
		if isInt {
			t |= tInteger
		}
		if s.types != 0 && s.types&t == 0 {
			c.wrongType(s, t)
			return end
		}
		if s.needNumber {
			c.checkNumber(s, f, lit)
		}
	}
	if c.syntax {
		return end
	}
	if (s.enum != nil && s.enumStrs == nil) || s.hasConst {
		c.checkEnum(s, i, end, t)
	} else if s.enum != nil && t != tString {
		c.fail("must be one of " + enumList(s.enum))
	}
	c.combinators(s, i)
	return end
}

func (c *checker) combinators(s *schema, i int) {
	for _, a := range s.allOf {
		c.value(a, i)
	}
	if len(s.anyOf) > 0 {
		ok := false
		for _, a := range s.anyOf {
			if c.trial(a, i) {
				ok = true
				break
			}
		}
		if !ok {
			c.fail("must match at least one of the schemas in anyOf")
		}
	}
	if len(s.oneOf) > 0 {
		n := 0
		for _, a := range s.oneOf {
			if c.trial(a, i) {
				n++
			}
		}
		switch {
		case n == 0:
			c.fail("must match exactly one of the schemas in oneOf; it matches none")
		case n > 1:
			c.fail("must match exactly one of the schemas in oneOf; it matches " + strconv.Itoa(n))
		}
	}
	if s.not != nil && c.trial(s.not, i) {
		c.fail("must not match the schema in not")
	}
}

// trial checks the value at i against s without recording problems.
func (c *checker) trial(s *schema, i int) bool {
	before := c.failed
	c.quiet++
	c.value(s, i)
	c.quiet--
	ok := c.failed == before
	c.failed = before
	return ok
}

func (c *checker) wrongType(s *schema, got jsonType) {
	name := "number"
	switch {
	case got&tInteger != 0:
		name = "integer"
	case got == tNull:
		name = "null"
	case got == tBool:
		name = "boolean"
	case got == tString:
		name = "string"
	case got == tArray:
		name = "array"
	case got == tObject:
		name = "object"
	}
	c.fail("must be " + s.types.String() + ", not " + name)
}

func (c *checker) object(s *schema, i int) int {
	d := c.data
	i = ws(d, i+1)
	var seen uint64
	var seenMore []bool
	if len(s.required) > 64 {
		seenMore = make([]bool, len(s.required))
	}
	n := 0
	base := len(c.keys)
	defer func() { c.keys = c.keys[:base] }()
	var set map[string]struct{}
	if i < len(d) && d[i] == '}' {
		i++
	} else {
		for {
			if i >= len(d) || d[i] != '"' {
				c.syntax = true
				return len(d)
			}
			ks := i + 1
			end, key, esc := c.str(i)
			if c.syntax {
				return end
			}
			ke := end - 1
			if esc {
				key = unescape(d[i:end])
			}
			i = ws(d, end)
			if i >= len(d) || d[i] != ':' {
				c.syntax = true
				return len(d)
			}
			i = ws(d, i+1)
			n++
			if c.repeated(base, &set, key) {
				c.syntax = true
				c.reason = "property " + quoteCapped(key, 64) + " appears more than once"
				c.at = c.location()
				return len(d)
			}
			if ri, ok := s.requiredIndex[key]; ok {
				if seenMore != nil {
					seenMore[ri] = true
				} else {
					seen |= 1 << ri
				}
			}
			sub, known := s.props[key]
			c.path = append(c.path, seg{start: ks, end: ke, index: -1})
			switch {
			case known:
				if sub != nil && ((c.request && sub.readOnly) || (!c.request && sub.writeOnly)) {
					if c.request {
						c.fail("is read-only; a request must not send it")
					} else {
						c.fail("is write-only; a response must not send it")
					}
				}
				i = c.value(sub, i)
			case s.noAdditional:
				c.fail("is not a property this object allows")
				i = c.skip(i)
			default:
				i = c.value(s.additional, i)
			}
			c.path = c.path[:len(c.path)-1]
			if c.syntax {
				return len(d)
			}
			i = ws(d, i)
			if i < len(d) && d[i] == ',' {
				i = ws(d, i+1)
				continue
			}
			if i < len(d) && d[i] == '}' {
				i++
				break
			}
			c.syntax = true
			return len(d)
		}
	}
	for ri, name := range s.required {
		has := seen&(1<<ri) != 0
		if seenMore != nil {
			has = seenMore[ri]
		}
		if !has {
			c.fail("required property " + strconv.Quote(name) + " is missing")
		}
	}
	if s.minProps >= 0 && n < s.minProps {
		c.fail("must have at least " + strconv.Itoa(s.minProps) + " properties")
	}
	if s.maxProps >= 0 && n > s.maxProps {
		c.fail("must have at most " + strconv.Itoa(s.maxProps) + " properties")
	}
	return i
}

// repeated records key among the keys of the object whose keys start at
// c.keys[base] and reports whether it was there already: a linear scan
// for small objects, a map past 32 keys. A repeated key is refused, not
// checked: encoding/json (and JSON Schema validators on it) keeps the last
// value, many parsers the first, so the value checked need not be the
// value the upstream reads.
func (c *checker) repeated(base int, set *map[string]struct{}, key string) bool {
	if *set != nil {
		if _, ok := (*set)[key]; ok {
			return true
		}
		(*set)[key] = struct{}{}
		return false
	}
	keys := c.keys[base:]
	for _, k := range keys {
		if k == key {
			return true
		}
	}
	if len(keys) == 32 {
		*set = make(map[string]struct{}, 64)
		for _, k := range keys {
			(*set)[k] = struct{}{}
		}
		(*set)[key] = struct{}{}
		return false
	}
	c.keys = append(c.keys, key)
	return false
}

func (c *checker) array(s *schema, i int) int {
	d := c.data
	i = ws(d, i+1)
	n := 0
	if i < len(d) && d[i] == ']' {
		i++
	} else {
		for {
			sub := s.items
			if n < len(s.prefixItems) {
				sub = s.prefixItems[n]
			}
			c.path = append(c.path, seg{index: n})
			i = c.value(sub, i)
			c.path = c.path[:len(c.path)-1]
			n++
			if c.syntax {
				return len(d)
			}
			i = ws(d, i)
			if i < len(d) && d[i] == ',' {
				i = ws(d, i+1)
				continue
			}
			if i < len(d) && d[i] == ']' {
				i++
				break
			}
			c.syntax = true
			return len(d)
		}
	}
	if s.minItems >= 0 && n < s.minItems {
		c.fail("must have at least " + strconv.Itoa(s.minItems) + " items")
	}
	if s.maxItems >= 0 && n > s.maxItems {
		c.fail("must have at most " + strconv.Itoa(s.maxItems) + " items")
	}
	return i
}

// str scans the string at i (d[i] == '"'); it returns the index after
// the closing quote, the contents when they hold no escape (aliasing data,
// valid only while it is checked), and whether there were escapes. Its
// bytes must be UTF-8 and its \u escapes must not leave a surrogate
// alone: encoding/json would read one as U+FFFD where another parser keeps
// it, so the value checked could differ from the one the upstream reads
// (I-JSON, RFC 7493, refuses them too).
func (c *checker) str(i int) (int, string, bool) {
	d := c.data
	esc := false
	for j := i + 1; j < len(d); j++ {
		switch b := d[j]; {
		case b == '"':
			// Escapes are ASCII: the raw bytes are UTF-8 if the text is.
			if !utf8.Valid(d[i+1 : j]) {
				c.syntax = true
				return len(d), "", false
			}
			if esc {
				return j + 1, "", true
			}
			return j + 1, unsafe.String(unsafe.SliceData(d[i+1:j]), j-i-1), false
		case b == '\\':
			esc = true
			j++
			if j >= len(d) {
				break
			}
			switch d[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				r, ok := hex4(d, j+1)
				if !ok {
					c.syntax = true
					return len(d), "", false
				}
				j += 4
				switch {
				case 0xDC00 <= r && r <= 0xDFFF:
					return c.loneSurrogate()
				case 0xD800 <= r && r <= 0xDBFF:
					// The low half must follow at once.
					if j+2 >= len(d) || d[j+1] != '\\' || d[j+2] != 'u' {
						return c.loneSurrogate()
					}
					lo, ok := hex4(d, j+3)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return c.loneSurrogate()
					}
					j += 6
				}
			default:
				c.syntax = true
				return len(d), "", false
			}
		case b < 0x20:
			c.syntax = true
			return len(d), "", false
		}
	}
	c.syntax = true
	return len(d), "", false
}

func (c *checker) loneSurrogate() (int, string, bool) {
	c.syntax = true
	c.reason = "not valid JSON: a \\u escape leaves a UTF-16 surrogate without its pair"
	return len(c.data), "", false
}

// hex4 reads the four hex digits at d[i:i+4].
func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, x := range d[i : i+4] {
		switch {
		case '0' <= x && x <= '9':
			r = r<<4 | rune(x-'0')
		case 'a' <= x && x <= 'f':
			r = r<<4 | rune(x-'a'+10)
		case 'A' <= x && x <= 'F':
			r = r<<4 | rune(x-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape decodes a JSON string literal (quotes included) that str has
// already found well formed.
func unescape(lit []byte) string {
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return string(lit[1 : len(lit)-1])
	}
	return s
}

// scanNumber returns the end of the number at d[i:] per RFC 8259's
// grammar, whether it has a fraction or an exponent, and whether it is
// well formed.
func scanNumber(d []byte, i int) (int, bool, bool) {
	j := i
	if j < len(d) && d[j] == '-' {
		j++
	}
	switch {
	case j < len(d) && d[j] == '0':
		j++
	case j < len(d) && '1' <= d[j] && d[j] <= '9':
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	default:
		return j, false, false
	}
	frac := false
	if j < len(d) && d[j] == '.' {
		frac = true
		j++
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			return j, false, false
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		frac = true
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		k := j
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		if j == k {
			return j, false, false
		}
	}
	return j, frac, true
}

// number scans the number at i and reads its value.
func (c *checker) number(i int) (int, float64, bool) {
	d := c.data
	j, frac, ok := scanNumber(d, i)
	if !ok {
		c.syntax = true
		return len(d), 0, false
	}
	lit := d[i:j]
	if len(lit) > maxNumberLen {
		c.syntax = true
		c.reason = "a number longer than " + strconv.Itoa(maxNumberLen) + " characters"
		return len(d), 0, false
	}
	var f float64
	if !frac && len(lit) < 16 {
		// Small integers, the common case, without ParseFloat.
		var n int64
		for _, x := range lit {
			if x != '-' {
				n = n*10 + int64(x-'0')
			}
		}
		if lit[0] == '-' {
			n = -n
		}
		return j, float64(n), true
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
	if math.IsInf(f, 0) {
		// Beyond float64: most upstreams cannot read it (encoding/json
		// fails to decode it into a float64), and I-JSON excludes it.
		c.syntax = true
		c.reason = "a number out of range: beyond what a 64-bit float holds"
		return len(d), 0, false
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		c.syntax = true
		return len(d), 0, false
	}
	isInt := f == math.Trunc(f)
	if frac && isInt {
		// 2.0000000000000000001 and 2^53+0.5 are whole float64s, not
		// whole numbers.
		isInt = wholeLit(lit)
	}
	return j, f, isInt
}

// skip scans a value nothing constrains, checking only its syntax.
func (c *checker) skip(i int) int {
	return c.value(anything, i)
}

// anything is the schema true.
var anything = &schema{minLength: -1, maxLength: -1, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1}

func (c *checker) checkString(s *schema, str string) {
	if s.minLength >= 0 || s.maxLength >= 0 {
		n := utf8.RuneCountInString(str)
		if s.minLength >= 0 && n < s.minLength {
			c.fail("must be at least " + strconv.Itoa(s.minLength) + " characters long")
		}
		if s.maxLength >= 0 && n > s.maxLength {
			c.fail("must be at most " + strconv.Itoa(s.maxLength) + " characters long")
		}
	}
	if s.pattern != nil && !s.pattern.MatchString(str) {
		c.fail("must match the pattern " + strconv.Quote(s.pattern.String()))
	}
	if s.formatCheck != nil && !s.formatCheck(str) {
		c.fail("must be a valid " + s.format)
	}
	if s.enumStrs != nil {
		for _, e := range s.enumStrs {
			if e == str {
				return
			}
		}
		c.fail("must be one of " + enumList(s.enum))
	}
}

func (c *checker) checkNumber(s *schema, f float64, lit []byte) {
	if s.hasMin && (f < s.minimum || f == s.minimum && cmpExact(lit, s.minR) < 0) {
		c.fail("must be >= " + fmtRat(s.minR))
	}
	if s.hasMax && (f > s.maximum || f == s.maximum && cmpExact(lit, s.maxR) > 0) {
		c.fail("must be <= " + fmtRat(s.maxR))
	}
	if s.hasExMin && (f < s.exMinimum || f == s.exMinimum && cmpExact(lit, s.exMinR) <= 0) {
		c.fail("must be > " + fmtRat(s.exMinR))
	}
	if s.hasExMax && (f > s.exMaximum || f == s.exMaximum && cmpExact(lit, s.exMaxR) >= 0) {
		c.fail("must be < " + fmtRat(s.exMaxR))
	}
	if s.multipleOf > 0 && !multipleOf(f, lit, s) {
		c.fail("must be a multiple of " + fmtRat(s.multR))
	}
}

func fmtNum(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// checkEnum decodes the value (enum and const over non-strings are rare)
// and compares it as JSON values compare.
func (c *checker) checkEnum(s *schema, i, end int, t jsonType) {
	var v any
	if err := json.Unmarshal(c.data[i:end], &v); err != nil {
		c.syntax = true
		return
	}
	if s.hasConst && !jsonEqual(v, s.constV) {
		b, _ := json.Marshal(s.constV)
		c.fail("must be " + string(b))
	}
	if s.enum != nil && s.enumStrs == nil {
		for _, e := range s.enum {
			if jsonEqual(v, e) {
				return
			}
		}
		c.fail("must be one of " + enumList(s.enum))
	}
}

func jsonEqual(a, b any) bool {
	if fa, ok := num(a); ok {
		fb, ok := num(b)
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func enumList(e []any) string {
	parts := make([]string, 0, len(e))
	for _, v := range e {
		b, _ := json.Marshal(v)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, ", ")
}

// viaFallback decodes the value and validates it with jsonschema.
func (c *checker) viaFallback(s *schema, i int) int {
	end := c.skip(i)
	if c.syntax {
		return end
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(c.data[i:end]))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		c.syntax = true
		return len(c.data)
	}
	err := s.fallback.Validate(v)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return end
	}
	if c.quiet > 0 {
		c.failed++
		return end
	}
	for _, leaf := range leaves(ve) {
		c.failed++
		c.problems.addAt(c, leaf.msg, leaf.at...)
	}
	return end
}

type leaf struct {
	at  []string
	msg string
}

func leaves(ve *jsonschema.ValidationError) []leaf {
	if len(ve.Causes) == 0 {
		return []leaf{{at: ve.InstanceLocation, msg: ve.ErrorKind.LocalizedString(printer)}}
	}
	var out []leaf
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}
