package config

import "testing"

func TestSplitErrors(t *testing.T) {
	got := parseErrs(t, `
listeners: [{ address: ":8080" }]
upstreams:
  stable: { targets: [{ url: "http://127.0.0.1:9001" }] }
  canary: { targets: [{ url: "http://127.0.0.1:9002" }] }
routes:
  - name: a
    match: { prefix: /a }
    split:
      - { upstream: stable, weight: 95 }
      - { upstream: canry, weight: 0 }
      - { upstream: stable, weight: 1 }
    split_by: { header: X-User, cookie: sid }
    split_force: {}
  - name: b
    match: { prefix: /b }
    split: [{ upstream: stable, weight: 1 }]
  - name: c
    match: { prefix: /c }
    upstream: stable
    split_by: { consumer: true }
  - name: d
    match: { prefix: /d }
    upstream: stable
    split: [{ upstream: stable, weight: 1 }, { upstream: canary, weight: 1 }]
`, nil)
	wantErrs(t, got,
		`gw.yaml:10:11: routes[0].split[1].upstream: unknown upstream "canry"; valid upstreams: canary, stable; did you mean "canary"?`,
		`gw.yaml:10:28: routes[0].split[1].weight: a weight above 0 is required (the side's share relative to the others': 95 and 5 send 5% to the second)`,
		`gw.yaml:11:11: routes[0].split[2].upstream: upstream "stable" is already split[0]; name each side once`,
		`gw.yaml:12:5: routes[0].split_by: exactly one key is required: header: NAME, cookie: NAME or consumer: true`,
		`gw.yaml:13:5: routes[0].split_force: exactly one is required: header: NAME or cookie: NAME, whose value names an upstream of the split`,
		`gw.yaml:16:5: routes[1].split: a split needs two or more upstreams; for one, write upstream: stable`,
		`gw.yaml:20:5: routes[2].split_by: split_by applies to a route with a split: target; add split: [{upstream: NAME, weight: N}, ...]`,
		`gw.yaml:24:5: routes[3].split: upstream and split are exclusive targets; keep one`,
	)
}
