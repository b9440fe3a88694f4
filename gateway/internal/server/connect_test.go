package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

// Connect clients reach the services through Vanguard too; a client stream must arrive whole.
func TestConnectProtocolThroughVanguard(t *testing.T) {
	var e *env
	e = start(t, options{handlers: map[string]fu.Handler{
		loginPath: fu.Unary(func(_ context.Context, req *dynamicpb.Message) (proto.Message, error) {
			return e.newMsg("filemesh.auth.v1.LoginResponse", map[string]any{"user_id": fu.Get(req, "email").String()}), nil
		}),
		writeUploadPath: writeUploadCounter(&e),
	}})
	resp, body := e.do("POST", loginPath, strings.NewReader(`{"email":"c@example.com"}`),
		"Content-Type", "application/json", "Connect-Protocol-Version", "1")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"userId":"c@example.com"`) {
		t.Errorf("Connect unary: HTTP %d %s", resp.StatusCode, body)
	}

	var req bytes.Buffer
	for _, msg := range []string{`{"uploadId":"u","data":"AAAA"}`, `{"data":"AAAAAAAA"}`, `{"data":"AAAA","finishWrite":true}`} {
		req.Write(envelope(0, msg))
	}
	resp, body = e.do("POST", writeUploadPath, &req, "Content-Type", "application/connect+json")
	if resp.StatusCode != 200 {
		t.Fatalf("Connect client stream: HTTP %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), `"committedSizeBytes":"12"`) {
		t.Errorf("Connect client stream: every message must arrive (3+6+3 bytes): %q", body)
	}
}

// envelope frames a Connect streaming message.
func envelope(flags byte, msg string) []byte {
	b := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}
