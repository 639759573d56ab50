package filter

// Chain is a route's compiled filter chain: the filters in declared order,
// with the optional phases resolved once at build time so the hot path never
// type-asserts.
type Chain struct {
	filters  []Filter
	response []ResponseFilter // parallel to filters; nil where not implemented
	done     []DoneFilter     // parallel to filters; nil where not implemented
	reqBody  []bodyFn         // parallel to filters; nil where the request body is not streamed
	respBody []bodyFn         // likewise for the response body
	needs    Needs
}

// NewChain compiles filters into a chain.
func NewChain(filters []Filter) *Chain {
	c := &Chain{
		filters:  filters,
		response: make([]ResponseFilter, len(filters)),
		done:     make([]DoneFilter, len(filters)),
	}
	for i, f := range filters {
		if rf, ok := f.(ResponseFilter); ok {
			c.response[i] = rf
		}
		if df, ok := f.(DoneFilter); ok {
			c.done[i] = df
		}
		if bf, ok := f.(BodyFilter); ok {
			n := bf.Needs()
			c.needs = c.needs.Merge(n)
			if rb, ok := f.(RequestBodyFilter); ok && n.StreamRequestBody {
				c.reqBody = grow(c.reqBody, len(filters))
				c.reqBody[i] = rb.OnRequestBody
			}
			if rb, ok := f.(ResponseBodyFilter); ok && n.StreamResponseBody {
				c.respBody = grow(c.respBody, len(filters))
				c.respBody[i] = rb.OnResponseBody
			}
		}
	}
	return c
}

// grow makes fns parallel to n filters on first use, so a chain that
// streams no body keeps nil.
func grow(fns []bodyFn, n int) []bodyFn {
	if fns == nil {
		fns = make([]bodyFn, n)
	}
	return fns
}

// Len is the number of filters in the chain.
func (c *Chain) Len() int { return len(c.filters) }

// Needs is the union of the chain's body needs.
func (c *Chain) Needs() Needs { return c.needs }

// Filters returns the chain's filters in declared order.
func (c *Chain) Filters() []Filter { return c.filters }

// Request runs the request phase. It returns how many filters ran (the
// response and done phases cover exactly those) and the local response that
// ended the exchange, if any. It also stops after a filter that marked the
// route stale (route.go), so the caller can choose the route again before
// anything else runs: ran < Len() then, with no local response.
func (c *Chain) Request(x *Exchange) (ran int, local *Response) {
	return c.RequestFrom(x, 0)
}

// RequestFrom runs the request phase from filter from on, after the first
// from filters ran (a re-selection that kept the route resumes here). ran
// counts every filter run, those before from included.
func (c *Chain) RequestFrom(x *Exchange, from int) (ran int, local *Response) {
	for i := from; i < len(c.filters); i++ {
		if r := c.filters[i].OnRequest(x); r != nil {
			return i + 1, r
		}
		if x.routeStale {
			return i + 1, nil
		}
	}
	return len(c.filters), nil
}

// Response runs the response phase in reverse order over the first ran
// filters. x.Response must be set; a filter's replacement takes its place for
// the filters before it.
func (c *Chain) Response(x *Exchange, ran int) {
	for i := ran - 1; i >= 0; i-- {
		if rf := c.response[i]; rf != nil {
			if r := rf.OnResponse(x); r != nil {
				x.Response = r
			}
		}
	}
}

// Done tells the first ran filters, in reverse order, that the exchange is over.
func (c *Chain) Done(x *Exchange, ran int) {
	for i := ran - 1; i >= 0; i-- {
		if df := c.done[i]; df != nil {
			df.OnDone(x)
		}
	}
}
