package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wasmgate/wasmgate/core/config/internal/fastyaml"
)

// Load reads, decodes, defaults and validates the config file at path,
// within DefaultLimits. Every problem is reported at once, as Errors in
// document order.
func Load(path string) (*Config, error) {
	data, err := ReadFile(path, 0)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse is Load for a config already in memory; file names it in errors
// ("" for an embedded config). ${NAME} references read the process
// environment.
func Parse(file string, data []byte) (*Config, error) {
	return ParseWithin(file, data, Limits{})
}

// ParseWithin is Parse with other limits; zero fields of l take
// DefaultLimits'.
func ParseWithin(file string, data []byte, l Limits) (*Config, error) {
	return parseWithin(file, data, os.LookupEnv, l)
}

func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return parseWithin(file, data, lookup, Limits{})
}

func parseWithin(file string, data []byte, lookup func(string) (string, bool), l Limits) (*Config, error) {
	return parseScanned(file, data, lookup, l, nil, nil)
}

// parseScanned is parseWithin with two hooks for ParsePlaceholders: scan
// sees the document before ${ENV} is expanded, keep filters the problems.
func parseScanned(file string, data []byte, lookup func(string) (string, bool), l Limits, scan func(*yaml.Node), keep func(Errors) Errors) (*Config, error) {
	l = l.withDefaults()
	if int64(len(data)) > l.FileSize {
		return nil, tooLarge(file, int64(len(data)), l.FileSize, true)
	}
	root, errs := parseYAML(file, data)
	if errs != nil {
		return nil, errs
	}
	if errs := checkCounts(file, root, l); errs != nil {
		return nil, errs
	}
	c := &Config{File: file, Root: root}
	if scan != nil {
		scan(root)
	}
	errs = expandEnv(file, root, "", lookup, &c.expanded)
	if err := Decode(file, root, "", c); err != nil {
		if errors.Is(err, ErrTooLarge) {
			// Decoding stopped part way: what it left is not worth judging.
			return nil, c.Scrub(err)
		}
		errs = append(errs, err.(Errors)...)
	}
	// Validate even what did not decode cleanly, so one run lists every
	// problem; but a block with a decode error is not judged further, since
	// its other problems would repeat that one in other words ("needs an
	// upstream" for a mistyped "upstrem").
	applyDefaults(c)
	sectionDefaults(c) // section.go
	decodeErrs := errs
	for _, e := range validate(c) {
		if !insideBroken(e.Field, decodeErrs) {
			errs = append(errs, e)
		}
	}
	if keep != nil {
		errs = keep(errs)
	}
	if len(errs) > 0 {
		sortErrors(errs)
		if len(errs) > maxDecodeErrors {
			// As in Decode: past that, more only bury the first ones.
			more := len(errs) - maxDecodeErrors
			errs = append(errs[:maxDecodeErrors:maxDecodeErrors], &Error{File: file, Msg: fmt.Sprintf("and %d more problems", more)})
		}
		return nil, c.Scrub(errs)
	}
	return c, nil
}

// insideBroken reports whether field lies in a block (the parent of a field)
// that has a decode error. A broken top-level key only hides itself.
func insideBroken(field string, decodeErrs Errors) bool {
	for _, e := range decodeErrs {
		i := strings.LastIndexAny(e.Field, ".[")
		if i < 0 {
			if field == e.Field {
				return true
			}
			continue
		}
		block := e.Field[:i]
		if field == block || strings.HasPrefix(field, block+".") || strings.HasPrefix(field, block+"[") {
			return true
		}
	}
	return false
}

// yamlLine splits yaml.v3's "yaml: line 3: did not find expected key".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data as exactly one YAML document that is not empty.
// What is in fastyaml's subset (most configs) it parses; the rest, and
// every error, is yaml.v3's (docs/rationale.md, Config).
func parseYAML(file string, data []byte) (root *yaml.Node, errs Errors) {
	if doc, ok := fastyaml.Parse(data); ok {
		return doc, nil
	}
	syntax := func(err error) Errors {
		// yaml.v3 leaves the line out for a character its reader refuses
		// (found here, with its column) and for a problem on the first
		// line (its marks count from 0, and 0 reads as "unknown").
		e := &Error{File: file, Line: 1, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if line, col, ok := badChar(data); ok && !yamlLine.MatchString(err.Error()) {
			e.Line, e.Col = line, col
		}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "invalid YAML: " + m[2]
		}
		return Errors{e}
	}
	// yaml.v3 reports bad input by panicking internally and recovering; a
	// panic that escapes it must still not take the gateway down on reload.
	defer func() {
		if r := recover(); r != nil {
			root, errs = nil, Errors{{File: file, Msg: fmt.Sprintf("invalid YAML: the parser failed: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err == io.EOF || (err == nil && isNull(documentContent(&doc))) {
		return nil, Errors{{File: file, Line: doc.Line, Msg: `the config is empty; it needs at least one listener, e.g. listeners: [{address: ":8080"}]`}}
	}
	if err != nil {
		return nil, syntax(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		return nil, syntax(err)
	default:
		return nil, Errors{{File: file, Line: extra.Line, Msg: `a config file holds one YAML document; merge this one (after "---") into the first`}}
	}
	return &doc, nil
}

// badChar finds the first character YAML's reader refuses (invalid
// UTF-8, or a control character other than tab, line feed, carriage
// return and NEL), by line and column (in characters, from 1).
func badChar(data []byte) (line, col int, ok bool) {
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		bad := (r == utf8.RuneError && size <= 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f && r != 0x85)
		if bad {
			return line, col, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return 0, 0, false
}
