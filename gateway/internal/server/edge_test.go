package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/config"
	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

// What a client may not choose: the calling mesh service (x-filemesh-service with the internal
// token), a sidecar's certificate (x-forwarded-client-cert), its address (x-forwarded-for and
// friends) or Envoy's internal headers. The gateway drops them from REST (transcoded and
// auto-mapped) and native gRPC calls alike; x-forwarded-for reaches the service as the TCP
// peer alone. x-link-password (a share link's password) is forwarded.
var forgedHeaders = []string{
	"X-Filemesh-Service", "file",
	"X-Filemesh-Internal-Token", "0123456789abcdef-secret",
	"X-Forwarded-Client-Cert", "By=spiffe://cluster.local/ns/filemesh/sa/auth;URI=spiffe://cluster.local/ns/filemesh/sa/file",
	"X-Forwarded-For", "198.51.100.9",
	"X-Real-Ip", "198.51.100.9",
	"Forwarded", "for=198.51.100.9",
	"X-Envoy-External-Address", "198.51.100.9",
	"X-Link-Password", "open sesame",
}

func checkEdgeMetadata(t *testing.T, via string, md metadata.MD) {
	t.Helper()
	for i := 0; i+1 < len(forgedHeaders); i += 2 {
		k := strings.ToLower(forgedHeaders[i])
		got := md.Get(k)
		switch k {
		case "x-forwarded-for":
			if len(got) != 1 || got[0] != "127.0.0.1" {
				t.Errorf("%s: x-forwarded-for = %q, want the peer 127.0.0.1 alone", via, got)
			}
		case "x-link-password":
			if len(got) != 1 || got[0] != "open sesame" {
				t.Errorf("%s: x-link-password = %q, want it forwarded", via, got)
			}
		default:
			if len(got) != 0 {
				t.Errorf("%s: client's %s reached the service as %q", via, k, got)
			}
		}
	}
}

func TestEdgeHeadersAreDroppedOnEveryPath(t *testing.T) {
	ok := fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
		return dynamicpb.NewMessage(req.Descriptor().ParentFile().Messages().ByName("LoginResponse")), nil
	})
	e := start(t, options{handlers: map[string]fu.Handler{loginPath: ok}})

	if resp, body := e.postJSON("/v1/auth:login", `{}`, forgedHeaders...); resp.StatusCode != http.StatusOK {
		t.Fatalf("REST: HTTP %d: %s", resp.StatusCode, body)
	}
	if resp, body := e.postJSON(loginPath, `{}`, forgedHeaders...); resp.StatusCode != http.StatusOK {
		t.Fatalf("auto-mapped: HTTP %d: %s", resp.StatusCode, body)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), forgedHeaders...)
	resp := dynamicpb.NewMessage(e.newMsg("filemesh.auth.v1.LoginResponse", nil).Descriptor())
	if err := e.grpcConn().Invoke(ctx, loginPath, e.newMsg("filemesh.auth.v1.LoginRequest", nil), resp); err != nil {
		t.Fatalf("native gRPC: %v", err)
	}
	calls := e.fakes["auth"][0].Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls upstream, want 3", len(calls))
	}
	for i, via := range []string{"REST", "auto-mapped", "native gRPC"} {
		checkEdgeMetadata(t, via, calls[i].MD)
	}
}

func TestCORSAllowsTheLinkPasswordHeader(t *testing.T) {
	e := start(t, options{config: func(c *config.Config) { c.CORSOrigins = []string{"https://app.example"} }})
	resp, _ := e.do("OPTIONS", "/v1/links/tok/content", nil, "Origin", "https://app.example",
		"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-link-password")
	if resp.StatusCode != http.StatusNoContent ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "x-link-password") {
		t.Fatalf("preflight %d, allow-headers %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Headers"))
	}
}
