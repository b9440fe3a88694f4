package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/filemesh/filemesh/gateway/internal/config"
	"github.com/filemesh/filemesh/gateway/internal/fakeupstream"
	"github.com/filemesh/filemesh/gateway/internal/schema"
	"github.com/filemesh/filemesh/gateway/internal/upstream"
)

// env is one gateway in front of fake services.
type env struct {
	t      *testing.T
	schema *schema.Schema
	url    string
	addr   string
	fakes  map[string][]*fakeupstream.Server
}

// options shape a test gateway.
type options struct {
	handlers map[string]fakeupstream.Handler // by gRPC path, served by every replica
	replicas map[string]int                  // replicas per service (default 1)
	config   func(*config.Config)
}

func start(t *testing.T, opts options) *env {
	t.Helper()
	s := fakeupstream.LoadSchema(t)
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, schema: s, fakes: map[string][]*fakeupstream.Server{}}
	for _, name := range s.UpstreamNames() {
		n := opts.replicas[name]
		if n == 0 {
			n = 1
		}
		cfg.Upstreams[name] = nil
		for range n {
			f := fakeupstream.Start(t, s, opts.handlers)
			e.fakes[name] = append(e.fakes[name], f)
			cfg.Upstreams[name] = append(cfg.Upstreams[name], f.Addr)
		}
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	pool, err := upstream.New(cfg.Upstreams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, err := New(cfg, s, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	e.addr = ln.Addr().String()
	e.url = "http://" + e.addr
	return e
}

// do sends a REST request and returns the response with its body read.
func (e *env) do(method, path string, body io.Reader, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *env) postJSON(path, body string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path, strings.NewReader(body), append([]string{"Content-Type", "application/json"}, headers...)...)
}

// calls counts the calls a service's replicas received for a gRPC path.
func (e *env) calls(service, path string) int {
	n := 0
	for _, f := range e.fakes[service] {
		for _, c := range f.Calls() {
			if c.Method == path {
				n++
			}
		}
	}
	return n
}

func (e *env) grpcConn() *grpc.ClientConn {
	e.t.Helper()
	cc, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// rpcStatus is a REST error body.
type rpcStatus struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

func decodeStatus(t *testing.T, b []byte) rpcStatus {
	t.Helper()
	var st rpcStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("error body is not a JSON google.rpc.Status: %v: %s", err, b)
	}
	return st
}

// reason is the ErrorInfo reason of a REST error body.
func (st rpcStatus) reason() string {
	for _, d := range st.Details {
		if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			r, _ := d["reason"].(string)
			return r
		}
	}
	return ""
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
