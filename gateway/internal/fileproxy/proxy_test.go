package fileproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProxyRewritesEdgeHeadersAndStreams(t *testing.T) {
	var got http.Header
	var gotHost, gotBody string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotHost = r.Header.Clone(), r.Host
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Upload-Offset", "5")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer up.Close()
	h, err := New([]string{strings.TrimPrefix(up.URL, "http://")}, 1<<20, failText, unavailableText)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPatch, "http://public.example:8443/v1/tus/abc?x=1", strings.NewReader("hello"))
	req.RemoteAddr = "203.0.113.9:5555"
	for k, v := range map[string]string{
		"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
		"Forwarded": "for=1.2.3.4;host=evil.example", "X-Real-IP": "1.2.3.4",
		"X-Filemesh-Service": "processor", "X-Filemesh-Internal-Token": "guess", "X-Envoy-Original-Path": "/x",
		"Authorization": "Bearer t", "Upload-Offset": "0", "Tus-Resumable": "1.0.0",
	} {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || rec.Header().Get("Upload-Offset") != "5" {
		t.Fatalf("response %d %v", rec.Code, rec.Header())
	}
	want := map[string]string{
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "public.example:8443", "X-Forwarded-Proto": "http",
		"Forwarded": "", "X-Real-Ip": "", "X-Filemesh-Service": "", "X-Filemesh-Internal-Token": "",
		"X-Envoy-Original-Path": "", "Authorization": "Bearer t", "Upload-Offset": "0", "Tus-Resumable": "1.0.0",
	}
	for k, v := range want {
		if g := strings.Join(got.Values(k), ","); g != v {
			t.Errorf("upstream %s = %q, want %q", k, g, v)
		}
	}
	if gotBody != "hello" || gotHost == "public.example:8443" {
		t.Errorf("body %q host %q", gotBody, gotHost)
	}
}

func TestProxyRefusesOversizedBodies(t *testing.T) {
	h, _ := New([]string{"127.0.0.1:1"}, 4, failText, unavailableText)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, "/v1/tus/abc", strings.NewReader("12345")))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
}

func TestMatch(t *testing.T) {
	for p, want := range map[string]bool{"/v1/tus/": true, "/v1/tus": true, "/v1/tus/x": true, "/v1/tusx": false, "/v1/files": false} {
		if Match(p) != want {
			t.Errorf("Match(%q) = %v", p, !want)
		}
	}
}

func failText(w http.ResponseWriter, status int, reason, msg string) { http.Error(w, reason, status) }

func unavailableText(w http.ResponseWriter, reason, msg string) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, reason, http.StatusServiceUnavailable)
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A replica that cannot be reached is skipped for the next one (the body was never read), so a
// rolling restart costs the client nothing; with none reachable: 503 + Retry-After.
func TestProxyMovesOnWhileAReplicaIsDown(t *testing.T) {
	var bodies []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer up.Close()
	h, err := New([]string{closedAddr(t), strings.TrimPrefix(up.URL, "http://")}, 1<<20, failText, unavailableText)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ { // round-robin starts on each replica in turn
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, "http://x/v1/tus/abc", strings.NewReader("chunk")))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body.String())
		}
	}
	if len(bodies) != 4 || bodies[0] != "chunk" || bodies[3] != "chunk" {
		t.Fatalf("upstream bodies %q", bodies)
	}

	none, _ := New([]string{closedAddr(t), closedAddr(t)}, 1<<20, failText, unavailableText)
	rec := httptest.NewRecorder()
	none.ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, "http://x/v1/tus/abc", strings.NewReader("chunk")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(rec.Body.String(), "UPSTREAM_UNAVAILABLE") {
		t.Fatalf("all down: %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
}
