package config

import (
	"slices"
	"testing"
)

// The credential blocks are checked by their filters; filters/all tests
// them together with these.
func TestConsumersValidation(t *testing.T) {
	errs := parseErrs(t, `
listeners: [{address: ":8080"}]
consumers:
  - name: a
    metadata: {tier: gold}
  - name: a
  - name: "bad name"
  - metadata: {tier: gold}
`, env())
	want := []string{
		`gw.yaml:5:5: consumers[1].name: consumer "a" is already defined at consumers[0]; names must be unique`,
		`gw.yaml:6:5: consumers[2].name: consumer name "bad name" is not valid; use letters, digits, '_', '.' and '-'`,
		`gw.yaml:7:5: consumers[3].name: a consumer needs a name (letters, digits, '_', '.' and '-')`,
	}
	for _, w := range want {
		if !slices.Contains(errs, w) {
			t.Errorf("missing error:\n  %s\ngot:\n  %v", w, errs)
		}
	}
}
