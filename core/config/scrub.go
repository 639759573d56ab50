package config

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Values from ${ENV} are where secrets belong (a Redis password, a token in
// a tracing header), so no error may show one: a check that quotes a bad
// value ("%q is not host:port") would print the password of a mistyped
// ${REDIS_URL} into the logs and the /reload response. Checks are written
// against decoded values and cannot know where a value came from, so the
// loader scrubs their messages instead: every form in which a value from
// the environment can appear is replaced by the reference as written.

// expansion is one scalar whose text took values from the environment.
type expansion struct {
	written string     // as in the file: "redis://:${REDIS_PASSWORD}@cache:6379"
	value   string     // as expanded
	env     []envValue // the parts that came from the environment
}

// envValue is one ${NAME} reference and the value it expanded to.
type envValue struct{ ref, value string }

// minScrubbed is the shortest environment value replaced where it stands
// alone in a message. Shorter ones ("80", "on") are not secrets, and
// replacing them would garble unrelated words; they are still replaced
// inside the whole scalar that holds them, and where quoted.
const minScrubbed = 4

// Scrub returns err with every value that came from ${ENV} replaced by
// its reference as written, in whatever form a message holds it: raw,
// quoted (%q), or quoted and shortened (describe). Errors stay Errors, with
// their positions; any other error becomes a plain one with the same text.
func (c *Config) Scrub(err error) error {
	if err == nil || c == nil || len(c.expanded) == 0 {
		return err
	}
	r := c.scrubber()
	var es Errors
	var e *Error
	switch {
	case errors.As(err, &es):
		out := make(Errors, len(es))
		for i, e := range es {
			cp := *e
			cp.Msg = r.Replace(e.Msg)
			out[i] = &cp
		}
		return out
	case errors.As(err, &e):
		cp := *e
		cp.Msg = r.Replace(e.Msg)
		return &cp
	}
	if s := err.Error(); r.Replace(s) != s {
		return errors.New(r.Replace(s))
	}
	return err
}

func (c *Config) scrubber() *strings.Replacer {
	var pairs [][2]string
	add := func(from, to string) {
		if from != "" && from != to {
			pairs = append(pairs, [2]string{from, to})
		}
	}
	// raw replaces s where it stands alone, if it is long enough to be a
	// secret and not a common word; and where it is quoted with escapes.
	raw := func(s, to string) {
		if len(s) >= minScrubbed {
			add(s, to)
		}
		if q := strconv.Quote(s); q[1:len(q)-1] != s {
			add(q[1:len(q)-1], to)
		}
	}
	for _, x := range c.expanded {
		add(describeText(x.value), describeText(x.written))
		add(strconv.Quote(x.value), strconv.Quote(x.written))
		raw(x.value, x.written)
		for _, v := range x.env {
			add(strconv.Quote(v.value), strconv.Quote(v.ref))
			raw(v.value, v.ref)
		}
	}
	// At one position the Replacer takes the first pair that matches:
	// longer first, so a whole value wins over a part of it.
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p[0], p[1])
	}
	return strings.NewReplacer(args...)
}
