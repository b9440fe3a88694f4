package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/filemesh/filemesh/gateway/internal/config"
	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

const (
	loginPath    = "/filemesh.auth.v1.AuthService/Login"
	getFilePath  = "/filemesh.file.v1.FileService/GetFile"
	listFilePath = "/filemesh.file.v1.FileService/ListFiles"
)

func TestRESTTranscodesRequestAndResponse(t *testing.T) {
	var got *dynamicpb.Message
	e := start(t, options{handlers: map[string]fu.Handler{
		loginPath: fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			got = req
			return fu.Message(t, fu.LoadSchema(t), "filemesh.auth.v1.LoginResponse", map[string]any{
				"access_token": "at", "token_type": "Bearer", "expires_in": int32(900), "user_id": "u1",
			}), nil
		}),
	}})
	resp, body := e.postJSON("/v1/auth:login", `{"email":"a@example.com","password":"pw-123456"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if email := fu.Get(got, "email").String(); email != "a@example.com" {
		t.Errorf("upstream got email %q", email)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out["accessToken"] != "at" || out["tokenType"] != "Bearer" || out["expiresIn"] != float64(900) || out["userId"] != "u1" {
		t.Errorf("response %s", body)
	}
}

func TestRESTStatusMapping(t *testing.T) {
	cases := []struct {
		code codes.Code
		http int
	}{
		{codes.InvalidArgument, 400}, {codes.FailedPrecondition, 400}, {codes.OutOfRange, 400},
		{codes.Unauthenticated, 401}, {codes.PermissionDenied, 403}, {codes.NotFound, 404},
		{codes.AlreadyExists, 409}, {codes.Aborted, 409}, {codes.ResourceExhausted, 429},
		{codes.Unknown, 500}, {codes.Internal, 500}, {codes.DataLoss, 500}, {codes.Unimplemented, 501},
		{codes.Unavailable, 503}, {codes.DeadlineExceeded, 504},
	}
	for _, c := range cases {
		t.Run(c.code.String(), func(t *testing.T) {
			st, _ := status.New(c.code, "nope").WithDetails(&errdetails.ErrorInfo{Reason: "WHY", Domain: "auth.filemesh"})
			e := start(t, options{handlers: map[string]fu.Handler{loginPath: fu.Fail(st.Err())}})
			resp, body := e.postJSON("/v1/auth:login", `{"email":"a@example.com"}`)
			if resp.StatusCode != c.http {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, c.http, body)
			}
			got := decodeStatus(t, body)
			if got.Code != int(c.code) || got.Message != "nope" || got.reason() != "WHY" {
				t.Errorf("body %s", body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestRESTResourceExhaustedWithRetryInfoSetsRetryAfter(t *testing.T) {
	st, _ := status.New(codes.ResourceExhausted, "too many logins").WithDetails(
		&errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: "auth.filemesh"},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(2500 * time.Millisecond)},
	)
	e := start(t, options{handlers: map[string]fu.Handler{loginPath: fu.Fail(st.Err())}})
	resp, body := e.postJSON("/v1/auth:login", `{}`)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "3" {
		t.Errorf("Retry-After %q, want 3 (2.5 s rounded up)", ra)
	}
	got := decodeStatus(t, body)
	var hasRetry bool
	for _, d := range got.Details {
		hasRetry = hasRetry || d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
	}
	if !hasRetry || got.reason() != "RATE_LIMITED" {
		t.Errorf("details %s", body)
	}
}

func TestRESTStatusByReason(t *testing.T) {
	fail := func(c codes.Code, reason string) fu.Handler {
		st, _ := status.New(c, "nope").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "file.filemesh"})
		return fu.Fail(st.Err())
	}
	e := start(t, options{handlers: map[string]fu.Handler{
		"/filemesh.file.v1.FileService/UpdateFile":   fail(codes.FailedPrecondition, "ETAG_MISMATCH"),
		"/filemesh.file.v1.FileService/DeleteFile":   fail(codes.FailedPrecondition, "HOME_FOLDER"),
		"/filemesh.file.v1.FileService/CreateUpload": fail(codes.ResourceExhausted, "UPLOAD_TOO_LARGE"),
		"/filemesh.file.v1.FileService/GetUsage":     fail(codes.ResourceExhausted, "QUOTA_EXCEEDED"),
		uploadFilePath: func(_ context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
			for stream.RecvMsg(dynamicpb.NewMessage(md.Input())) == nil {
			}
			st, _ := status.New(codes.ResourceExhausted, "too big").WithDetails(&errdetails.ErrorInfo{Reason: "UPLOAD_TOO_LARGE"})
			return st.Err()
		},
	}})
	cases := []struct {
		method, path, body string
		want               int
		reason             string
	}{
		{"PATCH", "/v1/files/f1?updateMask=name", `{"name":"n","etag":"stale"}`, 412, "ETAG_MISMATCH"},
		{"DELETE", "/v1/files/f1", "", 400, "HOME_FOLDER"},
		{"POST", "/v1/uploads", `{"name":"n","sizeBytes":"1"}`, 413, "UPLOAD_TOO_LARGE"},
		{"GET", "/v1/usage", "", 429, "QUOTA_EXCEEDED"},
		{"POST", "/v1/files:upload?name=n", "raw bytes", 413, "UPLOAD_TOO_LARGE"},
	}
	for _, c := range cases {
		resp, body := e.do(c.method, c.path, strings.NewReader(c.body), "Content-Type", "application/json")
		if st := decodeStatus(t, body); resp.StatusCode != c.want || st.reason() != c.reason {
			t.Errorf("%s %s: HTTP %d (want %d) %s", c.method, c.path, resp.StatusCode, c.want, body)
		}
	}
}

func TestRESTPathVariablesAreUnescapedOnce(t *testing.T) {
	var got []string
	e := start(t, options{handlers: map[string]fu.Handler{
		"/filemesh.user.v1.UserService/RemoveGroupMember": fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			got = append(got, fu.String(req, "group_id")+" "+fu.String(req, "member_id"))
			return dynamicpb.NewMessage(req.Descriptor().ParentFile().Messages().ByName("RemoveGroupMemberResponse")), nil
		}),
		"/filemesh.file.v1.FileService/CopyFile": fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			got = append(got, "copy "+fu.String(req, "file_id"))
			return dynamicpb.NewMessage(req.Descriptor().ParentFile().Messages().ByName("CopyFileResponse")), nil
		}),
	}})
	cases := []struct{ method, path, want string }{
		{"DELETE", "/v1/groups/g1/members/user%3Aabc", "g1 user:abc"},
		{"DELETE", "/v1/groups/g1/members/user%3aabc", "g1 user:abc"},
		{"DELETE", "/v1/groups/g1/members/abc", "g1 abc"},
		{"DELETE", "/v1/groups/g%201/members/group%3Ax%2Fy", "g 1 group:x/y"},
		{"DELETE", "/v1/groups/g1/members/user%253Aabc", "g1 user%3Aabc"}, // decoded once, not twice
		{"POST", "/v1/files/f%3A1:copy", "copy f:1"},
	}
	for _, c := range cases {
		got = nil
		var req io.Reader
		if c.method == "POST" {
			req = strings.NewReader("{}")
		}
		resp, body := e.do(c.method, c.path, req, "Content-Type", "application/json")
		if resp.StatusCode != 200 || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s %s: HTTP %d %s, upstream saw %q, want %q", c.method, c.path, resp.StatusCode, body, got, c.want)
		}
	}
}

func TestRESTClientMistakesAreNot500(t *testing.T) {
	e := start(t, options{
		handlers: map[string]fu.Handler{
			loginPath:    fu.Fail(status.Error(codes.Internal, "must not be called")),
			listFilePath: fu.Fail(status.Error(codes.Internal, "must not be called")),
		},
		config: func(c *config.Config) { c.MaxBodyBytes = 64 },
	})
	big := `{"email":"` + strings.Repeat("x", 100) + `"}`
	cases := []struct {
		name, method, path, body string
		chunked                  bool
		want                     int
		reason                   string
	}{
		{"malformed JSON", "POST", "/v1/auth:login", `{"email":`, false, 400, "MALFORMED_JSON"},
		{"not an object", "POST", "/v1/auth:login", `[1,2]`, false, 400, "MALFORMED_JSON"},
		{"unknown field", "POST", "/v1/auth:login", `{"emial":"x"}`, false, 400, "MALFORMED_JSON"},
		{"wrong type", "POST", "/v1/auth:login", `{"email":12}`, false, 400, "MALFORMED_JSON"},
		{"bad query number", "GET", "/v1/files?pageSize=abc", "", false, 400, "INVALID_REQUEST"},
		{"unknown query parameter", "GET", "/v1/files?nope=1", "", false, 400, "INVALID_REQUEST"},
		{"body over limit", "POST", "/v1/auth:login", big, false, 413, "BODY_TOO_LARGE"},
		{"chunked body over limit", "POST", "/v1/auth:login", big, true, 413, "BODY_TOO_LARGE"},
		{"unknown route", "GET", "/v1/nowhere", "", false, 404, "ROUTE_NOT_FOUND"},
		{"unknown verb", "POST", "/v1/auth:nothing", "{}", false, 404, "ROUTE_NOT_FOUND"},
		{"wrong method", "DELETE", "/v1/auth:login", "", false, 405, "METHOD_NOT_ALLOWED"},
		{"unsupported media type", "POST", "/v1/auth:login", "<x/>", false, 415, "UNSUPPORTED_MEDIA_TYPE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
			if c.chunked {
				req.ContentLength = -1 // sent chunked: the limit must hold while reading
				req.Body = io.NopCloser(strings.NewReader(c.body))
			}
			if c.name == "unsupported media type" {
				req.Header.Set("Content-Type", "application/xml")
			} else if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var raw json.RawMessage
			_ = json.NewDecoder(resp.Body).Decode(&raw)
			if resp.StatusCode != c.want {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, c.want, raw)
			}
			if st := decodeStatus(t, raw); st.reason() != c.reason || st.Message == "" {
				t.Errorf("reason %q, want %q: %s", st.reason(), c.reason, raw)
			}
		})
	}
	if n := e.calls("auth", loginPath) + e.calls("file", listFilePath); n != 0 {
		t.Errorf("refused requests reached a service %d times", n)
	}
}

func TestRESTAcceptsCurlDefaultContentType(t *testing.T) {
	e := start(t, options{handlers: map[string]fu.Handler{
		loginPath: fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			return dynamicpb.NewMessage(req.Descriptor().ParentFile().Messages().ByName("LoginResponse")), nil
		}),
	}})
	resp, body := e.do("POST", "/v1/auth:login", strings.NewReader(`{"email":"a@b.c"}`),
		"Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
}

func TestRESTForwardsMetadataAndSetsRequestID(t *testing.T) {
	ok := fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
		return dynamicpb.NewMessage(req.Descriptor().ParentFile().Messages().ByName("LoginResponse")), nil
	})
	e := start(t, options{handlers: map[string]fu.Handler{loginPath: ok}})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	resp, body := e.postJSON("/v1/auth:login", `{}`,
		"Authorization", "Bearer tok", "Traceparent", tp, "Tracestate", "vendor=1")
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	generated := resp.Header.Get("X-Request-Id")
	if len(generated) != 36 {
		t.Fatalf("X-Request-Id %q, want a generated UUID", generated)
	}
	md := e.fakes["auth"][0].Calls()[0].MD
	for k, want := range map[string]string{"authorization": "Bearer tok", "traceparent": tp, "tracestate": "vendor=1", "x-request-id": generated} {
		if got := md.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("metadata %s = %v, want %q", k, got, want)
		}
	}
	if got := md.Get("x-forwarded-for"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("x-forwarded-for %v", got)
	}

	resp, _ = e.postJSON("/v1/auth:login", `{}`, "X-Request-Id", "req-42")
	if got := resp.Header.Get("X-Request-Id"); got != "req-42" {
		t.Errorf("echoed X-Request-Id %q, want req-42", got)
	}
	if got := e.fakes["auth"][0].Calls()[1].MD.Get("x-request-id"); len(got) != 1 || got[0] != "req-42" {
		t.Errorf("forwarded x-request-id %v", got)
	}
	resp, _ = e.do("GET", "/v1/nowhere", nil, "X-Request-Id", "req-43")
	if got := resp.Header.Get("X-Request-Id"); got != "req-43" {
		t.Errorf("X-Request-Id on a 404: %q", got)
	}
}

func TestRESTUpstreamTimeoutIs504(t *testing.T) {
	block := func(ctx context.Context, _ *dynamicpb.Message) (proto.Message, error) {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	e := start(t, options{
		handlers: map[string]fu.Handler{loginPath: fu.Unary(block)},
		config:   func(c *config.Config) { c.UpstreamTimeout = 50 * time.Millisecond },
	})
	resp, body := e.postJSON("/v1/auth:login", `{}`)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	if st := decodeStatus(t, body); st.Code != int(codes.DeadlineExceeded) {
		t.Errorf("code %d", st.Code)
	}
}

func TestRESTUpstreamDownIs503(t *testing.T) {
	e := start(t, options{config: func(c *config.Config) { c.Upstreams["auth"] = []string{"127.0.0.1:1"} }})
	resp, body := e.postJSON("/v1/auth:login", `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	if st := decodeStatus(t, body); st.Code != int(codes.Unavailable) || st.reason() != "UNAVAILABLE" {
		t.Errorf("body %s", body)
	}
}
