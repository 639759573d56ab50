package limits

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

func TestClaimPart(t *testing.T) {
	k, err := ParseKey("claim:sub")
	if err != nil {
		t.Fatal(err)
	}
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "/", nil), ClientIP: netip.MustParseAddr("192.0.2.1")}
	if got := k.Render(x); got != "ip=192.0.2.1" {
		t.Errorf("no claims: key %q, want the client IP fallback", got)
	}
	anon := k.Hash(x)
	x.Set(filter.ClaimsKey{}, map[string]any{"sub": "u1"})
	if got := k.Render(x); got != "u1" {
		t.Errorf("key %q, want the claim", got)
	}
	if k.Hash(x) == anon {
		t.Error("a claim and its absence must hash apart")
	}
	x.Set(filter.ClaimsKey{}, map[string]any{"sub": ""})
	if got := k.Render(x); got != "ip=192.0.2.1" {
		t.Errorf("empty claim: key %q, want the client IP fallback", got)
	}
}

func TestParseKey(t *testing.T) {
	for _, bad := range [][]string{{"ip"}, {"header:"}, {"client_ip:x"}, {"claim"}} {
		if _, err := ParseKey(bad...); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
	k, err := ParseKey("consumer", "claim:sub")
	if err != nil || k.String() != "consumer+claim:sub" || k.Global() {
		t.Errorf("%v %v", k, err)
	}
}

// Two keys written differently keep different state across reloads, though
// their String (for humans) is the same: "header:X-A+consumer".
func TestKeyIdentTellsKeysApart(t *testing.T) {
	one, err := ParseKey("header:X-A+consumer")
	if err != nil {
		t.Fatal(err)
	}
	two, err := ParseKey("header:X-A", "consumer")
	if err != nil {
		t.Fatal(err)
	}
	if one.Ident() == two.Ident() {
		t.Errorf("%v and %v share Ident %s", one.text, two.text, one.Ident())
	}
	again, _ := ParseKey("header:X-A", "consumer")
	if again.Ident() != two.Ident() {
		t.Error("the same key has two Idents")
	}
}
