package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Share-link tokens travel in paths, their passwords in the query or X-Link-Password, access
// tokens in Authorization: none of it may reach the gateway's log, whatever the request's
// fate (upstream down, unknown route, malformed body, broken HTTP).
func TestLogsHoldNoSecrets(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := map[string]string{
		"GATEWAY_PORT":    "0",
		"DESCRIPTOR_PATH": fu.RepoFile(t, "gen/filemesh.binpb"),
		// Every service unreachable: each call fails upstream.
		"AUTH_ADDRS": "127.0.0.1:1", "USER_ADDRS": "127.0.0.1:1", "PERMISSION_ADDRS": "127.0.0.1:1",
		"FILE_ADDRS": "127.0.0.1:1", "PROCESSOR_ADDRS": "127.0.0.1:1",
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, log, func(k string) string { return env[k] }, func(a string) { addrc <- a }) }()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("gateway stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}

	const token, password, bearer = "LINKTOKEN7f3a9c", "LINKPASSWORD5e1d", "BEARERSECRET0b2c"
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(method, path, body string, headers ...string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil { // a request that never reached the gateway would prove nothing about its log
			t.Errorf("%s %s: %v", method, path, err)
			return
		}
		resp.Body.Close()
	}
	send("GET", "/v1/links/"+token+"?password="+password, "")
	send("GET", "/v1/links/"+token+"/content?password="+password+"&offset=1", "")
	send("GET", "/v1/links/"+token+"/content", "", "X-Link-Password", password, "Authorization", "Bearer "+bearer)
	send("DELETE", "/v1/links/"+token+"?password="+password, "")
	send("POST", "/v1/auth:login", `{"email":"a@b.c","password":"`+password+`"}`)
	send("POST", "/v1/auth:login", `{"password":"`+password, "Content-Type", "application/json")
	send("GET", "/v1/nowhere/"+token+"?password="+password, "")
	// Broken HTTP: the server's own error log must not echo it either. Written by hand, since
	// http.Client would drop a Content-Length header set in Header and send a valid request.
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /v1/links/%s?password=%s HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", token, password)
	if reply, _ := io.ReadAll(conn); !bytes.HasPrefix(reply, []byte("HTTP/1.1 400")) {
		t.Errorf("broken HTTP: reply %q, want a 400", reply)
	}
	conn.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("gateway did not stop")
	}
	logged := out.String()
	if !strings.Contains(logged, "gateway listening") {
		t.Fatalf("the log was not captured: %q", logged)
	}
	for _, secret := range []string{token, password, bearer} {
		if strings.Contains(logged, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logged)
		}
	}
}
