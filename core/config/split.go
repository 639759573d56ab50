package config

// SplitTarget is one side of a route's split: an upstream and its share.
type SplitTarget struct {
	Upstream string `yaml:"upstream"` // a name from upstreams
	// Weight is the side's share, relative to the others' (95 and 5 send
	// 5% to the second). Required, above 0.
	Weight int `yaml:"weight"`
}

// SplitKey makes a split sticky: requests with the same key go to the same
// side, on every gateway instance and across reloads (the side is a hash of
// the key). Exactly one source. Requests without the key are spread by
// weight alone.
type SplitKey struct {
	Header   string `yaml:"header"`   // the request header whose value is the key
	Cookie   string `yaml:"cookie"`   // the cookie whose value is the key
	Consumer bool   `yaml:"consumer"` // the authenticated consumer's name
}

// SplitForce lets a request choose its side, for testing a canary: the
// header's or cookie's value names an upstream of the split. A value that
// names none is ignored. Exactly one source.
type SplitForce struct {
	Header string `yaml:"header"` // the request header naming the upstream
	Cookie string `yaml:"cookie"` // the cookie naming the upstream
}

// split checks a route's split target and its key and force.
func (v *Validator) split(p string, r *Route) {
	switch len(r.Split) {
	case 0:
		v.Errorf(p+".split", "a split needs two or more upstreams: [{upstream: v1, weight: 95}, {upstream: v2, weight: 5}]")
	case 1:
		v.Errorf(p+".split", "a split needs two or more upstreams; for one, write upstream: %s", r.Split[0].Upstream)
	}
	seen := map[string]int{}
	for i, s := range r.Split {
		sp := JoinIndex(p+".split", i)
		switch j, dup := seen[s.Upstream]; {
		case s.Upstream == "":
			v.Errorf(sp+".upstream", "an upstream is required: one of the names under upstreams")
		case dup:
			v.Errorf(sp+".upstream", "upstream %q is already split[%d]; name each side once", s.Upstream, j)
		default:
			v.Upstream(sp+".upstream", s.Upstream)
			seen[s.Upstream] = i
		}
		if s.Weight <= 0 {
			v.Errorf(sp+".weight", "a weight above 0 is required (the side's share relative to the others': 95 and 5 send 5%% to the second)")
		}
	}
	if k := r.SplitBy; k != nil {
		n := 0
		for _, on := range []bool{k.Header != "", k.Cookie != "", k.Consumer} {
			if on {
				n++
			}
		}
		if n != 1 {
			v.Errorf(p+".split_by", "exactly one key is required: header: NAME, cookie: NAME or consumer: true")
		}
		if k.Header != "" && !IsToken(k.Header) {
			v.Errorf(p+".split_by.header", "%q is not a valid header name", k.Header)
		}
		if k.Cookie != "" && !IsToken(k.Cookie) {
			v.Errorf(p+".split_by.cookie", "%q is not a valid cookie name", k.Cookie)
		}
	}
	if f := r.SplitForce; f != nil {
		if (f.Header == "") == (f.Cookie == "") {
			v.Errorf(p+".split_force", "exactly one is required: header: NAME or cookie: NAME, whose value names an upstream of the split")
		}
		if f.Header != "" && !IsToken(f.Header) {
			v.Errorf(p+".split_force.header", "%q is not a valid header name", f.Header)
		}
		if f.Cookie != "" && !IsToken(f.Cookie) {
			v.Errorf(p+".split_force.cookie", "%q is not a valid cookie name", f.Cookie)
		}
	}
}

// splitExtras reports split_by or split_force on a route without a split.
func (v *Validator) splitExtras(p string, r *Route) {
	for _, f := range []struct {
		name string
		on   bool
	}{{"split_by", r.SplitBy != nil}, {"split_force", r.SplitForce != nil}} {
		if f.on {
			v.Errorf(p+"."+f.name, "%s applies to a route with a split: target; add split: [{upstream: NAME, weight: N}, ...]", f.name)
		}
	}
}
