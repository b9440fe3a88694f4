package rpcstatus

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestWriteAddsRetryAfterAndErrorInfo(t *testing.T) {
	st, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(200 * time.Millisecond)})
	rec := httptest.NewRecorder()
	Write(rec, st.Proto(), 0, nil)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("HTTP %d, Retry-After %q (sub-second delays round up to 1)", rec.Code, rec.Header().Get("Retry-After"))
	}
	var body struct {
		Code    int
		Message string
		Details []map[string]any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Code != 8 || body.Message != "slow down" || len(body.Details) != 2 ||
		body.Details[0]["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" || body.Details[0]["reason"] != "RESOURCE_EXHAUSTED" {
		t.Errorf("body %s", rec.Body)
	}

	rec = httptest.NewRecorder()
	Write(rec, status.New(codes.ResourceExhausted, "quota").Proto(), 0, nil)
	if rec.Header().Get("Retry-After") != "" {
		t.Error("Retry-After without RetryInfo")
	}
}

func TestUnknownDetailTypesAreDroppedNotFatal(t *testing.T) {
	st, _ := status.New(codes.NotFound, "gone").WithDetails(&errdetails.ErrorInfo{Reason: "R"})
	p := st.Proto()
	p.Details = append(p.Details, &anypb.Any{TypeUrl: "type.googleapis.com/acme.v1.Unknown", Value: []byte{8, 1}})
	b := Marshal(p, nil)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil || body["message"] != "gone" || len(body["details"].([]any)) != 1 {
		t.Errorf("marshal with an unknown detail type: %s (%v)", b, err)
	}
}

func TestCodeNames(t *testing.T) {
	for c, want := range map[codes.Code]string{codes.NotFound: "NOT_FOUND", codes.Unavailable: "UNAVAILABLE", codes.DeadlineExceeded: "DEADLINE_EXCEEDED"} {
		if got := codeName(c); got != want {
			t.Errorf("codeName(%v) = %q", c, got)
		}
	}
}

// withReason is a status of code with extra details, then an ErrorInfo with reason.
func withReason(t *testing.T, c codes.Code, reason string, extra ...proto.Message) *spb.Status {
	t.Helper()
	st := &spb.Status{Code: int32(c), Message: "x"}
	for _, d := range append(extra, &errdetails.ErrorInfo{Reason: reason, Domain: "file.filemesh"}) {
		a, err := anypb.New(d)
		if err != nil {
			t.Fatal(err)
		}
		st.Details = append(st.Details, a)
	}
	return st
}

func TestHTTPStatusByReason(t *testing.T) {
	retry := &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}
	cases := []struct {
		name string
		st   *spb.Status
		want int
	}{
		{"stale etag", withReason(t, codes.FailedPrecondition, "ETAG_MISMATCH"), 412},
		{"over the upload cap", withReason(t, codes.ResourceExhausted, "UPLOAD_TOO_LARGE"), 413},
		{"part too large to relay", withReason(t, codes.FailedPrecondition, "PART_TOO_LARGE_TO_RELAY"), 413},
		{"gateway body limit", withReason(t, codes.ResourceExhausted, ReasonBodyTooLarge), 413},
		{"gateway method not allowed", withReason(t, codes.Unimplemented, ReasonMethodNotAllowed), 405},
		{"gateway media type", withReason(t, codes.InvalidArgument, ReasonUnsupportedMedia), 415},
		{"ErrorInfo after another detail", withReason(t, codes.FailedPrecondition, "ETAG_MISMATCH", retry), 412},
		{"other precondition", withReason(t, codes.FailedPrecondition, "HOME_FOLDER"), 400},
		{"quota", withReason(t, codes.ResourceExhausted, "QUOTA_EXCEEDED"), 429},
		{"rate limit", withReason(t, codes.ResourceExhausted, "RATE_LIMITED", retry), 429},
		{"a reason counts only on its code", withReason(t, codes.InvalidArgument, "ETAG_MISMATCH"), 400},
		{"a reason counts only on its code (2)", withReason(t, codes.Aborted, "UPLOAD_TOO_LARGE"), 409},
		{"no ErrorInfo", status.New(codes.FailedPrecondition, "x").Proto(), 400},
		{"not found", withReason(t, codes.NotFound, "FILE_NOT_FOUND"), 404},
	}
	for _, c := range cases {
		if got := HTTPStatus(c.st); got != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, got, c.want)
		}
	}
	rec := httptest.NewRecorder()
	Write(rec, withReason(t, codes.FailedPrecondition, "ETAG_MISMATCH"), 0, nil)
	if rec.Code != http.StatusPreconditionFailed || !strings.Contains(rec.Body.String(), `"reason":"ETAG_MISMATCH"`) {
		t.Errorf("Write: HTTP %d %s", rec.Code, rec.Body)
	}
}

func TestFromHTTPRoundTrips(t *testing.T) {
	for _, s := range []int{400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 501, 503, 504} {
		st := FromHTTP(s, "m")
		if got := HTTPStatus(st); got != s {
			t.Errorf("HTTP %d → %v %q → HTTP %d", s, codes.Code(st.GetCode()), Reason(st), got)
		}
		if Reason(st) == "" || st.GetMessage() != "m" {
			t.Errorf("HTTP %d: %v", s, st)
		}
	}
}
