package config

import "testing"

func TestAggregateValidation(t *testing.T) {
	got := parseErrs(t, `
listeners: [{address: ":8080"}]
upstreams: {users: {targets: [{url: "http://127.0.0.1:9001"}]}}
routes:
  - name: home
    match: {path: "/home/{id}"}
    upstream: users
    aggregate: {calls: [{upstream: users, path: /x, as: a}]}
  - name: home2
    rewrite: {path: /y}
    aggregate:
      calls:
        - {upstream: userz, path: x, as: a, merge: true}
        - {name: header, upstream: users, path: /b}
        - {name: b, upstream: users, path: /b, as: a, required: false}
        - {name: c, upstream: users, path: /c, as: _partial, after: [b, c]}
        - {name: b, upstream: users, method: "G T", path: /d, as: d, after: zz}
  - name: home3
    aggregate: {calls: []}
`, env())
	wantErrs(t, got,
		`gw.yaml:7:5: routes[0].aggregate: upstream and aggregate are exclusive targets; keep one`,
		`gw.yaml:9:5: routes[1].rewrite: rewrite does not apply to an aggregate; each call's path says what its backend gets`,
		`gw.yaml:12:12: routes[1].aggregate.calls[0].upstream: unknown upstream "userz"; valid upstreams: users; did you mean "users"?`,
		`gw.yaml:12:29: routes[1].aggregate.calls[0].path: "x" must start with "/", e.g. /users/{id}`,
		`gw.yaml:12:38: routes[1].aggregate.calls[0].as: as and merge are exclusive: place the result under a key, or merge its fields`,
		`gw.yaml:13:11: routes[1].aggregate.calls[1]: say where the result goes: as: <key>, or merge: true`,
		`gw.yaml:13:12: routes[1].aggregate.calls[1].name: call name "header" is reserved for placeholders; choose another name`,
		`gw.yaml:14:48: routes[1].aggregate.calls[2].as: key "a" is already used by calls[0]; results would overwrite each other`,
		`gw.yaml:15:48: routes[1].aggregate.calls[3].as: "_partial" is reserved for the list of calls left out`,
		`gw.yaml:15:70: routes[1].aggregate.calls[3].after[0]: required call "c" waits for optional call "b", which may be left out; make "c" optional (required: false) or "b" required`,
		`gw.yaml:15:73: routes[1].aggregate.calls[3].after[1]: a call cannot wait for itself`,
		`gw.yaml:16:12: routes[1].aggregate.calls[4].name: call name "b" is already used by calls[2]; set name: to tell them apart`,
		`gw.yaml:16:38: routes[1].aggregate.calls[4].method: "G T" is not a valid HTTP method (a token like GET)`,
		`gw.yaml:16:70: routes[1].aggregate.calls[4].after: unknown call "zz"; valid calls: a, b, c`,
		`gw.yaml:18:17: routes[2].aggregate.calls: an aggregate needs at least one call, e.g. calls: [{upstream: users, path: "/users/{id}", as: profile}]`,
	)
}
