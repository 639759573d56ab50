// Package fastyaml parses the subset of YAML that config files are written
// in into the same yaml.Node tree go.yaml.in/yaml/v3 builds, several times
// faster: at 10,000 routes yaml.v3's parse was two thirds of a reload.
//
// The subset: one document (an optional leading "---"), a block mapping at
// its top; block mappings and sequences (a sequence may sit at its parent
// key's indentation, and "- " may hold a mapping or a sequence on its own
// line); plain, single- and double-quoted scalars on one line; flow
// sequences and mappings of those on one line; comments. Parse refuses
// anything else (anchors, aliases, tags, block scalars, multi-line scalars
// and flow collections, complex keys, tabs, directives, a second document,
// a byte order mark, characters YAML refuses) and everything it is not
// sure of, and the caller then parses with yaml.v3, so that errors,
// positions and semantics stay the library's. Comments are not kept: no
// config code reads them.
package fastyaml

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds nesting well below yaml.v3's own limit (10,000), past
// which it fails where a parser without a limit would not.
const maxDepth = 1000

// maxKey is below the 1,024 characters libyaml allows a key on one line.
const maxKey = 1000

// refuse is panicked with, and recovered in Parse, when the input leaves
// the subset.
type refuse struct{}

// Parse returns the document node of src, as yaml.v3's Decoder.Decode
// into a yaml.Node would (comments aside), and true; or false if src is
// not in the subset, and then nothing of it is to be trusted. A bug that
// panics here gives false too: yaml.v3 then parses, and a reload does
// not take the gateway down.
func Parse(src []byte) (doc *yaml.Node, ok bool) {
	defer func() {
		if recover() != nil {
			doc, ok = nil, false
		}
	}()
	return parse(src)
}

// parse is Parse for tests, which lets a panic other than refuse through.
func parse(src []byte) (doc *yaml.Node, ok bool) {
	ascii, good := checkChars(src)
	if !good {
		return nil, false
	}
	p := &parser{src: src, line: 1, ascii: ascii}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(refuse); !is {
				panic(r)
			}
			doc, ok = nil, false
		}
	}()
	return p.document(), true
}

// checkChars reports whether src holds only what YAML's reader accepts
// and this parser handles (no tab, no carriage return but before a line
// feed, no NEL or line and paragraph separators, which YAML reads as line
// breaks, no byte order mark), and whether it is all ASCII, so that
// columns are byte offsets.
func checkChars(src []byte) (ascii, ok bool) {
	ascii = true
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 || c == 0x7f) && c != '\n' && (c != '\r' || i+1 >= len(src) || src[i+1] != '\n') {
				return false, false
			}
			i++
			continue
		}
		ascii = false
		r, size := utf8.DecodeRune(src[i:])
		if (r == utf8.RuneError && size <= 1) || r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff {
			return false, false
		}
		i += size
	}
	return ascii, true
}

type parser struct {
	src       []byte
	pos       int // the next byte to read
	line      int // the line of pos, from 1
	lineStart int // where that line starts
	ascii     bool
	depth     int

	colAt, colRunes int // col's last position, and its characters from its line's start

	nodes []yaml.Node  // allocated in blocks: a tree is garbage as a whole
	ptrs  []*yaml.Node // the same for Content slices
	kids  []*yaml.Node // children of the collections being read, a stack
	strs  [1024]string
	buf   []byte // a double-quoted scalar's unescaped value
}

func (p *parser) fail() { panic(refuse{}) }

func (p *parser) node(kind yaml.Kind, tag string, line, col int) *yaml.Node {
	if len(p.nodes) == 0 {
		p.nodes = make([]yaml.Node, 64)
	}
	n := &p.nodes[0]
	p.nodes = p.nodes[1:]
	n.Kind, n.Tag, n.Line, n.Column = kind, tag, line, col
	return n
}

// content moves the children pushed since mark into n.Content.
func (p *parser) content(n *yaml.Node, mark int) {
	k := len(p.kids) - mark
	if k == 0 {
		return
	}
	if len(p.ptrs) < k {
		p.ptrs = make([]*yaml.Node, max(k, 512))
	}
	n.Content = p.ptrs[:k:k]
	p.ptrs = p.ptrs[k:]
	copy(n.Content, p.kids[mark:])
	clear(p.kids[mark:])
	p.kids = p.kids[:mark]
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail()
	}
}

// str returns b as a string, one string for repeated short texts (keys,
// mostly), remembered in a small cache indexed by a hash of the text: a
// map costs more than it saves.
func (p *parser) str(b []byte) string {
	if len(b) > 32 || len(b) == 0 {
		return string(b)
	}
	h := uint32(len(b))
	for _, c := range b {
		h = h*31 + uint32(c)
	}
	slot := &p.strs[h%uint32(len(p.strs))]
	if *slot == string(b) {
		return *slot
	}
	*slot = string(b)
	return *slot
}

// col is the column of src[i], on the current line, in characters from 1
// as YAML counts them.
func (p *parser) col(i int) int {
	if p.ascii {
		return i - p.lineStart + 1
	}
	// Nodes on a line are read left to right: count from the last one, or
	// a long line of non-ASCII flow items would take quadratic time.
	if p.colAt < p.lineStart || p.colAt > i {
		p.colAt, p.colRunes = p.lineStart, 0
	}
	p.colRunes += utf8.RuneCount(p.src[p.colAt:i])
	p.colAt = i
	return p.colRunes + 1
}

func (p *parser) eol(i int) bool {
	return i >= len(p.src) || p.src[i] == '\n' || p.src[i] == '\r'
}

func (p *parser) blank(i int) bool { return p.eol(i) || p.src[i] == ' ' }

func (p *parser) spaces(i int) int {
	for i < len(p.src) && p.src[i] == ' ' {
		i++
	}
	return i
}

func (p *parser) nextLine() {
	i := bytes.IndexByte(p.src[p.pos:], '\n')
	if i < 0 {
		p.pos = len(p.src)
		p.lineStart = p.pos
		return
	}
	p.pos += i + 1
	p.lineStart = p.pos
	p.line++
}

// next skips to the next line that holds a node, leaving pos at its first
// character, and returns its indentation, or -1 at the end of the input.
// A document marker there is refused.
func (p *parser) next() int {
	ind := p.skip()
	if ind == 0 && p.marker(p.pos) {
		p.fail()
	}
	return ind
}

// skip is next without the check for a document marker.
func (p *parser) skip() int {
	for {
		if p.pos >= len(p.src) {
			return -1
		}
		i := p.spaces(p.pos)
		if p.eol(i) || p.src[i] == '#' {
			p.pos = i
			p.nextLine()
			continue
		}
		p.pos = i
		return i - p.lineStart
	}
}

// marker reports whether a document marker ("---" or "...") starts at i.
func (p *parser) marker(i int) bool {
	if i+3 > len(p.src) || !p.blank(i+3) {
		return false
	}
	m := p.src[i : i+3]
	return string(m) == "---" || string(m) == "..."
}

// endLine accepts only blanks and a comment after a node, and moves to the
// next line.
func (p *parser) endLine() {
	i := p.spaces(p.pos)
	if !p.eol(i) && (p.src[i] != '#' || i == p.pos) {
		p.fail()
	}
	p.pos = i
	p.nextLine()
}

func (p *parser) document() *yaml.Node {
	ind := p.skip()
	if ind < 0 {
		p.fail()
	}
	var doc *yaml.Node
	if ind == 0 && p.marker(p.pos) {
		if p.src[p.pos] != '-' {
			p.fail() // "... a: b" ends a document before its content
		}
		doc = p.node(yaml.DocumentNode, "", p.line, 1)
		p.pos += 3
		p.endLine()
		if ind = p.next(); ind < 0 {
			p.fail()
		}
	}
	if !p.isKey(p.pos) {
		p.fail()
	}
	if doc == nil {
		doc = p.node(yaml.DocumentNode, "", p.line, p.col(p.pos))
	}
	root := p.mapping(ind)
	if p.next() >= 0 {
		p.fail()
	}
	doc.Content = []*yaml.Node{root}
	return doc
}

// blockNode reads the node that starts the current line, at indentation
// ind, the value of an entry at indentation parent.
func (p *parser) blockNode(ind, parent int) *yaml.Node {
	switch {
	case p.isEntry(p.pos):
		return p.sequence(ind)
	case p.isKey(p.pos):
		return p.mapping(ind)
	}
	n := p.inline(false)
	p.endLine()
	if p.next() > parent {
		p.fail() // a multi-line scalar, or an error
	}
	return n
}

// isEntry reports whether a block sequence entry ("- ") starts at i.
func (p *parser) isEntry(i int) bool {
	return p.src[i] == '-' && p.blank(i+1)
}

// isKey reports whether a block mapping entry ("key: ") starts at i.
func (p *parser) isKey(i int) bool {
	switch c := p.src[i]; c {
	case '\'', '"':
		end, ok := p.quotedEnd(i)
		return ok && end-i <= maxKey && end < len(p.src) && p.src[end] == ':' && p.blank(end+1)
	default:
		if !p.plainStart(i, false) {
			return false
		}
		end, stop := p.plainEnd(i, false)
		return stop == ':' && end-i <= maxKey
	}
}

// mapping reads a block mapping whose first key is at pos, at indentation
// ind; its other keys start lines at that indentation.
func (p *parser) mapping(ind int) *yaml.Node {
	p.enter()
	m := p.node(yaml.MappingNode, "!!map", p.line, p.col(p.pos))
	mark := len(p.kids)
	for {
		key := p.key()
		p.kids = append(p.kids, key)
		// pos is just past the ':'.
		colonLine, colonCol := p.line, p.col(p.pos)
		i := p.spaces(p.pos)
		var val *yaml.Node
		if p.eol(i) || p.src[i] == '#' {
			p.pos = i
			p.nextLine()
			next := p.next()
			switch {
			case next > ind:
				val = p.blockNode(next, ind)
			case next == ind && p.isEntry(p.pos):
				val = p.sequence(ind)
			default:
				val = p.node(yaml.ScalarNode, "!!null", colonLine, colonCol)
			}
		} else {
			p.pos = i
			val = p.inline(false)
			p.endLine()
			if p.next() > ind {
				p.fail()
			}
		}
		p.kids = append(p.kids, val)
		next := p.indent()
		if next < ind {
			break
		}
		if next > ind || !p.isKey(p.pos) {
			p.fail()
		}
	}
	p.content(m, mark)
	p.depth--
	return m
}

// indent is the indentation of the line pos is on (pos at its first
// character, after next), or -1 at the end of the input.
func (p *parser) indent() int {
	if p.pos >= len(p.src) {
		return -1
	}
	return p.pos - p.lineStart
}

// key reads a block mapping key and its ':'.
func (p *parser) key() *yaml.Node {
	if !p.isKey(p.pos) {
		p.fail()
	}
	k := p.scalar(false)
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		p.fail()
	}
	p.pos++
	return k
}

// sequence reads a block sequence whose first entry is at pos, at
// indentation ind; its other entries start lines at that indentation.
func (p *parser) sequence(ind int) *yaml.Node {
	p.enter()
	s := p.node(yaml.SequenceNode, "!!seq", p.line, p.col(p.pos))
	mark := len(p.kids)
	for {
		// pos is at the '-'.
		dashLine, dashCol := p.line, p.col(p.pos)
		i := p.spaces(p.pos + 1)
		var item *yaml.Node
		switch {
		case p.eol(i) || p.src[i] == '#':
			p.pos = i
			p.nextLine()
			next := p.next()
			if next > ind {
				item = p.blockNode(next, ind)
			} else {
				item = p.node(yaml.ScalarNode, "!!null", dashLine, dashCol+1)
			}
		case p.isEntry(i):
			p.pos = i
			item = p.sequence(p.col(i) - 1)
			if p.indent() > ind {
				p.fail()
			}
		case p.isKey(i):
			p.pos = i
			item = p.mapping(p.col(i) - 1)
			if p.indent() > ind {
				p.fail()
			}
		default:
			p.pos = i
			item = p.inline(false)
			p.endLine()
			if p.next() > ind {
				p.fail()
			}
		}
		p.kids = append(p.kids, item)
		if p.indent() != ind || !p.isEntry(p.pos) {
			break // the caller judges the line
		}
	}
	p.content(s, mark)
	p.depth--
	return s
}

// inline reads a scalar or a flow collection at pos.
func (p *parser) inline(flow bool) *yaml.Node {
	switch p.src[p.pos] {
	case '[':
		return p.flowSequence()
	case '{':
		return p.flowMapping()
	}
	n := p.scalar(flow)
	if p.pos < len(p.src) && p.src[p.pos] == ':' {
		p.fail() // "a: b: c", or a single-pair mapping in a flow sequence
	}
	return n
}

// scalar reads a plain or quoted scalar at pos, leaving pos just past it
// (past a plain scalar's last non-blank character).
func (p *parser) scalar(flow bool) *yaml.Node {
	start := p.pos
	line, col := p.line, p.col(start)
	switch p.src[start] {
	case '\'':
		end, ok := p.quotedEnd(start)
		if !ok {
			p.fail()
		}
		n := p.node(yaml.ScalarNode, "!!str", line, col)
		n.Style = yaml.SingleQuotedStyle
		n.Value = p.single(start+1, end-1)
		p.pos = end
		return n
	case '"':
		end, ok := p.quotedEnd(start)
		if !ok {
			p.fail()
		}
		n := p.node(yaml.ScalarNode, "!!str", line, col)
		n.Style = yaml.DoubleQuotedStyle
		n.Value = p.double(start+1, end-1)
		p.pos = end
		return n
	}
	if !p.plainStart(start, flow) {
		p.fail()
	}
	end, _ := p.plainEnd(start, flow)
	if end == start {
		p.fail()
	}
	value := p.str(p.src[start:end])
	tag := resolve(value)
	if tag == "" {
		p.fail()
	}
	n := p.node(yaml.ScalarNode, tag, line, col)
	n.Value = value
	p.pos = end
	return n
}

// plainStart reports whether a plain scalar may start at i: not at an
// indicator, but for '-' before a letter, digit or '.' (-1, -a).
func (p *parser) plainStart(i int, flow bool) bool {
	switch p.src[i] {
	case '-':
		if i+1 >= len(p.src) {
			return false
		}
		c := p.src[i+1]
		return c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	case '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\n', '\r':
		return false
	}
	return true
}

// plainEnd finds the end of the one-line plain scalar starting at i (its
// last non-blank character, exclusive) and what stopped it: ':' (a key's),
// 0 (the end of the line, or a comment), or in a flow collection ',', ']'
// or '}'. Anything else it refuses, as it does a ':' inside a plain
// scalar of a flow collection but before a letter, digit or one of "/.-_"
// (scopes: [orders:read]).
func (p *parser) plainEnd(i int, flow bool) (end int, stop byte) {
	src := p.src
	for {
		if p.eol(i) {
			return i, 0
		}
		switch c := src[i]; c {
		case ':':
			if p.blank(i + 1) {
				if i > 0 && src[i-1] == ' ' {
					p.fail() // "key : value"
				}
				return i, ':'
			}
			if flow && !wordByte(src[i+1]) {
				p.fail()
			}
		case ' ':
			j := p.spaces(i)
			if p.eol(j) || src[j] == '#' {
				return i, 0
			}
			if flow && (src[j] == ',' || src[j] == ']' || src[j] == '}') {
				return i, src[j]
			}
			i = j
			continue
		case ',', ']', '}':
			if flow {
				return i, c
			}
		case '[', '{', '?':
			if flow {
				p.fail()
			}
		}
		i++
	}
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '-' || c == '_'
}

// quotedEnd finds the end (just past the closing quote) of the quoted
// scalar starting at i, which must close on its line.
func (p *parser) quotedEnd(i int) (int, bool) {
	src := p.src
	q := src[i]
	for i++; !p.eol(i); i++ {
		switch src[i] {
		case q:
			if q == '\'' && i+1 < len(src) && src[i+1] == '\'' {
				i++
				continue
			}
			return i + 1, true
		case '\\':
			if q == '"' {
				if p.eol(i + 1) {
					return 0, false // an escaped line break: a multi-line scalar
				}
				i++ // the escaped character
			}
		}
	}
	return 0, false
}

func (p *parser) single(from, to int) string {
	b := p.src[from:to]
	if bytes.IndexByte(b, '\'') < 0 {
		return p.str(b)
	}
	return strings.ReplaceAll(string(b), "''", "'")
}

func (p *parser) double(from, to int) string {
	b := p.src[from:to]
	if bytes.IndexByte(b, '\\') < 0 {
		return p.str(b)
	}
	out := p.buf[:0]
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			p.fail()
		}
		digits := 0
		switch b[i] {
		case '0':
			out = append(out, 0)
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'v':
			out = append(out, '\v')
		case 'f':
			out = append(out, '\f')
		case 'r':
			out = append(out, '\r')
		case 'e':
			out = append(out, 0x1b)
		case ' ', '"', '\'', '\\':
			out = append(out, b[i])
		case 'N':
			out = utf8.AppendRune(out, 0x85)
		case '_':
			out = utf8.AppendRune(out, 0xa0)
		case 'L':
			out = utf8.AppendRune(out, 0x2028)
		case 'P':
			out = utf8.AppendRune(out, 0x2029)
		case 'x':
			digits = 2
		case 'u':
			digits = 4
		case 'U':
			digits = 8
		default:
			p.fail() // yaml.v3 knows no other escape ("\/" included)
		}
		if digits == 0 {
			continue
		}
		if i+digits >= len(b) {
			p.fail()
		}
		code := 0
		for _, h := range b[i+1 : i+1+digits] {
			var d int
			switch {
			case h >= '0' && h <= '9':
				d = int(h - '0')
			case h >= 'a' && h <= 'f':
				d = int(h-'a') + 10
			case h >= 'A' && h <= 'F':
				d = int(h-'A') + 10
			default:
				p.fail()
			}
			code = code<<4 | d
		}
		if code >= 0xd800 && code <= 0xdfff || code > 0x10ffff {
			p.fail()
		}
		out = utf8.AppendRune(out, rune(code))
		i += digits
	}
	p.buf = out
	return p.str(out)
}

// flowSequence reads "[a, b]" on one line.
func (p *parser) flowSequence() *yaml.Node {
	p.enter()
	s := p.node(yaml.SequenceNode, "!!seq", p.line, p.col(p.pos))
	s.Style = yaml.FlowStyle
	mark := len(p.kids)
	p.pos = p.spaces(p.pos + 1)
	if p.eol(p.pos) {
		p.fail()
	}
	if p.src[p.pos] != ']' {
		for {
			p.kids = append(p.kids, p.inline(true))
			if p.flowSep(']') {
				break
			}
		}
	}
	p.pos++
	p.content(s, mark)
	p.depth--
	return s
}

// flowMapping reads "{a: 1, b: 2}" on one line.
func (p *parser) flowMapping() *yaml.Node {
	p.enter()
	m := p.node(yaml.MappingNode, "!!map", p.line, p.col(p.pos))
	m.Style = yaml.FlowStyle
	mark := len(p.kids)
	p.pos = p.spaces(p.pos + 1)
	if p.eol(p.pos) {
		p.fail()
	}
	if p.src[p.pos] != '}' {
		for {
			switch p.src[p.pos] {
			case '[', '{':
				p.fail() // a collection as a key
			}
			start := p.pos
			p.kids = append(p.kids, p.scalar(true))
			if p.pos-start > maxKey {
				p.fail() // too long for a key in libyaml
			}
			if p.pos+1 >= len(p.src) || p.src[p.pos] != ':' || p.src[p.pos+1] != ' ' {
				p.fail()
			}
			p.pos = p.spaces(p.pos + 1)
			if p.eol(p.pos) || p.src[p.pos] == ',' || p.src[p.pos] == '}' || p.src[p.pos] == '#' {
				p.fail() // no value, or on another line
			}
			p.kids = append(p.kids, p.inline(true))
			if p.flowSep('}') {
				break
			}
		}
	}
	p.pos++
	p.content(m, mark)
	p.depth--
	return m
}

// flowSep reads what follows an entry of a flow collection: ", " before
// the next entry (false), or the closing bracket (true, pos at it).
func (p *parser) flowSep(closing byte) bool {
	i := p.spaces(p.pos)
	if p.eol(i) {
		p.fail()
	}
	switch p.src[i] {
	case closing:
		p.pos = i
		return true
	case ',':
		i = p.spaces(i + 1)
		if p.eol(i) || p.src[i] == ']' || p.src[i] == '}' || p.src[i] == ',' || p.src[i] == '#' {
			p.fail() // a trailing or empty entry, or a line break
		}
		p.pos = i
		return false
	}
	p.fail()
	return false
}

// resolve is the tag yaml.v3 gives the plain scalar s (never empty), or
// "" if this parser does not decide it (timestamps, odd binary and octal
// forms), and yaml.v3 is to.
func resolve(s string) string {
	switch s[0] {
	case '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return resolveNumber(s)
	case '.':
		switch s {
		case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF":
			return "!!float"
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return "!!float"
		}
	case 't', 'T', 'f', 'F':
		switch s {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		}
	case 'n', 'N', '~':
		switch s {
		case "null", "Null", "NULL", "~":
			return "!!null"
		}
	case '<':
		if s == "<<" {
			return "!!merge"
		}
	}
	return "!!str"
}

// resolveNumber is resolve for what starts with a sign or a digit.
func resolveNumber(s string) string {
	switch s {
	case "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float"
	}
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits == 4 && len(s) > 4 && s[4] == '-' && timestamp(s) {
		return "!!timestamp"
	}
	plain := s
	if strings.IndexByte(s, '_') >= 0 {
		plain = strings.ReplaceAll(s, "_", "")
	}
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return "!!int"
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return "!!int"
	}
	if floatSyntax(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return "!!float"
		}
	}
	for _, prefix := range [...]string{"0b", "-0b", "0o", "-0o"} {
		if strings.HasPrefix(plain, prefix) {
			return "" // yaml.v3 reads a few more of these than Go does
		}
	}
	return "!!str"
}

// timestampLayouts are the forms of the YAML timestamp type yaml.v3 reads
// (not all of them: not "2001-12-14 21:59:43.10 -5").
var timestampLayouts = [...]string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

func timestamp(s string) bool {
	for _, layout := range timestampLayouts {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// floatSyntax reports whether s is a YAML float without the special
// values: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
func floatSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digitsAt := func(j int) int {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(s) && s[i] == '.' {
		j := digitsAt(i + 1)
		if j == i+1 {
			return false
		}
		i = j
	} else {
		j := digitsAt(i)
		if j == i {
			return false
		}
		i = j
		if i < len(s) && s[i] == '.' {
			i = digitsAt(i + 1)
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digitsAt(i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}
