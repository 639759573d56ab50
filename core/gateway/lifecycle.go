package gateway

import "io"

// A snapshot in use by requests must not be closed under them. Each request
// holds it (acquire/release); a reload marks the old snapshot retired, and
// whoever sees it retired with no request left closes it: filter state,
// upstream pools the new snapshot did not reuse, kept values nobody uses.

// release ends one request's use of s.
func (s *Snapshot) release() {
	if s.active.Add(-1) == 0 && s.retired.Load() {
		s.closeOnce()
	}
}

// retireFrom marks s replaced by next (nil: replaced by nothing, at
// shutdown or for a snapshot that never went live) and closes it at once if
// no request holds it.
func (s *Snapshot) retireFrom(next *Snapshot) {
	if next != nil {
		s.next.Store(next)
	}
	s.retired.Store(true)
	if s.active.Load() == 0 {
		s.closeOnce()
	}
}

func (s *Snapshot) closeOnce() {
	s.closed.Do(func() {
		next := s.next.Load()
		for name, u := range s.upstreams {
			if next == nil || next.upstreams[name] != u {
				u.Close()
			}
		}
		for _, r := range s.routes {
			for _, f := range r.chain.Filters() {
				if c, ok := f.(io.Closer); ok {
					_ = c.Close()
				}
			}
		}
		if s.keep != nil {
			s.keep.release(s.Generation)
		}
	})
}
