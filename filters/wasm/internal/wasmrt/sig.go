package wasmrt

import (
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// SigMatches reports whether types spell want ('i' i32, 'I' i64): how both
// ABIs check an import's or an export's signature.
func SigMatches(types []api.ValueType, want string) bool {
	if len(types) != len(want) {
		return false
	}
	for i, t := range types {
		if (want[i] == 'i' && t != api.ValueTypeI32) || (want[i] == 'I' && t != api.ValueTypeI64) {
			return false
		}
	}
	return true
}

// ValidHeader reports whether name and value are acceptable on the wire:
// what either ABI lets a guest set.
func ValidHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
