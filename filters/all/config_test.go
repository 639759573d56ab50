package all_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestUnknownTopLevelFieldListsSections(t *testing.T) {
	got := parseErrs(t, `
bogus: 1
listeners: [{address: ":8080"}]
`)
	wantErrs(t, got,
		`gw.yaml:1:1: bogus: unknown field "bogus"; valid fields: admin, consumers, filter_chains, listeners, observability, plugins, routes, server, stores, upstreams`)
}

// Errors never show a value that came from the environment, in any form a
// section's check prints it.
func TestSectionErrorsNeverShowEnvValues(t *testing.T) {
	const pw = "pa55-Word-LEAK"
	for name, tt := range map[string]struct {
		src string
		env []string
	}{
		"redis URL as address": {`
listeners: [{address: ":8080"}]
stores: {redis: {address: "${REDIS_URL}"}}
`, []string{"REDIS_URL", "redis://user:" + pw + "@cache:6379/0"}},
		"otlp endpoint": {`
listeners: [{address: ":8080"}]
observability: {tracing: {otlp_endpoint: "${OTLP}"}}
`, []string{"OTLP", "ftp://" + pw + "@collector"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(parseErrs(t, tt.src, tt.env...), "\n")
			if strings.Contains(got, pw) || strings.Contains(got, "LEAK") {
				t.Errorf("an error shows the value from the environment:\n%s", got)
			}
			if !strings.Contains(got, "${") {
				t.Errorf("the error does not name the reference instead:\n%s", got)
			}
		})
	}
}

// Scrub also covers errors made after loading (a filter's, a store's).
func TestScrubLaterErrors(t *testing.T) {
	const pw = "hunter2-LEAK"
	c := mustParse(t, minimal+`
stores: {redis: {address: "127.0.0.1:6379", password: "${PW}"}}
`, "PW", pw)
	for _, err := range []error{
		c.Resolve("stores.redis", fmt.Errorf("AUTH %s refused", pw)),
		c.Scrub(fmt.Errorf("dial: %q", pw)),
		c.Scrub(errors.Join(errors.New("x"), errors.New(pw))),
	} {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("scrubbed error still shows the value: %v", err)
		}
	}
	if got := c.Resolve("stores.redis", errors.New("boom")); len(got) != 1 || got[0].Line != 10 {
		t.Errorf("Resolve lost the position: %v", got)
	}
}
