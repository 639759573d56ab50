// Package instrument rewrites a WebAssembly module so that it checks in
// with the host at a bounded rate: every function entry and loop header
// counts down a private global, and when it reaches zero (every Every
// steps) the guest calls the imported function Module.Func. The Wasm host
// (filters/wasm, interrupt.go) uses that call for guest deadlines and as a
// point where the Go scheduler can preempt a spinning guest; this package
// knows nothing of the host, only the binary format.
package instrument

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// Module and Func name the import an instrumented module calls.
	Module = "wasmgate_interrupt"
	Func   = "check"
	// Every is how many function entries and loop iterations run between
	// two checks: at ~1 ns a step, a check every ~10 µs; the check costs
	// ~50 ns, so well under 1% even for the tightest loop.
	Every = 8192
)

// Rewrite rewrites a module so that every function entry (unless a loop
// header comes first: loopFirst) and loop header counts down a private
// global and calls
// Module.Func whenever it reaches zero. The check is an
// import appended after the module's own, so every defined function's
// index moves up by one: calls, ref.func, exports, the start function,
// element segments and the name section are renumbered. DWARF sections
// (code offsets) are dropped. Anything unrecognized is an error.
func Rewrite(code []byte) ([]byte, error) {
	if len(code) < 8 || string(code[:4]) != "\x00asm" || code[4] != 1 || code[5] != 0 || code[6] != 0 || code[7] != 0 {
		return nil, errors.New("not a wasm 1.0 binary")
	}
	type section struct {
		id   byte
		body []byte
	}
	var secs []section
	r := &wreader{b: code, off: 8}
	for r.off < len(code) && r.err == nil {
		id := r.byte()
		n := r.u32()
		secs = append(secs, section{id, r.bytes(int(n))})
	}
	if r.err != nil {
		return nil, r.err
	}
	var (
		nTypes, nImpFuncs, nImpGlobals, nGlobals uint32
		have                                     [14]bool
	)
	for _, s := range secs {
		if s.id > 13 {
			return nil, fmt.Errorf("unknown section %d", s.id)
		}
		have[s.id] = true
		sr := &wreader{b: s.body}
		switch s.id {
		case 1:
			nTypes = sr.u32()
			for i := uint32(0); i < nTypes && sr.err == nil; i++ {
				if sr.byte() != 0x60 {
					return nil, errors.New("type section: only function types are supported")
				}
				for k := 0; k < 2; k++ {
					for n := sr.u32(); n > 0 && sr.err == nil; n-- {
						sr.valtype()
					}
				}
			}
		case 2:
			for n := sr.u32(); n > 0 && sr.err == nil; n-- {
				mod := sr.name()
				sr.name()
				if mod == Module {
					return nil, fmt.Errorf("the module imports from %s", Module)
				}
				switch sr.byte() {
				case 0:
					sr.u32()
					nImpFuncs++
				case 1:
					sr.valtype()
					sr.limits()
				case 2:
					sr.limits()
				case 3:
					sr.valtype()
					sr.byte()
					nImpGlobals++
				case 4:
					sr.byte()
					sr.u32()
				default:
					return nil, errors.New("import section: unknown import kind")
				}
			}
		case 6:
			nGlobals = sr.u32()
		}
		if sr.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, sr.err)
		}
	}
	m := &rewriter{
		nImp:  nImpFuncs,
		fn:    nImpFuncs, // the check: the last import
		glob:  nImpGlobals + nGlobals,
		every: Every,
	}
	m.check = m.checkSequence()

	out := make([]byte, 0, len(code)+len(code)/8+64)
	out = append(out, code[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	// Sections we add when the module has none, by their place in the order.
	order := map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}
	missing := []byte{}
	for _, id := range []byte{1, 2, 6} {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	newSection := func(id byte) []byte {
		switch id {
		case 1:
			return []byte{1, 0x60, 0, 0}
		case 2:
			return m.importEntry([]byte{1}, nTypes)
		default: // 6
			return append([]byte{1}, m.globalEntry()...)
		}
	}
	for _, s := range secs {
		if s.id != 0 {
			for len(missing) > 0 && order[missing[0]] < order[s.id] {
				emit(missing[0], newSection(missing[0]))
				missing = missing[1:]
			}
		}
		var body []byte
		var err error
		switch s.id {
		case 0:
			body, err = m.custom(s.body)
			if err != nil { // a name section we cannot read: drop it
				continue
			}
			if body == nil {
				continue
			}
		case 1:
			sr := &wreader{b: s.body}
			n := sr.u32()
			body = appendU32(nil, n+1)
			body = append(body, s.body[sr.off:]...)
			body = append(body, 0x60, 0, 0)
		case 2:
			sr := &wreader{b: s.body}
			n := sr.u32()
			body = appendU32(nil, n+1)
			body = append(body, s.body[sr.off:]...)
			body = m.importEntry(body, nTypes)
		case 6:
			body, err = m.globals(s.body)
		case 7:
			body, err = m.exports(s.body)
		case 8:
			sr := &wreader{b: s.body}
			body = appendU32(nil, m.shift(sr.u32()))
			err = sr.err
		case 9:
			body, err = m.elements(s.body)
		case 10:
			body, err = m.codes(s.body)
		default:
			body = s.body
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, err)
		}
		emit(s.id, body)
	}
	for _, id := range missing {
		emit(id, newSection(id))
	}
	return out, nil
}

// rewriter renumbers functions and injects the countdown.
type rewriter struct {
	nImp  uint32 // the module's function imports: indexes from here move up
	fn    uint32 // the check function's index
	glob  uint32 // the countdown global's index
	every int32
	check []byte // the injected sequence
}

func (m *rewriter) shift(idx uint32) uint32 {
	if idx >= m.nImp {
		return idx + 1
	}
	return idx
}

// checkSequence is, in wat:
//
//	global.get $n  i32.eqz  if  i32.const EVERY  global.set $n  call $check  end
//	global.get $n  i32.const 1  i32.sub  global.set $n
func (m *rewriter) checkSequence() []byte {
	g := appendU32(nil, m.glob)
	var b []byte
	b = append(append(append(b, 0x23), g...), 0x45, 0x04, 0x40, 0x41)
	b = appendS32(b, m.every)
	b = append(append(b, 0x24), g...)
	b = append(appendU32(append(b, 0x10), m.fn), 0x0b)
	b = append(append(b, 0x23), g...)
	b = append(append(b, 0x41, 0x01, 0x6b, 0x24), g...)
	return b
}

// importEntry appends the check's import (type typeIdx) to b.
func (m *rewriter) importEntry(b []byte, typeIdx uint32) []byte {
	b = appendU32(b, uint32(len(Module)))
	b = append(b, Module...)
	b = appendU32(b, uint32(len(Func)))
	b = append(b, Func...)
	b = append(b, 0x00)
	return appendU32(b, typeIdx)
}

// globalEntry is the countdown: (global (mut i32) (i32.const EVERY)).
func (m *rewriter) globalEntry() []byte {
	return append(appendS32([]byte{0x7f, 0x01, 0x41}, m.every), 0x0b)
}

func (m *rewriter) globals(body []byte) ([]byte, error) {
	r := &wreader{b: body}
	n := r.u32()
	out := appendU32(nil, n+1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.off
		r.valtype()
		r.byte()
		out = append(out, body[start:r.off]...)
		var err error
		if out, err = m.expr(r, out); err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return append(out, m.globalEntry()...), nil
}

func (m *rewriter) exports(body []byte) ([]byte, error) {
	r := &wreader{b: body}
	n := r.u32()
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.off
		r.name()
		kind := r.byte()
		out = append(out, body[start:r.off]...)
		idx := r.u32()
		if kind == 0 {
			idx = m.shift(idx)
		}
		out = appendU32(out, idx)
	}
	return out, r.err
}

func (m *rewriter) elements(body []byte) ([]byte, error) {
	r := &wreader{b: body}
	n := r.u32()
	out := appendU32(nil, n)
	var err error
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		out = appendU32(out, flags)
		if flags > 7 {
			return nil, fmt.Errorf("element segment flags %d", flags)
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			out = appendU32(out, r.u32())
		}
		if flags&1 == 0 { // active: offset expression
			if out, err = m.expr(r, out); err != nil {
				return nil, err
			}
		}
		if flags&3 != 0 { // elemkind or reftype
			start := r.off
			if flags&4 != 0 {
				r.valtype()
			} else {
				r.byte()
			}
			out = append(out, body[start:r.off]...)
		}
		cnt := r.u32()
		out = appendU32(out, cnt)
		for k := uint32(0); k < cnt && r.err == nil; k++ {
			if flags&4 != 0 {
				if out, err = m.expr(r, out); err != nil {
					return nil, err
				}
			} else {
				out = appendU32(out, m.shift(r.u32()))
			}
		}
	}
	return out, r.err
}

func (m *rewriter) codes(body []byte) ([]byte, error) {
	r := &wreader{b: body}
	n := r.u32()
	out := appendU32(nil, n)
	var fb []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		fr := &wreader{b: r.bytes(int(size))}
		if r.err != nil {
			break
		}
		for locals := fr.u32(); locals > 0 && fr.err == nil; locals-- {
			fr.u32()
			fr.valtype()
		}
		fb = append(fb[:0], fr.b[:fr.off]...)
		if !loopFirst(*fr) {
			fb = append(fb, m.check...)
		}
		var err error
		if fb, err = m.instrs(fr, fb, true); err != nil {
			return nil, fmt.Errorf("function %d: %w", m.nImp+i, err)
		}
		out = appendU32(out, uint32(len(fb)))
		out = append(out, fb...)
	}
	return out, r.err
}

// loopFirst reports whether a function body (r just past its locals)
// reaches a loop header before anything that could branch, call or trap:
// only block entries, nop, drop, constants and local and global accesses
// come first, a bounded straight line. The loop's own countdown then runs
// on every entry, so the entry's would only count the same step twice.
// Go's compiler starts nearly every function so (its stack pointer saved
// to a local, then the loop of its basic-block dispatch): most of a Go
// guest's calls pay one countdown instead of two.
func loopFirst(r wreader) bool {
	for r.err == nil && r.off < len(r.b) {
		switch r.byte() {
		case 0x03: // loop
			return r.err == nil
		case 0x02: // block
			r.blocktype()
		case 0x01, 0x1a: // nop, drop
		case 0x20, 0x21, 0x22, 0x23, 0x24, 0x41: // local.get/set/tee, global.get/set, i32.const
			r.leb(5)
		case 0x42: // i64.const
			r.leb(10)
		default:
			return false
		}
	}
	return false
}

// expr rewrites a constant expression, up to and including its end
// (constant expressions have no blocks: the first end is theirs).
func (m *rewriter) expr(r *wreader, out []byte) ([]byte, error) {
	for r.err == nil {
		if r.off < len(r.b) && r.b[r.off] == 0x0b {
			r.off++
			return append(out, 0x0b), nil
		}
		var err error
		if out, err = m.step(r, out, false); err != nil {
			return nil, err
		}
	}
	return nil, r.err
}

// instrs copies the instructions of r to out, renumbering function
// indexes and, when inject is set, adding the countdown after every loop.
func (m *rewriter) instrs(r *wreader, out []byte, inject bool) ([]byte, error) {
	var err error
	for r.off < len(r.b) && err == nil {
		out, err = m.step(r, out, inject)
	}
	return out, err
}

// step copies one instruction.
func (m *rewriter) step(r *wreader, out []byte, inject bool) ([]byte, error) {
	start := r.off
	op := r.byte()
	switch op {
	case 0x10, 0x12, 0xd2: // call, return_call, ref.func
		idx := r.u32()
		out = appendU32(append(out, op), m.shift(idx))
	default:
		r.off = start
		if err := r.instr(); err != nil {
			return nil, err
		}
		out = append(out, r.b[start:r.off]...)
		if op == 0x03 && inject {
			out = append(out, m.check...)
		}
	}
	return out, r.err
}

// custom rewrites the name section's function indexes and drops DWARF
// (its code offsets no longer hold); other custom sections stay.
func (m *rewriter) custom(body []byte) ([]byte, error) {
	r := &wreader{b: body}
	name := r.name()
	if r.err != nil {
		return nil, r.err
	}
	if strings.HasPrefix(name, ".debug_") {
		return nil, nil
	}
	if name != "name" {
		return body, nil
	}
	out := append([]byte(nil), body[:r.off]...)
	for r.off < len(body) && r.err == nil {
		id := r.byte()
		sub := &wreader{b: r.bytes(int(r.u32()))}
		var nb []byte
		switch id {
		case 1: // function names
			n := sub.u32()
			nb = appendU32(nil, n)
			for ; n > 0 && sub.err == nil; n-- {
				nb = appendU32(nb, m.shift(sub.u32()))
				s := sub.off
				sub.name()
				nb = append(nb, sub.b[s:sub.off]...)
			}
		case 2, 3: // local and label names: maps by function
			n := sub.u32()
			nb = appendU32(nil, n)
			for ; n > 0 && sub.err == nil; n-- {
				nb = appendU32(nb, m.shift(sub.u32()))
				s := sub.off
				for k := sub.u32(); k > 0 && sub.err == nil; k-- {
					sub.u32()
					sub.name()
				}
				nb = append(nb, sub.b[s:sub.off]...)
			}
		default:
			nb = sub.b
		}
		if sub.err != nil {
			return nil, sub.err
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(nb)))
		out = append(out, nb...)
	}
	return out, r.err
}

// wreader decodes a wasm binary; the first error sticks.
type wreader struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("unexpected end")

func (r *wreader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

func (r *wreader) byte() byte {
	if r.off >= len(r.b) {
		r.fail(errShort)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *wreader) bytes(n int) []byte {
	if n < 0 || r.off+n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

// leb reads an unsigned or signed LEB128 of at most max bytes.
func (r *wreader) leb(max int) uint64 {
	var v uint64
	for i := 0; i < max; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("LEB128 too long"))
	return 0
}

func (r *wreader) u32() uint32 { return uint32(r.leb(5)) }

func (r *wreader) name() string { return string(r.bytes(int(r.u32()))) }

// valtype reads a value type (number, vector or reference type).
func (r *wreader) valtype() {
	switch c := r.byte(); c {
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.leb(5)
	}
}

func (r *wreader) limits() {
	flags := r.byte()
	r.leb(10)
	if flags&1 != 0 {
		r.leb(10)
	}
	if flags&8 != 0 { // custom page size
		r.u32()
	}
}

func (r *wreader) blocktype() {
	if r.off < len(r.b) {
		switch r.b[r.off] {
		case 0x63, 0x64:
			r.valtype()
			return
		}
	}
	r.leb(5) // 0x40, a one-byte value type, or a type index (s33)
}

func (r *wreader) memarg() {
	if align := r.u32(); align&0x40 != 0 { // multi-memory: memory index
		r.u32()
	}
	r.leb(10)
}

// instr skips one instruction. An opcode it does not know is an error.
func (r *wreader) instr() error {
	op := r.byte()
	switch {
	case op <= 0x01, op == 0x05, op == 0x0a, op == 0x0b, op == 0x0f, op == 0x19,
		op == 0x1a, op == 0x1b, op == 0xd1, op == 0xd3, op == 0xd5,
		op >= 0x45 && op <= 0xc4:
	case op >= 0x02 && op <= 0x04, op == 0x06: // block loop if try
		r.blocktype()
	case op == 0x07, op == 0x08, op == 0x09, op == 0x0c, op == 0x0d, op == 0x18,
		op >= 0x10 && op <= 0x15 && op != 0x11 && op != 0x13,
		op >= 0x20 && op <= 0x26, op == 0x3f, op == 0x40, op == 0xd2, op == 0xd4, op == 0xd6:
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x1c: // select t*
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valtype()
		}
	case op == 0x1f: // try_table
		r.blocktype()
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			switch r.byte() {
			case 0, 1:
				r.u32()
				r.u32()
			case 2, 3:
				r.u32()
			default:
				r.fail(errors.New("try_table: unknown catch kind"))
			}
		}
	case op >= 0x28 && op <= 0x3e:
		r.memarg()
	case op == 0x41:
		r.leb(5)
	case op == 0x42:
		r.leb(10)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null ht
		r.leb(5)
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7:
		case sub == 8, sub == 10, sub == 12, sub == 14:
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17:
			r.u32()
		default:
			r.fail(fmt.Errorf("unknown instruction 0xfc %d", sub))
		}
	case op == 0xfd:
		switch sub := r.u32(); {
		case sub <= 11, sub == 0x5c, sub == 0x5d:
			r.memarg()
		case sub == 12, sub == 13:
			r.bytes(16)
		case sub >= 0x15 && sub <= 0x22:
			r.byte()
		case sub >= 0x54 && sub <= 0x5b:
			r.memarg()
			r.byte()
		case sub > 0x113:
			r.fail(fmt.Errorf("unknown instruction 0xfd %d", sub))
		}
	case op == 0xfe:
		switch sub := r.u32(); {
		case sub == 3:
			r.byte()
		case sub <= 2, sub >= 0x10 && sub <= 0x4e:
			r.memarg()
		default:
			r.fail(fmt.Errorf("unknown instruction 0xfe %d", sub))
		}
	default:
		r.fail(fmt.Errorf("unknown instruction 0x%02x", op))
	}
	return r.err
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
