package server

import "sync/atomic"

// Stats are what the server refused or cut before a request reached the
// gateway's handler: connections its limits refused, requests shed past
// the overload manager's hard threshold, requests the framing guard
// refused as malformed, and HTTP/2 and HTTP/3 connections closed for rapid
// reset.
// They count since the process started (a Server outlives reloads) and are
// read at scrape time through StatsSource.
type Stats struct {
	ConnectionsRefused [nRefusals]uint64 // by reason, as RefusalReasons
	RequestsShed       uint64            // 503 past server.overload.heap_hard
	RequestsMalformed  uint64            // refused by the framing guard (HTTP/1.x framing, h2 Host and content-length)
	ResetCloses        uint64            // HTTP/2 and HTTP/3 connections closed for resetting most of their streams
	OverloadLevel      int               // 0 normal, 1 refusing connections (heap_soft), 2 refusing requests (heap_hard)
}

// RefusalReasons name Stats.ConnectionsRefused's entries, as the 503 a
// refused client gets does.
var RefusalReasons = refusalReasons

// StatsSource reads the server's counters.
type StatsSource interface {
	ReadStats(*Stats)
}

// StatsObserver is implemented by observers (filter.Observer) that report
// the server's counters; the gateway hands them its server.
type StatsObserver interface {
	ObserveServer(src StatsSource)
}

// counters are the Server's live Stats.
type counters struct {
	refused     [nRefusals]atomic.Uint64
	malformed   atomic.Uint64
	resetCloses atomic.Uint64
}

// ReadStats implements StatsSource.
func (s *Server) ReadStats(st *Stats) {
	for i := range s.counters.refused {
		st.ConnectionsRefused[i] = s.counters.refused[i].Load()
	}
	st.RequestsShed = s.overload.shed.Load()
	st.RequestsMalformed = s.counters.malformed.Load()
	st.ResetCloses = s.counters.resetCloses.Load()
	st.OverloadLevel = int(s.overload.level.Load())
}
