// Package server is the gateway's front door on one port: native gRPC (h2c) is proxied to
// the services (reflection and health answered locally), /healthz reports upstream health,
// /v1/tus/ is reverse-proxied to the file service's HTTP listener (fileproxy),
// streaming raw-body routes go to rawbody, POSTs to a unary RPC's gRPC path to automap,
// and every other REST route through Vanguard.
package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/filemesh/filemesh/gateway/internal/automap"
	"github.com/filemesh/filemesh/gateway/internal/config"
	"github.com/filemesh/filemesh/gateway/internal/console"
	"github.com/filemesh/filemesh/gateway/internal/docs"
	"github.com/filemesh/filemesh/gateway/internal/fileproxy"
	"github.com/filemesh/filemesh/gateway/internal/grpcproxy"
	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/rawbody"
	"github.com/filemesh/filemesh/gateway/internal/rest"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
	"github.com/filemesh/filemesh/gateway/internal/schema"
	"github.com/filemesh/filemesh/gateway/internal/upstream"
)

// Server routes every request of the gateway's port.
type Server struct {
	cfg     config.Config
	schema  *schema.Schema
	pool    *upstream.Pool
	proxy   *grpcproxy.Proxy
	rest    http.Handler
	raw     *rawbody.Handler
	auto    *automap.Handler
	local   *grpc.Server
	docs    *docs.Handler
	console *console.Handler
	files   *fileproxy.Handler
}

// New wires the gateway from its configuration, schema and upstream pool.
func New(cfg config.Config, s *schema.Schema, pool *upstream.Pool) (*Server, error) {
	for _, name := range s.UpstreamNames() {
		if _, ok := pool.Conn(name); !ok {
			return nil, fmt.Errorf("descriptor image has services of %q but no upstream is configured for it", name)
		}
	}
	routes, err := rawbody.Routes(s)
	if err != nil {
		return nil, err
	}
	srv := &Server{
		cfg:    cfg,
		schema: s,
		pool:   pool,
		proxy:  &grpcproxy.Proxy{Conns: pool, Schema: s, UnaryTimeout: cfg.UpstreamTimeout},
		raw: &rawbody.Handler{Routes: routes, Conns: pool, Types: s.Types,
			MaxUploadBytes: cfg.MaxUploadBytes, MaxBodyBytes: cfg.MaxBodyBytes},
		auto:    &automap.Handler{Schema: s, Conns: pool, MaxBodyBytes: cfg.MaxBodyBytes, UnaryTimeout: cfg.UpstreamTimeout},
		local:   newLocalServer(s, pool),
		docs:    docs.Load(cfg.OpenAPIPath, cfg.DocsDir),
		console: console.New(cfg.ConsoleDir),
	}
	srv.files, err = fileproxy.New(cfg.FileHTTP, cfg.MaxUploadBytes, srv.failHTTP, srv.unavailable)
	if err != nil {
		return nil, err
	}
	if cfg.DataPlane {
		srv.raw.Data = rawbody.NewDataPlane(cfg.FileHTTP, cfg.BlobDir, cfg.UpstreamTimeout)
	}
	transcoded := &grpcproxy.Proxy{Conns: pool, Schema: s, UnaryTimeout: cfg.UpstreamTimeout, Transcoded: true}
	srv.rest, err = rest.NewTranscoder(s, transcoded, http.HandlerFunc(srv.notFound))
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// HTTPServer is an http.Server for the gateway: HTTP/1.1 and cleartext HTTP/2 (h2c with
// prior knowledge, as gRPC clients use) on the same port. No read/write timeouts: large
// uploads and downloads stream for as long as they take.
func (s *Server) HTTPServer() *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Addr:              s.cfg.Addr(),
		Handler:           s,
		Protocols:         &protocols,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 1000},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
}

// DocsErr is why /openapi.json cannot be served (nil when it can).
func (s *Server) DocsErr() error { return s.docs.Err() }

// Close stops the local gRPC services.
func (s *Server) Close() { s.local.Stop() }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, state := meta.WithState(r)
	meta.EnsureRequestID(w, r)
	if isGRPC(r) {
		if isLocal(r.URL.Path) {
			s.local.ServeHTTP(w, r)
		} else {
			s.proxy.ServeHTTP(w, r)
		}
		return
	}
	if s.cors(w, r) {
		return
	}
	if r.URL.Path == "/healthz" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.fail(w, codes.Unimplemented, rpcstatus.ReasonMethodNotAllowed, "use GET /healthz", http.StatusMethodNotAllowed)
			return
		}
		s.healthz(w, r)
		return
	}
	if fileproxy.Match(r.URL.Path) { // tus: the file service's HTTP listener, streamed
		s.files.ServeHTTP(w, r)
		return
	}
	if docs.Match(r.URL.Path) {
		s.docs.ServeHTTP(w, r, s.failHTTP)
		return
	}
	if s.console.Match(r) { // the web console at / (GET/HEAD of non-API paths only)
		s.console.ServeHTTP(w, r, s.failHTTP)
		return
	}
	if strings.HasPrefix(r.URL.Path, rawbody.DataPrefix) && isPlainREST(r) {
		s.raw.ServeData(w, r)
		return
	}
	if rt, vars, ok := s.raw.Match(r); ok {
		s.raw.Serve(w, r, rt, vars)
		return
	}
	if !isPlainREST(r) { // Connect and gRPC-Web clients: Vanguard speaks their protocol
		s.rest.ServeHTTP(w, r)
		return
	}
	if md, ok := s.auto.Match(r); ok {
		s.auto.Serve(w, r, md)
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.fail(w, codes.ResourceExhausted, rpcstatus.ReasonBodyTooLarge,
			fmt.Sprintf("request body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes), http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = &limitedBody{r: r.Body, left: s.cfg.MaxBodyBytes, state: state}
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "text/plain") {
		r.Header.Set("Content-Type", "application/json") // curl -d and fetch() defaults; Envoy ignores it too
	}
	ew := rest.NewErrorWriter(w, state, s.schema.Types)
	s.rest.ServeHTTP(ew, withEscapedPath(r))
	ew.Finish()
}

// withEscapedPath gives Vanguard the path as the client escaped it. Vanguard matches routes
// against URL.Path, which Go has already unescaped, and unescapes each matched variable
// again: "members/user%3A<id>" would read as segment "user" with the custom verb "<id>"
// (404), "%2F" as a separator, and "%253A" as ":". From the escaped path an escaped
// character stays inside its segment and is decoded exactly once.
func withEscapedPath(r *http.Request) *http.Request {
	u := *r.URL
	u.Path, u.RawPath = r.URL.EscapedPath(), ""
	r2 := r.WithContext(r.Context()) // a shallow copy
	r2.URL = &u
	return r2
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, codes.NotFound, rpcstatus.ReasonRouteNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), http.StatusNotFound)
}

// failHTTP answers a gateway-raised error by its HTTP status (the code follows from it).
func (s *Server) failHTTP(w http.ResponseWriter, httpStatus int, reason, msg string) {
	code := codes.Code(rpcstatus.FromHTTP(httpStatus, msg).GetCode())
	rpcstatus.Write(w, rpcstatus.New(code, reason, msg), httpStatus, s.schema.Types)
}

// unavailable answers 503 with RetryInfo (and Retry-After) of one second.
func (s *Server) unavailable(w http.ResponseWriter, reason, msg string) {
	rpcstatus.Write(w, rpcstatus.New(codes.Unavailable, reason, msg,
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}), http.StatusServiceUnavailable, s.schema.Types)
}

func (s *Server) fail(w http.ResponseWriter, c codes.Code, reason, msg string, httpStatus int) {
	rpcstatus.Write(w, rpcstatus.New(c, reason, msg), httpStatus, s.schema.Types)
}

func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return r.ProtoMajor == 2 && (ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+"))
}

func isPlainREST(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return !strings.HasPrefix(ct, "application/grpc") && !strings.HasPrefix(ct, "application/connect+") &&
		r.Header.Get("Connect-Protocol-Version") == "" && r.URL.Query().Get("connect") != "v1"
}

// limitedBody fails reads past the JSON body limit and records why.
type limitedBody struct {
	r     io.ReadCloser
	left  int64
	state *meta.State
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		b.state.MarkBodyTooLarge()
		return n, errBodyTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

var errBodyTooLarge = fmt.Errorf("request body too large")
