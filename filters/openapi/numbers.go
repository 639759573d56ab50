package openapi

import (
	"math"
	"math/big"
	"strconv"
	"unsafe"
)

// JSON Schema compares numbers exactly (jsonschema with big.Rat); the
// checker compares float64s, which is exact except where a literal and a
// bound round to the same float64 (MaxInt64 and MaxInt64+1 do), or where
// a quotient is not whole though its float64 is. There it falls back to
// exact arithmetic on the literal.

// maxNumberLen bounds a number literal, so exact arithmetic on one stays
// cheap.
const maxNumberLen = 1000

// maxExactExp bounds the exponent exact arithmetic takes. With at most
// maxNumberLen digits, a literal whose exponent is past it is either
// beyond float64 (refused) or a non-zero below 1e-400, a float64 zero
// whose sign is enough (cmpExact).
const maxExactExp = 2 * maxNumberLen

// ratOf is a bound read as a float64 (the document is decoded so), as the
// shortest decimal that float64 prints as: "0.1" is 1/10, as written.
func ratOf(f float64, ok bool) *big.Rat {
	if !ok {
		return nil
	}
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return r
}

// exactRat is a number literal's exact value, unless its exponent is past
// maxExactExp.
func exactRat(lit []byte) (*big.Rat, bool) {
	for i := 0; i < len(lit); i++ {
		if lit[i] == 'e' || lit[i] == 'E' {
			e, err := strconv.Atoi(string(lit[i+1:]))
			if err != nil || e > maxExactExp || e < -maxExactExp {
				return nil, false
			}
			break
		}
	}
	r, ok := new(big.Rat).SetString(unsafe.String(unsafe.SliceData(lit), len(lit)))
	return r, ok
}

// cmpExact compares a literal with b exactly. It is called when their
// float64s are equal; a literal it cannot read exactly is a non-zero too
// small for a float64, so b is zero and the literal's sign decides.
func cmpExact(lit []byte, b *big.Rat) int {
	r, ok := exactRat(lit)
	if !ok {
		if lit[0] == '-' {
			return -1
		}
		if isZeroLit(lit) {
			return 0
		}
		return 1
	}
	return r.Cmp(b)
}

// isZeroLit reports whether a literal's digits before its exponent are all
// zeros.
func isZeroLit(lit []byte) bool {
	for _, x := range lit {
		switch {
		case x == 'e' || x == 'E':
			return true
		case '1' <= x && x <= '9':
			return false
		}
	}
	return true
}

// multipleOf reports whether the literal is a whole multiple of s's
// multipleOf: in float64 for whole numbers below 2^53, exactly otherwise.
func multipleOf(f float64, lit []byte, s *schema) bool {
	m := s.multipleOf
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && m == math.Trunc(m) && m < 1<<53 {
		return math.Mod(f, m) == 0
	}
	r, ok := exactRat(lit)
	if !ok {
		// Past the exponent bound a non-zero literal is below any
		// multipleOf a float64 holds; zero is a multiple of all.
		return isZeroLit(lit)
	}
	return r.Quo(r, s.multR).IsInt()
}

// fmtRat prints a bound for a message: whole numbers in full, others as
// their float64.
func fmtRat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return fmtNum(f)
}

// wholeLit reports whether a literal with a fraction or an exponent is a
// whole number: its fraction digits all zeros, or, with an exponent,
// exactly.
func wholeLit(lit []byte) bool {
	dot := -1
	for i, x := range lit {
		switch x {
		case '.':
			dot = i
		case 'e', 'E':
			r, ok := exactRat(lit)
			if !ok {
				// Past the exponent bound: a whole number only if zero
				// (a larger one is beyond float64, refused before).
				return isZeroLit(lit)
			}
			return r.IsInt()
		}
	}
	if dot < 0 {
		return true
	}
	for _, x := range lit[dot+1:] {
		if x != '0' {
			return false
		}
	}
	return true
}
