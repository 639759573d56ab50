package config

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The sections a package outside core/config would register; the tests of
// the real ones (stores, plugins, observability's signals, credentials)
// live beside their owners, and filters/all checks them together.

type widgets struct {
	Size  int               `yaml:"size"`
	Color string            `yaml:"color"`
	Keys  map[string]string `yaml:"keys" redact:"secret"`
	// Notes is free-form, so hidden whole unless NotesVisible is written
	// as a literal true (as a Wasm plugin's config).
	Notes        *yaml.Node `yaml:"notes" redact:"secret,unless=notes_visible"`
	NotesVisible bool       `yaml:"notes_visible"`
}

type signal struct {
	Rate Size `yaml:"rate"`
}

type token struct {
	Secret string `yaml:"secret" redact:"secret"`
}

func init() {
	RegisterSection("widgets", func(w *widgets) {
		if w.Color == "" {
			w.Color = "blue"
		}
	}, func(v *Validator, w *widgets) {
		v.NotNegative("widgets.size", w.Size)
		v.OneOf("widgets.color", w.Color, "blue", "red")
	})
	RegisterSection("observability.signal", nil, func(v *Validator, s *signal) {
		if s.Rate > 64<<10 {
			v.Errorf("observability.signal.rate", "%d is over 64KiB", s.Rate)
		}
	})
	RegisterCredential("tokens", func(v *Validator, blocks []*[]token) {
		seen := map[string]string{}
		for i, b := range blocks {
			if b == nil {
				continue
			}
			for j, t := range *b {
				if other, dup := seen[t.Secret]; dup {
					v.Errorf(JoinIndex(JoinIndex("consumers", i)+".tokens", j), "already a token of consumer %q", other)
				}
				seen[t.Secret] = v.Config().Consumers[i].Name
			}
		}
	})
}

func TestSectionsDecodeDefaultAndCheck(t *testing.T) {
	c := mustParse(t, minimal+`
widgets: {size: 3}
observability: {signal: {rate: 1KiB}}
consumers:
  - name: a
    tokens: [{secret: "${TOKEN_A}"}]
  - name: b
`, env("TOKEN_A", "one"))
	if w := Section[widgets](c, "widgets"); w == nil || w.Size != 3 || w.Color != "blue" {
		t.Errorf("widgets = %+v, want size 3 and the default color", w)
	}
	if s := Section[signal](c, "observability.signal"); s == nil || s.Rate != 1024 {
		t.Errorf("signal = %+v", s)
	}
	if tk := Credential[[]token](&c.Consumers[0], "tokens"); tk == nil || (*tk)[0].Secret != "one" {
		t.Errorf("consumer a's tokens = %+v, want the one from the environment", tk)
	}
	if tk := Credential[[]token](&c.Consumers[1], "tokens"); tk != nil {
		t.Errorf("consumer b has no tokens, got %+v", tk)
	}

	// A section not written still gets its defaults.
	c = mustParse(t, minimal, env())
	if w := Section[widgets](c, "widgets"); w == nil || w.Color != "blue" {
		t.Errorf("an absent section = %+v, want its defaults", w)
	}
}

func TestSectionErrorsArePositioned(t *testing.T) {
	got := parseErrs(t, `
listeners: [{address: ":8080"}]
widgets: {size: -1, colour: red}
observability: {signal: {rate: 1MiB}, signl: {}}
consumers:
  - {name: a, tokens: [{secret: x}]}
  - {name: b, tokenz: []}
`, env())
	wantErrs(t, got,
		`gw.yaml:2:21: widgets.colour: unknown field "colour"; valid fields: color, keys, notes, notes_visible, size; did you mean "color"?`,
		`gw.yaml:3:39: observability.signl: unknown field "signl"; valid fields: request_id, signal; did you mean "signal"?`,
		`gw.yaml:6:15: consumers[1].tokenz: unknown field "tokenz"; valid fields: metadata, name, tokens; did you mean "tokens"?`,
	)

	got = parseErrs(t, `
listeners: [{address: ":8080"}]
widgets: {size: -1, color: green}
observability: {signal: {rate: 1MiB}}
`, env())
	wantErrs(t, got,
		`gw.yaml:2:11: widgets.size: -1 is negative; use a positive number (0 means the default)`,
		`gw.yaml:2:21: widgets.color: "green" is not valid; valid values: blue, red`,
		`gw.yaml:3:26: observability.signal.rate: 1048576 is over 64KiB`,
	)

	got = parseErrs(t, `
listeners: [{address: ":8080"}]
consumers:
  - {name: a, tokens: [{secret: x}]}
  - {name: b, tokens: [{secret: y}, {secret: x}]}
`, env())
	wantErrs(t, got, `gw.yaml:4:37: consumers[1].tokens[1]: already a token of consumer "a"`)
}

func TestSectionsRedactByTheirTypes(t *testing.T) {
	out := string(Redact(doc(`
widgets: {color: red, keys: {a: `+leak+`}}
consumers: [{name: c, tokens: [{secret: `+leak+`}]}]
`), fakeFilters))
	if strings.Contains(out, leak) || !strings.Contains(out, "color: red") || strings.Count(out, Redacted) != 2 {
		t.Errorf("the view does not follow the sections' types:\n%s", out)
	}

	for visible, want := range map[string]bool{"true": true, `"${SHOW}"`: false, "false": false} {
		out := string(Redact(doc(`
widgets: {notes_visible: `+visible+`, notes: {rules: [allow-all]}}
`), fakeFilters))
		if strings.Contains(out, "allow-all") != want {
			t.Errorf("notes_visible: %s: want notes shown %v:\n%s", visible, want, out)
		}
	}
}

func TestRegisterRefusesCoreKeys(t *testing.T) {
	for _, register := range []func(){
		func() { RegisterSection[widgets]("routes", nil, nil) },
		func() { RegisterSection[widgets]("observability.request_id", nil, nil) },
		func() { RegisterSection[widgets]("consumers.x", nil, nil) },
		func() { RegisterCredential[widgets]("metadata", nil) },
		func() { RegisterSection[widgets]("widgets", nil, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("registering a core or taken key did not panic")
				}
			}()
			register()
		}()
	}
	if !slices.Contains(registeredKeys(scopeTop), "widgets") {
		t.Error("widgets is not registered")
	}
}
