package config

import (
	"slices"
	"testing"
)

func TestFilesListsWhatRegisteredListersName(t *testing.T) {
	c := &Config{Listeners: []Listener{{Name: "a"}, {Name: "b"}}}
	RegisterFiles(func(c *Config) []string {
		var out []string
		for _, l := range c.Listeners {
			out = append(out, l.Name+".wasm")
		}
		return out
	})
	if got := c.Files(); !slices.Contains(got, "a.wasm") || !slices.Contains(got, "b.wasm") {
		t.Fatalf("Files() = %q", got)
	}
}
