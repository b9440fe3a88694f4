package meta

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"100m": 100 * time.Millisecond, "5S": 5 * time.Second, "1H": time.Hour, "30u": 30 * time.Microsecond} {
		if got, ok := ParseTimeout(in); !ok || got != want {
			t.Errorf("ParseTimeout(%q) = %v, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "5", "5x", "-1S", "123456789S"} {
		if _, ok := ParseTimeout(bad); ok {
			t.Errorf("ParseTimeout(%q) accepted", bad)
		}
	}
}

func TestOutgoingMetadata(t *testing.T) {
	r := httptest.NewRequest("POST", "/x", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("Traceparent", "00-abc-def-01")
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	r.Header.Set("Connection", "keep-alive")
	r.Header.Set("Grpc-Timeout", "1S")
	r.Header.Set("Content-Type", "application/grpc")
	r.Header.Set("X-Data-Bin", "AAEC") // base64 of 00 01 02
	md := Outgoing(r)
	if md.Get("authorization")[0] != "Bearer t" || md.Get("traceparent")[0] != "00-abc-def-01" ||
		len(md.Get("x-forwarded-for")) != 1 || md.Get("x-forwarded-for")[0] != "10.1.2.3" || md.Get("x-data-bin")[0] != "\x00\x01\x02" {
		t.Errorf("metadata %v", md)
	}
	for _, k := range []string{"connection", "grpc-timeout", "content-type"} {
		if len(md.Get(k)) != 0 {
			t.Errorf("%s must not be forwarded", k)
		}
	}
}

// A client cannot pass itself off as a mesh service, a sidecar's certificate, another
// address, or Envoy: those headers are dropped, and x-forwarded-for is the TCP peer alone.
func TestOutgoingDropsEdgeOnlyHeaders(t *testing.T) {
	r := httptest.NewRequest("POST", "/x", nil)
	r.RemoteAddr = "[2001:db8::7]:5555"
	forged := map[string]string{
		"X-Filemesh-Service":        "file",
		"X-Filemesh-Internal-Token": "0123456789abcdef-secret",
		"X-Filemesh-Anything":       "x",
		"X-Forwarded-Client-Cert":   "By=spiffe://cluster.local/ns/filemesh/sa/file;URI=spiffe://cluster.local/ns/filemesh/sa/file",
		"X-Forwarded-For":           "198.51.100.9",
		"X-Forwarded-Host":          "evil.example",
		"X-Forwarded-Proto":         "https",
		"Forwarded":                 "for=198.51.100.9",
		"X-Real-Ip":                 "198.51.100.9",
		"True-Client-Ip":            "198.51.100.9",
		"X-Envoy-External-Address":  "198.51.100.9",
		"X-Envoy-Original-Path":     "/v1/other",
	}
	for k, v := range forged {
		r.Header.Add(k, v)
	}
	r.Header.Add("X-Forwarded-For", "198.51.100.10")
	r.Header.Set("X-Link-Password", "hunter2")
	r.Header.Set("Authorization", "Bearer t")
	md := Outgoing(r)
	for k := range forged {
		if got := md.Get(k); strings.EqualFold(k, "X-Forwarded-For") {
			if len(got) != 1 || got[0] != "2001:db8::7" {
				t.Errorf("x-forwarded-for = %q, want the peer alone", got)
			}
		} else if len(got) != 0 {
			t.Errorf("%s forwarded as %q", k, got)
		}
	}
	if md.Get("x-link-password")[0] != "hunter2" || md.Get("authorization")[0] != "Bearer t" {
		t.Errorf("x-link-password / authorization must pass: %v", md)
	}
}

func TestRequestID(t *testing.T) {
	for in, keep := range map[string]bool{"": false, "abc-123": true, "has space": false, string(make([]byte, 200)): false} {
		r := httptest.NewRequest("GET", "/", nil)
		if in != "" {
			r.Header.Set(RequestIDHeader, in)
		}
		w := httptest.NewRecorder()
		id := EnsureRequestID(w, r)
		if keep != (id == in) || w.Header().Get(RequestIDHeader) != id || r.Header.Get(RequestIDHeader) != id {
			t.Errorf("in %q: id %q, response %q, request %q", in, id, w.Header().Get(RequestIDHeader), r.Header.Get(RequestIDHeader))
		}
	}
	if a, b := NewRequestID(), NewRequestID(); a == b || len(a) != 36 {
		t.Errorf("ids %q %q", a, b)
	}
	_ = http.StatusOK
}

// The client's User-Agent reaches the services as x-forwarded-user-agent (gRPC keeps
// user-agent for its own); a client's own x-forwarded-user-agent is dropped, control bytes too.
func TestOutgoingForwardsUserAgent(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/156")
	r.Header.Set("X-Forwarded-User-Agent", "forged")
	md := Outgoing(r)
	if got := md.Get(ForwardedUserAgent); len(got) != 1 || got[0] != "Mozilla/5.0 (X11; Linux x86_64) Chrome/156" {
		t.Errorf("x-forwarded-user-agent = %q", got)
	}
	if len(md.Get("user-agent")) != 0 {
		t.Error("user-agent must not be forwarded as itself")
	}
	r.Header.Set("User-Agent", "bad\x01agent")
	if got := Outgoing(r).Get(ForwardedUserAgent); len(got) != 0 {
		t.Errorf("a control byte must drop it, got %q", got)
	}
	r.Header.Set("User-Agent", strings.Repeat("a", 1000))
	if got := Outgoing(r).Get(ForwardedUserAgent); len(got) != 1 || len(got[0]) != maxUserAgent {
		t.Errorf("long user agent not cut to %d", maxUserAgent)
	}
}
