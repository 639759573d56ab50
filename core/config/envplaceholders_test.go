package config

import (
	"strings"
	"testing"
)

func TestParsePlaceholders(t *testing.T) {
	t.Setenv("WGU_SET", "127.0.0.1:6379")
	src := `listeners: [{address: ":8080"}]
admin: {address: "${WGU_SET}", token: "${WGU_PW}"}
upstreams:
  u: {targets: [{url: "http://${WGU_HOST}:${WGU_PORT}"}]}
routes:
  - {name: r, match: {path: "/$${WGU_LITERAL}"}, upstream: u, timeouts: {request: "${WGU_T:-5s}"}}
`
	c, err := ParsePlaceholders("gw.yaml", []byte(src), Limits{})
	if err != nil {
		t.Fatalf("placeholders refused: %v", err)
	}
	var got []string
	for _, r := range c.EnvRefs {
		got = append(got, r.Name+":"+map[bool]string{true: "set", false: "unset"}[r.Set]+":"+map[bool]string{true: "default", false: "-"}[r.HasDefault])
	}
	if want := "WGU_HOST:unset:- WGU_PORT:unset:- WGU_PW:unset:- WGU_SET:set:- WGU_T:unset:default"; strings.Join(got, " ") != want {
		t.Errorf("EnvRefs %v, want %s", got, want)
	}
	if c.Routes[0].Timeouts.Request.D().String() != "5s" {
		t.Errorf("a default was not used for an unset variable: %v", c.Routes[0].Timeouts.Request)
	}
	// Without placeholders each unset variable is an error; a real mistake
	// is one with them.
	if _, err := ParseWithin("gw.yaml", []byte(src), Limits{}); err == nil || !strings.Contains(err.Error(), "WGU_PW is not set") {
		t.Errorf("ParseWithin: %v, want the unset variables reported", err)
	}
	_, err = ParsePlaceholders("gw.yaml", []byte(strings.Replace(src, "upstream: u", "upstream: uu", 1)), Limits{})
	if err == nil || !strings.Contains(err.Error(), `unknown upstream "uu"`) {
		t.Errorf("a real mistake beside placeholders: %v, want it reported", err)
	}
}
