package gateway

// Start-up pages: the gateway's executable is large (60 MB: QUIC, ACME,
// gRPC, OTLP, Wasm, Redis), and starting it runs the initialization of some
// 300 packages and the config loader. The kernel maps the binary's code and
// tables in 64 KiB runs around each first touch, so a gateway that has just
// started has about 26 MB of its executable resident, of which serving
// touches only half: the rest is code and tables that initialization and
// config loading used once. Those pages are clean file pages, already in the
// page cache; releasePages unmaps them from the process (madvise
// MADV_DONTNEED on the executable's read-only, unmodified mappings), and
// what serving uses comes back on its first touch as a minor fault from the
// page cache. The executable is never modified, so nothing can be lost: a
// mapping that holds any private (modified) page is left alone.
//
// It runs once the gateway is serving and after each reload, whose config
// loading touches its own share of the binary again. Idle RSS 30.9 MiB
// without it, 18.6 MiB with it (docs/performance.md).

// releaseStartupPages releases the pages and logs what it gave back.
func (g *Gateway) releaseStartupPages(why string) {
	resident, kept, err := releasePages()
	if err != nil {
		g.logger.Warn("could not release the executable's start-up pages", "after", why, "err", err)
		return
	}
	g.logger.Debug("released the executable's start-up pages", "after", why,
		"resident_kb", resident>>10, "released_kb", (resident-kept)>>10)
}
