package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one config problem: where it is and what would be valid.
type Error struct {
	File  string // "" for an embedded config
	Line  int    // 1-based; 0 if unknown
	Col   int
	Field string // path from the document root: routes[2].match.path
	Msg   string
	// Err, if set, is the condition behind Msg for errors.Is (ErrTooLarge).
	Err error
}

// ErrTooLarge is behind the error for a config file over the size limit.
var ErrTooLarge = errors.New("the config file is too large")

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("<config>")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config, in document order.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is look at each Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// fieldError is a problem found after decoding, named by a field path
// relative to some node; Resolve turns it into an Error with a position.
type fieldError struct {
	field string
	msg   string
	cause error // what a %w in the format wrapped, for errors.Is and As
}

func (e *fieldError) Unwrap() error { return e.cause }

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

// FieldErr reports a problem with the field at path (relative to the block
// being validated, e.g. "request.set[0]" or "targets[1].url"; "" for the
// block itself). The loader resolves the path to a file line.
func FieldErr(path, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &fieldError{field: path, msg: err.Error(), cause: errors.Unwrap(err)}
}

// AsFieldErr reports whether err is a FieldErr and returns its path and message.
func AsFieldErr(err error) (path, msg string, ok bool) {
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.field, fe.msg, true
	}
	return "", "", false
}

// sortErrors puts errors in document order; errors without a line first.
func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}
