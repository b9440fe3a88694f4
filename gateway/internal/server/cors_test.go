package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/config"
	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

func TestCORS(t *testing.T) {
	e := start(t, options{config: func(c *config.Config) { c.CORSOrigins = []string{"https://app.example.com"} }})
	resp, _ := e.do("OPTIONS", "/v1/auth:login", nil, "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		resp.Header.Get("Access-Control-Allow-Headers") != "authorization, content-type" {
		t.Errorf("allowed preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = e.do("OPTIONS", "/v1/auth:login", nil, "Origin", "https://evil.example.com", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = e.do("GET", "/v1/nowhere", nil, "Origin", "https://app.example.com")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("simple request: %v", resp.Header)
	}
	resp, _ = e.do("GET", "/v1/nowhere", nil, "Origin", "https://evil.example.com")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed origin got CORS headers: %v", resp.Header)
	}
}

func TestAutoMappingAndInternalRPCs(t *testing.T) {
	var e *env
	e = start(t, options{handlers: map[string]fu.Handler{
		loginPath: fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			return e.newMsg("filemesh.auth.v1.LoginResponse", map[string]any{"user_id": fu.Get(req, "email").String()}), nil
		}),
		"/filemesh.file.v1.FileService/SetFileState": fu.Fail(status.Error(codes.Internal, "must not be called")),
	}})
	resp, body := e.postJSON(loginPath, `{"email":"u@example.com"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"userId":"u@example.com"`) {
		t.Errorf("auto-mapped Login: HTTP %d %s", resp.StatusCode, body)
	}
	resp, body = e.postJSON(loginPath, `{"email":`)
	if resp.StatusCode != 400 || decodeStatus(t, body).reason() != "MALFORMED_JSON" {
		t.Errorf("auto-mapped malformed JSON: HTTP %d %s", resp.StatusCode, body)
	}
	// Internal RPCs are reachable neither as REST nor as native gRPC.
	resp, body = e.postJSON("/filemesh.file.v1.FileService/SetFileState", `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("internal RPC over REST: HTTP %d %s", resp.StatusCode, body)
	}
	err := e.grpcConn().Invoke(context.Background(), "/filemesh.file.v1.FileService/SetFileState",
		e.newMsg("filemesh.file.v1.SetFileStateRequest", nil),
		dynamicpb.NewMessage(e.newMsg("filemesh.file.v1.SetFileStateResponse", nil).Descriptor()))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("internal RPC over gRPC: %v", err)
	}
	if n := e.calls("file", "/filemesh.file.v1.FileService/SetFileState"); n != 0 {
		t.Errorf("internal RPC reached the service %d times", n)
	}
}
