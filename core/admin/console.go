package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// The console: a page on the admin listener that reads the admin API's
// JSON endpoints. Its files are embedded, hand-written HTML, CSS and JS
// with no build step and nothing fetched from elsewhere (docs/rationale.md).
//
//go:embed ui
var consoleFiles embed.FS

// consoleHandler serves the console's files under /ui/. The page loads
// only its own files and talks only to this origin, which the Content
// Security Policy holds it to.
func consoleHandler() http.Handler {
	sub, err := fs.Sub(consoleFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
