// Package docs serves the OpenAPI document of the REST surface at /openapi.json and a
// human-readable page at /docs (Swagger UI, from the npm package swagger-ui-dist, copied into
// gen/docs by scripts/generate.mjs; nothing is loaded from another origin). The document is
// generated from the same descriptor image and method policy the gateway routes by.
package docs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

//go:embed page/index.html page/init.js
var page embed.FS

// assets are the only files served from the assets directory (no other path reaches the disk).
var assets = map[string]string{
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui.css":       "text/css; charset=utf-8",
}

// csp keeps the page to its own origin: scripts only from /docs/, the document from /openapi.json.
// Swagger UI sets inline styles, and its images are data: URLs.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the document and the docs page.
type Handler struct {
	document []byte
	etag     string
	dir      string
	loadErr  error
	loaded   time.Time
}

// Load reads the document (documentPath) and remembers where the page's assets are (dir). A
// missing document does not stop the gateway: /openapi.json and /docs then answer 503 saying
// how to make it, and Err reports it for the start-up log.
func Load(documentPath, dir string) *Handler {
	h := &Handler{dir: dir, loaded: time.Now()}
	doc, err := os.ReadFile(documentPath)
	if err != nil {
		h.loadErr = fmt.Errorf("read OpenAPI document: %w (run `npm run generate` at the repo root)", err)
		return h
	}
	sum := sha256.Sum256(doc)
	h.document, h.etag = doc, `"`+hex.EncodeToString(sum[:8])+`"`
	return h
}

// Err is why the document could not be loaded (nil when it was).
func (h *Handler) Err() error { return h.loadErr }

// Match reports whether the request is for the document or the docs page.
func Match(path string) bool {
	return path == "/openapi.json" || path == "/docs" || strings.HasPrefix(path, "/docs/")
}

// ServeHTTP answers GET and HEAD; fail writes the gateway's google.rpc.Status errors.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, fail func(w http.ResponseWriter, httpStatus int, reason, msg string)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		fail(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use GET "+r.URL.Path)
		return
	}
	if h.loadErr != nil {
		fail(w, http.StatusServiceUnavailable, "OPENAPI_DOCUMENT_MISSING", "the OpenAPI document was not generated: run npm run generate")
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.URL.Path {
	case "/openapi.json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", h.etag)
		http.ServeContent(w, r, "", h.loaded, bytes.NewReader(h.document))
	case "/docs":
		http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
	case "/docs/", "/docs/index.html", "/docs/init.js":
		name := "page/index.html"
		ctype := "text/html; charset=utf-8"
		if r.URL.Path == "/docs/init.js" {
			name, ctype = "page/init.js", "text/javascript; charset=utf-8"
		}
		body, _ := page.ReadFile(name)
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", h.loaded, bytes.NewReader(body))
	default:
		name := r.URL.Path[len("/docs/"):]
		ctype, ok := assets[name]
		if !ok {
			fail(w, http.StatusNotFound, "ROUTE_NOT_FOUND", "no such file under /docs/")
			return
		}
		f, err := os.Open(filepath.Join(h.dir, name))
		if err != nil {
			fail(w, http.StatusServiceUnavailable, "OPENAPI_DOCUMENT_MISSING", "the docs assets were not generated: run npm run generate")
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			fail(w, http.StatusServiceUnavailable, "OPENAPI_DOCUMENT_MISSING", "the docs assets cannot be read")
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		http.ServeContent(w, r, name, st.ModTime(), f)
	}
}
