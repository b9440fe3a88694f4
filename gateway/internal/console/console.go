// Package console serves the web console (console/dist, built by `npm run build`) at /: static
// files from one directory, and index.html for any other page path so the single-page app can
// route on the client. It never answers for the API: /v1/…, /healthz, /openapi.json, /docs and
// gRPC or Connect method paths (/pkg.Service/Method) are left to the rest of the gateway, and
// only GET and HEAD are served. Nothing outside the directory is reachable.
package console

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/filemesh/filemesh/gateway/internal/docs"
)

// CSP keeps the console to its own origin: its scripts and styles from /, API calls to the same
// origin, images only from itself or blob:/data: URLs it made. No inline script or style.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the files of one directory.
type Handler struct {
	dir string
}

// New serves dir (relative to the working directory when not absolute).
func New(dir string) *Handler { return &Handler{dir: dir} }

// Available reports whether the console was built (dir/index.html exists).
func (h *Handler) Available() bool {
	st, err := os.Stat(filepath.Join(h.dir, "index.html"))
	return err == nil && !st.IsDir()
}

// Match reports whether a plain HTTP request is for the console. When the console was not built
// every path falls through to the gateway's own 404, as before.
func (h *Handler) Match(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.URL.Query().Get("connect") != "" || r.Header.Get("Connect-Protocol-Version") != "" {
		return false
	}
	return !Reserved(r.URL.Path) && h.Available()
}

// Reserved paths belong to the API and the gateway, never to the console.
func Reserved(p string) bool {
	switch {
	case p == "/v1" || strings.HasPrefix(p, "/v1/"):
		return true
	case p == "/healthz" || docs.Match(p):
		return true
	}
	// gRPC, gRPC-Web and Connect: /package.Service/Method.
	first, rest, nested := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return nested && rest != "" && strings.Contains(first, ".")
}

// ServeHTTP answers a request that Match accepted.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, fail func(w http.ResponseWriter, httpStatus int, reason, msg string)) {
	clean := path.Clean("/" + r.URL.Path) // no ".." can leave the directory
	w.Header().Set("Content-Security-Policy", CSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	if clean != "/" && !strings.HasSuffix(clean, "/index.html") {
		if f, st, ok := h.open(clean); ok {
			defer f.Close()
			if strings.HasPrefix(clean, "/assets/") { // Vite names them by content hash
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			http.ServeContent(w, r, st.Name(), st.ModTime(), f)
			return
		}
		// A missing file with an extension (an old asset, a typo) is a real 404, not the app.
		if strings.Contains(path.Base(clean), ".") {
			fail(w, http.StatusNotFound, "ROUTE_NOT_FOUND", "no such file: "+clean)
			return
		}
	}
	f, st, ok := h.open("/index.html")
	if !ok {
		fail(w, http.StatusServiceUnavailable, "CONSOLE_MISSING", "the console was not built: run npm run build")
		return
	}
	defer f.Close()
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	http.ServeContent(w, r, "index.html", st.ModTime(), f)
}

// open opens a regular file under the directory; hidden files and directories are not served.
func (h *Handler) open(clean string) (*os.File, os.FileInfo, bool) {
	for _, seg := range strings.Split(clean, "/") {
		if strings.HasPrefix(seg, ".") {
			return nil, nil, false
		}
	}
	f, err := os.Open(filepath.Join(h.dir, filepath.FromSlash(clean)))
	if err != nil {
		return nil, nil, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, false
	}
	return f, st, true
}
