package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func site(t *testing.T) *Handler {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>console</title>"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "assets", "app-1234.js"), []byte("console.log(1)"), 0o644))
	must(os.WriteFile(filepath.Join(dir, ".secret"), []byte("no"), 0o644))
	must(os.WriteFile(filepath.Join(filepath.Dir(dir), "outside.txt"), []byte("no"), 0o644))
	return New(dir)
}

func serve(h *Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil), func(w http.ResponseWriter, code int, reason, msg string) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"reason":%q}`, reason)
	})
	return rec
}

func TestServesFilesAndFallsBackToIndex(t *testing.T) {
	h := site(t)
	cases := []struct {
		path, want, ctype string
		code              int
	}{
		{"/", "<title>console</title>", "text/html", 200},
		{"/files/abc", "<title>console</title>", "text/html", 200}, // SPA route
		{"/trash", "<title>console</title>", "text/html", 200},
		{"/assets/app-1234.js", "console.log(1)", "javascript", 200},
		{"/assets/gone-9999.js", "ROUTE_NOT_FOUND", "", 404},
		{"/.secret", "ROUTE_NOT_FOUND", "", 404},
		{"/../outside.txt", "ROUTE_NOT_FOUND", "", 404},
		{"/assets/../../outside.txt", "ROUTE_NOT_FOUND", "", 404},
	}
	for _, c := range cases {
		rec := serve(h, "GET", c.path)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("GET %s: %d %q, want %d containing %q", c.path, rec.Code, rec.Body.String(), c.code, c.want)
		}
		if c.ctype != "" && !strings.Contains(rec.Header().Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s: content-type %q", c.path, rec.Header().Get("Content-Type"))
		}
		if rec.Header().Get("Content-Security-Policy") != CSP {
			t.Errorf("GET %s: no CSP", c.path)
		}
	}
	if got := serve(h, "GET", "/assets/app-1234.js").Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("hashed asset cache-control %q", got)
	}
	if got := serve(h, "GET", "/").Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("index cache-control %q", got)
	}
}

func TestCSPIsSameOriginOnly(t *testing.T) {
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q: %s", bad, CSP)
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
}

func TestNeverShadowsTheAPI(t *testing.T) {
	h := site(t)
	for _, c := range []struct {
		method, target string
		header         string
		want           bool
	}{
		{"GET", "/", "", true},
		{"HEAD", "/files/x", "", true},
		{"GET", "/favicon.svg", "", true},
		{"POST", "/", "", false},
		{"DELETE", "/files/x", "", false},
		{"GET", "/v1", "", false},
		{"GET", "/v1/files", "", false},
		{"GET", "/v1/nowhere", "", false},
		{"GET", "/healthz", "", false},
		{"GET", "/openapi.json", "", false},
		{"GET", "/docs", "", false},
		{"GET", "/docs/index.html", "", false},
		{"GET", "/filemesh.file.v1.FileService/GetFile", "", false},
		{"GET", "/grpc.health.v1.Health/Check", "", false},
		{"GET", "/anything?connect=v1", "", false},
		{"GET", "/x", "1", false},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.header != "" {
			r.Header.Set("Connect-Protocol-Version", c.header)
		}
		if got := h.Match(r); got != c.want {
			t.Errorf("%s %s: Match %v, want %v", c.method, c.target, got, c.want)
		}
	}
	// Not built: nothing matches, so the gateway answers its own 404 as before.
	if New(filepath.Join(t.TempDir(), "missing")).Match(httptest.NewRequest("GET", "/", nil)) {
		t.Error("a missing console directory must not match")
	}
}
