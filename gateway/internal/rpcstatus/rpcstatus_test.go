package rpcstatus

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
