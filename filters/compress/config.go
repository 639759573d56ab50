// Package compress compresses response bodies (gzip, br, zstd) as they
// stream, negotiated by Accept-Encoding, and optionally decodes compressed
// request bodies for the filters and the upstream behind it, within a cap
// on their decoded size.
package compress

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmgate/wasmgate/core/config"
	"github.com/wasmgate/wasmgate/core/filter"
)

func init() {
	filter.Register("compress", func() filter.Config { return new(Config) })
}

// Config is the `compress:` block of a route's filters.
type Config struct {
	// Encodings are the codings offered, in the server's order of
	// preference: it breaks ties between codings a client accepts with the
	// same q-value. Default [zstd, br, gzip].
	Encodings []string `yaml:"encodings"`
	// MinSize: a response whose Content-Length is below it is sent as is
	// (default 1KiB). A body of unknown length is compressed.
	MinSize *config.Size `yaml:"min_size"`
	// ContentTypes are the media types compressed: exact ("application/json"),
	// a type's wildcard ("text/*") or a structured suffix ("application/*+json").
	// Default: defaultContentTypes. gRPC is never compressed here (it has
	// its own per-message compression).
	ContentTypes []string `yaml:"content_types"`
	// Levels per coding; 0 keeps the default (see README).
	Levels Levels `yaml:"levels"`
	// DecompressRequests, if set, decodes request bodies sent with
	// Content-Encoding gzip, br or zstd for every filter after this one
	// and for the upstream.
	DecompressRequests *Decompress `yaml:"decompress_requests"`
}

// Levels are the compression levels per coding.
type Levels struct {
	Gzip int `yaml:"gzip"` // 1 (fastest) to 9 (best); default 6
	Br   int `yaml:"br"`   // 1 to 11; default 1
	Zstd int `yaml:"zstd"` // 1 fastest, 2 default, 3 better, 4 best (klauspost/compress's levels); default 1
}

// Decompress is request body decoding.
type Decompress struct {
	// Max caps a body's decoded size (default 8MiB): past it the request
	// is refused with 413, so a small "zip bomb" cannot make the gateway or
	// the upstream inflate gigabytes. 0 (or leaving it out) is the default.
	Max config.Size `yaml:"max"`
}

// Defaults.
var (
	defaultEncodings    = []string{"zstd", "br", "gzip"}
	defaultContentTypes = []string{
		"text/*",
		"application/json", "application/*+json",
		"application/javascript", "application/x-javascript", "application/ecmascript",
		"application/xml", "application/*+xml",
		"image/svg+xml",
		"application/wasm",
	}
)

const (
	defaultMinSize   = 1 << 10
	defaultMaxDecode = 8 << 20
	defaultGzipLevel = 6
	defaultBrLevel   = 1
	defaultZstdLevel = 1
)

// Validate checks the block as written.
func (c *Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, e := range c.Encodings {
		field := fmt.Sprintf("encodings[%d]", i)
		switch {
		case e != "gzip" && e != "br" && e != "zstd":
			msg := fmt.Sprintf("%q is not an encoding this filter produces; valid: gzip, br, zstd", e)
			if s := config.Closest(e, []string{"gzip", "br", "zstd"}); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			errs = append(errs, config.FieldErr(field, "%s", msg))
		case seen[e]:
			errs = append(errs, config.FieldErr(field, "%q is listed twice", e))
		}
		seen[e] = true
	}
	if c.Encodings != nil && len(c.Encodings) == 0 {
		errs = append(errs, config.FieldErr("encodings", "at least one encoding is required (gzip, br, zstd); leave the field out for all three"))
	}
	for i, ct := range c.ContentTypes {
		if err := checkPattern(ct); err != "" {
			errs = append(errs, config.FieldErr(fmt.Sprintf("content_types[%d]", i), "%q %s", ct, err))
		}
	}
	if l := c.Levels.Gzip; l < 0 || l > 9 {
		errs = append(errs, config.FieldErr("levels.gzip", "%d is not a gzip level; valid: 1 (fastest) to 9 (smallest), 0 for the default (%d)", l, defaultGzipLevel))
	}
	if l := c.Levels.Br; l < 0 || l > 11 {
		errs = append(errs, config.FieldErr("levels.br", "%d is not a brotli level; valid: 1 (fastest) to 11 (smallest), 0 for the default (%d)", l, defaultBrLevel))
	}
	if l := c.Levels.Zstd; l < 0 || l > 4 {
		errs = append(errs, config.FieldErr("levels.zstd", "%d is not a zstd level; valid: 1 (fastest), 2 (default), 3 (better), 4 (best), 0 for the default (%d)", l, defaultZstdLevel))
	}
	return errors.Join(errs...)
}

// checkPattern says what is wrong with a content type pattern, or "".
func checkPattern(p string) string {
	typ, sub, ok := strings.Cut(p, "/")
	switch {
	case !ok || typ == "" || sub == "":
		return `is not a media type; write type/subtype, e.g. "application/json", "text/*" or "application/*+json"`
	case typ == "*":
		return `has a wildcard type; only the subtype may be "*" (text/*) or "*+suffix" (application/*+json)`
	case strings.Contains(sub, "*") && sub != "*" && !(strings.HasPrefix(sub, "*+") && !strings.Contains(sub[2:], "*")):
		return `has a wildcard in the middle; valid wildcards: "text/*" and "application/*+json"`
	case strings.ContainsAny(p, " ;,"):
		return "holds parameters or several types; write one media type without parameters"
	case !config.IsToken(typ) || !config.IsToken(strings.ReplaceAll(sub, "*", "x")):
		return "is not a valid media type (RFC 9110 tokens)"
	}
	return ""
}

// SingularIdentity: two compress filters on one route would compress twice.
func (c *Config) SingularIdentity() string { return "" }

var (
	_ filter.Validator = (*Config)(nil)
	_ filter.Singular  = (*Config)(nil)
)
