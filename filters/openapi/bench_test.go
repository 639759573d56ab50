package openapi

import (
	"net/http/httptest"
	"testing"

	"github.com/wasmgate/wasmgate/core/filter"
)

// benchBody is about 1 KiB and sets each of the 20 fields of Item.
const benchBody = `{"id":"6f1c1f0e-8d5a-4c1e-9a4b-1f2e3d4c5b6a","name":"Mechanical keyboard, tenkeyless, brown switches",` +
	`"sku":"KBD-0042","description":"A compact mechanical keyboard with hot-swappable switches, PBT keycaps, a detachable USB-C cable and a sturdy aluminium case. Ships with a keycap puller and two spare switches. Layout: ISO German; US ANSI on request.",` +
	`"price":129.9,"qty":250,"currency":"EUR","active":true,"created":"2026-11-30T08:15:00Z","email":"sales@keyboards.example.com",` +
	`"tags":["keyboard","mechanical","tkl","usb-c","pbt","hot-swap"],"weight":0.82,"width":36.5,"height":4.1,"depth":13.8,` +
	`"color":"graphite","vendor":{"name":"Keys and Co.","country":"DE"},"rating":4.6,"discontinued":false,` +
	`"notes":"Restocked weekly. Popular with developers; bundle with the wrist rest (WRS-0007) for a discount on orders above ten units. Returns within thirty days; the original packaging is needed. Spare keycaps ship separately."}`

func BenchmarkBody(b *testing.B) {
	f := build(b, &Config{Spec: "testdata/bench.yaml"})
	x := exchange("POST", "/items", benchBody, "Content-Type", "application/json")
	if resp := f.OnRequest(x); resp != nil {
		b.Fatalf("refused: %s", resp.Body)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if f.OnRequest(x) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkQuery(b *testing.B) {
	f := build(b, &Config{Spec: "testdata/bench.yaml"})
	x := &filter.Exchange{Request: httptest.NewRequest("GET", "/items?limit=20&sort=price", nil)}
	if resp := f.OnRequest(x); resp != nil {
		b.Fatalf("refused: %s", resp.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if f.OnRequest(x) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkBodyInvalid(b *testing.B) {
	f := build(b, &Config{Spec: "testdata/bench.yaml"})
	body := `{"id":"x","name":"","sku":"kbd","price":-1,"qty":1.5,"currency":"YEN","active":"yes","created":"now","email":"no","tags":[]}`
	x := exchange("POST", "/items", body, "Content-Type", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		if f.OnRequest(x) == nil {
			b.Fatal("let through")
		}
	}
}

func TestBenchBodySize(t *testing.T) {
	if n := len(benchBody); n < 900 || n > 1200 {
		t.Errorf("the benchmark body is %d bytes; keep it about 1 KiB", n)
	}
}
