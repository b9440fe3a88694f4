package filemesh_test

// These tests run against a live mesh: FILEMESH_GRPC_ADDR names a gateway (or any port that
// serves every service). test/clients/go-client.test.ts starts one and runs them from
// `npm test`; without the variable they are skipped.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	filemesh "github.com/filemesh/filemesh/clients/go"
)

func meshAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("FILEMESH_GRPC_ADDR")
	if addr == "" {
		t.Skip("FILEMESH_GRPC_ADDR is not set (npm test sets it; see clients/go/README.md)")
	}
	return addr
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string, opts ...filemesh.Option) *filemesh.Client {
	t.Helper()
	c, err := filemesh.Dial(addr, append([]filemesh.Option{filemesh.Plaintext()}, opts...)...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func uniqueEmail() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "go-" + hex.EncodeToString(b) + "@example.com"
}

// newUser registers and logs in a fresh user on c.
func newUser(t *testing.T, ctx context.Context, c *filemesh.Client) filemesh.Session {
	t.Helper()
	email, password := uniqueEmail(), "go client "+hex.EncodeToString([]byte(t.Name()))
	if _, err := c.Register(ctx, email, password, "Go tester"); err != nil {
		t.Fatalf("register: %v", err)
	}
	s, err := c.Login(ctx, email, password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return s
}

// cutProxy forwards TCP to target; the first connection is closed for real (both sides)
// once `after` bytes went through in the chosen direction. Later connections pass.
type cutProxy struct {
	Addr  string
	cut   atomic.Bool
	conns sync.WaitGroup
}

func startCutProxy(t *testing.T, target string, after int64, upstream bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{Addr: ln.Addr().String()}
	t.Cleanup(func() { _ = ln.Close(); p.conns.Wait() })
	go func() {
		for first := true; ; first = false {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			limit := int64(-1)
			if first {
				limit = after
			}
			p.conns.Add(1)
			go p.pipe(client, server, limit, upstream)
		}
	}()
	return p
}

func (p *cutProxy) pipe(client, server net.Conn, limit int64, upstream bool) {
	defer p.conns.Done()
	closeBoth := func() { _ = client.Close(); _ = server.Close() }
	defer closeBoth()
	counted, other := [2]net.Conn{client, server}, [2]net.Conn{server, client}
	if !upstream {
		counted, other = other, counted
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(other[1], other[0]); done <- struct{}{} }()
	go func() {
		defer func() { done <- struct{}{} }()
		if limit < 0 {
			_, _ = io.Copy(counted[1], counted[0])
			return
		}
		_, _ = io.CopyN(counted[1], counted[0], limit)
		p.cut.Store(true)
	}()
	<-done
}

// Cut reports whether the first connection was cut.
func (p *cutProxy) Cut() bool { return p.cut.Load() }

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
