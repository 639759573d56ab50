package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Errors never show a value that came from the environment, in any form a
// check prints it: raw, %q, or shortened by describe.
func TestErrorsNeverShowEnvValues(t *testing.T) {
	const pw = "pa55-Word-LEAK"
	long := "prefix-" + strings.Repeat("x", 30) + pw // describe cuts it at 40
	for name, tt := range map[string]struct {
		src string
		env []string
	}{
		"part of a target URL": {`
listeners: [{address: ":8080"}]
upstreams: {u: {targets: [{url: "http://app:${PW}@10.0.0.1:80"}]}}
`, []string{"PW", pw}},
		"a quoted value with escapes": {`
listeners: [{address: "${ADDR}"}]
`, []string{"ADDR", "tab\there" + pw}},
		"shortened by describe": {`
listeners: [{address: ":8080", h2c: "${LONG}"}]
`, []string{"LONG", long}},
	} {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(parseErrs(t, tt.src, env(tt.env...)), "\n")
			if strings.Contains(got, pw) || strings.Contains(got, "LEAK") {
				t.Errorf("an error shows the value from the environment:\n%s", got)
			}
			if !strings.Contains(got, "${") {
				t.Errorf("the error does not name the reference instead:\n%s", got)
			}
		})
	}
}

// Scrub also covers errors made after loading (a filter's, a listener's).
func TestScrubLaterErrors(t *testing.T) {
	const pw = "hunter2-LEAK"
	c := mustParse(t, minimal+`
server: {server_header: "${PW}"}
`, env("PW", pw))
	for _, err := range []error{
		c.Resolve("server.server_header", fmt.Errorf("AUTH %s refused", pw)),
		c.Scrub(fmt.Errorf("dial: %q", pw)),
		c.Scrub(errors.Join(errors.New("x"), errors.New(pw))),
	} {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("scrubbed error still shows the value: %v", err)
		}
	}
	if got := c.Resolve("server.server_header", errors.New("boom")); len(got) != 1 || got[0].Line != 10 {
		t.Errorf("Resolve lost the position: %v", got)
	}
}
