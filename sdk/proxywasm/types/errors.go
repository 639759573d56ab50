package types

import (
	"errors"
	"strconv"
)

// Status is the proxy_status_t every host function returns.
type Status uint32

const (
	StatusOK                  Status = 0
	StatusNotFound            Status = 1
	StatusBadArgument         Status = 2
	StatusSerializationFailed Status = 3
	StatusParseFailure        Status = 4
	StatusInvalidMemoryAccess Status = 6
	StatusEmpty               Status = 7
	StatusCasMismatch         Status = 8
	StatusInternalFailure     Status = 10
	StatusUnimplemented       Status = 12
)

// The errors host calls return; compare with errors.Is.
var (
	ErrorStatusNotFound       = errors.New("proxy-wasm: not found")
	ErrorStatusBadArgument    = errors.New("proxy-wasm: bad argument")
	ErrorStatusEmpty          = errors.New("proxy-wasm: empty")
	ErrorStatusCasMismatch    = errors.New("proxy-wasm: cas mismatch")
	ErrorInternalFailure      = errors.New("proxy-wasm: internal failure")
	ErrorUnimplemented        = errors.New("proxy-wasm: unimplemented")
	ErrorSerializationFailure = errors.New("proxy-wasm: serialization failure")
	ErrorParseFailure         = errors.New("proxy-wasm: parse failure")
	ErrorInvalidMemoryAccess  = errors.New("proxy-wasm: invalid memory access")
)

// Err turns a status into nil or one of the errors above.
func (s Status) Err() error {
	switch s {
	case StatusOK:
		return nil
	case StatusNotFound:
		return ErrorStatusNotFound
	case StatusBadArgument:
		return ErrorStatusBadArgument
	case StatusSerializationFailed:
		return ErrorSerializationFailure
	case StatusParseFailure:
		return ErrorParseFailure
	case StatusInvalidMemoryAccess:
		return ErrorInvalidMemoryAccess
	case StatusEmpty:
		return ErrorStatusEmpty
	case StatusCasMismatch:
		return ErrorStatusCasMismatch
	case StatusInternalFailure:
		return ErrorInternalFailure
	case StatusUnimplemented:
		return ErrorUnimplemented
	}
	return errors.New("proxy-wasm: unknown status " + strconv.FormatUint(uint64(s), 10))
}
