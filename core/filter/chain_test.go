package filter

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// recorder is a filter that logs each phase it sees, and can answer itself.
type recorder struct {
	name   string
	log    *[]string
	answer int // a status to short-circuit with on request; 0 continues
}

func (f *recorder) OnRequest(x *Exchange) *Response {
	*f.log = append(*f.log, "req:"+f.name)
	if f.answer != 0 {
		return Error(f.answer, "stopped by "+f.name)
	}
	return nil
}

func (f *recorder) OnResponse(x *Exchange) *Response {
	*f.log = append(*f.log, "resp:"+f.name)
	x.Response.Header.Add("X-Seen", f.name)
	return nil
}

func (f *recorder) OnDone(x *Exchange) { *f.log = append(*f.log, "done:"+f.name) }

// requestOnly implements only the request phase.
type requestOnly struct{ log *[]string }

func (f requestOnly) OnRequest(x *Exchange) *Response {
	*f.log = append(*f.log, "req:plain")
	return nil
}

func TestChainOrder(t *testing.T) {
	var log []string
	c := NewChain([]Filter{&recorder{name: "a", log: &log}, requestOnly{&log}, &recorder{name: "b", log: &log}})
	x := &Exchange{}
	ran, local := c.Request(x)
	if local != nil || ran != 3 {
		t.Fatalf("ran=%d local=%v, want 3 and nil", ran, local)
	}
	x.Response = &Response{Status: 200, Header: http.Header{}}
	c.Response(x, ran)
	c.Done(x, ran)
	want := []string{"req:a", "req:plain", "req:b", "resp:b", "resp:a", "done:b", "done:a"}
	if !slices.Equal(log, want) {
		t.Errorf("phases ran as %v, want %v", log, want)
	}
	if got := x.Response.Header.Values("X-Seen"); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("response filters saw the response as %v, want reverse order", got)
	}
}

func TestChainShortCircuit(t *testing.T) {
	var log []string
	c := NewChain([]Filter{
		&recorder{name: "cors", log: &log},
		&recorder{name: "auth", log: &log, answer: 401},
		&recorder{name: "never", log: &log},
	})
	x := &Exchange{}
	ran, local := c.Request(x)
	if local == nil || local.Status != 401 || ran != 2 {
		t.Fatalf("ran=%d local=%v, want 2 and a 401", ran, local)
	}
	x.Response = local
	c.Response(x, ran)
	c.Done(x, ran)
	want := []string{"req:cors", "req:auth", "resp:auth", "resp:cors", "done:auth", "done:cors"}
	if !slices.Equal(log, want) {
		t.Errorf("phases ran as %v, want %v (filters after the answering one never run)", log, want)
	}
}

type bodyNeeder struct {
	requestOnly
	needs Needs
}

func (b bodyNeeder) Needs() Needs { return b.needs }

func TestChainNeedsMerge(t *testing.T) {
	var log []string
	c := NewChain([]Filter{
		bodyNeeder{requestOnly{&log}, Needs{RequestBody: true, MaxBody: 1 << 20}},
		bodyNeeder{requestOnly{&log}, Needs{ResponseBody: true, MaxBody: 4096}},
		requestOnly{&log},
	})
	got := c.Needs()
	want := Needs{RequestBody: true, ResponseBody: true, MaxBody: 4096}
	if got != want {
		t.Errorf("needs = %+v, want %+v", got, want)
	}
}

func TestErrorIsJSON(t *testing.T) {
	r := Error(404, `no route matches GET /x"y`)
	if r.Status != 404 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got status %d type %q", r.Status, r.Header.Get("Content-Type"))
	}
	want := `{"error":"no route matches GET /x\"y","status":404}` + "\n"
	if string(r.Body) != want {
		t.Errorf("body %q, want %q", r.Body, want)
	}
	if got, want := r.Header.Get("Content-Length"), strconv.Itoa(len(want)); got != want {
		t.Errorf("Content-Length %q, want %s", got, want)
	}
}
