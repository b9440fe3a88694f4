package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/config"
	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

// The console is served at / and for page paths, while every API path keeps answering as the
// API: the REST routes, unknown /v1 routes, /healthz and non-GET requests.
func TestConsoleServedBesideTheAPI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<title>console</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := start(t, options{
		handlers: map[string]fu.Handler{
			getFilePath: fu.Unary(func(context.Context, *dynamicpb.Message) (proto.Message, error) {
				return fu.Message(t, fu.LoadSchema(t), "filemesh.file.v1.GetFileResponse", nil), nil
			}),
		},
		config: func(c *config.Config) { c.ConsoleDir = dir },
	})

	for _, p := range []string{"/", "/files/abc"} {
		res, body := e.do("GET", p, nil)
		if res.StatusCode != 200 || !strings.Contains(string(body), "<title>console</title>") {
			t.Errorf("GET %s: %d %s", p, res.StatusCode, body)
		}
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: CSP %q", p, res.Header.Get("Content-Security-Policy"))
		}
	}
	res, body := e.do("GET", "/v1/files/f1", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /v1/files/f1: %d %s", res.StatusCode, body)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/v1/nowhere"}, {"POST", "/"}, {"DELETE", "/files/abc"}} {
		res, body := e.do(c.method, c.path, nil)
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	if res, _ := e.do("GET", "/healthz", nil); !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/healthz content-type %q", res.Header.Get("Content-Type"))
	}
}
