// Package grpcproxy is an http.Handler that forwards gRPC calls (any method, any stream
// type) to the upstream that serves the method's package, message by message, without
// decoding them. It serves native gRPC clients directly and is the target Vanguard
// transcodes REST requests to.
package grpcproxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/schema"
	"github.com/filemesh/filemesh/gateway/internal/upstream"
)

// Conns gives the balanced connection of an upstream service.
type Conns interface {
	Conn(name string) (*grpc.ClientConn, bool)
}

// Proxy forwards gRPC requests upstream.
type Proxy struct {
	Conns        Conns
	Schema       *schema.Schema
	UnaryTimeout time.Duration // applied to unary methods on top of the caller's deadline
	// Transcoded marks the instance Vanguard calls: its requests carry exactly one message,
	// which is read before the upstream call so a request the gateway already refused
	// (malformed JSON, bad parameter) never reaches a service.
	Transcoded bool
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		http.Error(w, "gRPC requires HTTP/2", http.StatusHTTPVersionNotSupported)
		return
	}
	state := meta.StateOf(r.Context())
	method := r.URL.Path
	name, ok := schema.UpstreamOfPath(method)
	cc, known := p.Conns.Conn(name)
	if !ok || !known {
		writeStatus(w, state, nil, nil, status.New(codes.Unimplemented, "unknown service or method "+method), true)
		return
	}
	if p.Schema.Policy(method).Internal() {
		writeStatus(w, state, nil, nil, status.Newf(codes.PermissionDenied,
			"%s is internal to the mesh and not exposed by the gateway", method), true)
		return
	}
	enc := r.Header.Get("Grpc-Encoding")
	if enc != "" && enc != "identity" && enc != "gzip" {
		w.Header().Set("Grpc-Accept-Encoding", "gzip,identity")
		writeStatus(w, state, nil, nil, status.Newf(codes.Unimplemented, "grpc-encoding %q not supported", enc), true)
		return
	}

	ctx, cancel := p.callContext(r, method)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, meta.Outgoing(r))

	var first *frame
	if p.Transcoded {
		f, err := readFrame(r.Body, enc, upstream.MaxMessageBytes)
		if state.GatewayAnswered() {
			return // Vanguard already sent the client its error.
		}
		if err != nil && !errors.Is(err, io.EOF) {
			// The request never left the gateway (over its size limit, or broken).
			writeStatus(w, state, nil, nil, status.Convert(err), false)
			return
		}
		first = f
	}

	stream, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
		method, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		writeStatus(w, state, nil, nil, status.Convert(err), true)
		return
	}
	var failure callFailure
	md, known := p.Schema.Method(method)
	switch {
	case p.Transcoded && known && !md.IsStreamingClient():
		if first != nil {
			_ = stream.SendMsg(first)
		}
		_ = stream.CloseSend()
	case p.Transcoded:
		// A Connect or gRPC-Web client stream through Vanguard: forward the rest too. Vanguard's
		// body cannot be closed while a read is blocked, so the pump is not waited for; it
		// ends when the server closes the body after this handler returns.
		go func() {
			if first != nil && stream.SendMsg(first) != nil {
				return
			}
			pump(r.Body, enc, stream, func(err error) { failure.set(err); cancel() })
		}()
	default:
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			pump(r.Body, enc, stream, func(err error) { failure.set(err); cancel() })
		}()
		defer func() { cancel(); _ = r.Body.Close(); wg.Wait() }()
	}
	p.relay(w, state, stream, &failure)
}

// callContext applies grpc-timeout and, for unary methods, the gateway's upstream timeout.
func (p *Proxy) callContext(r *http.Request, method string) (context.Context, context.CancelFunc) {
	timeout, has := meta.ParseTimeout(r.Header.Get("Grpc-Timeout"))
	if md, ok := p.Schema.Method(method); ok && !md.IsStreamingClient() && !md.IsStreamingServer() &&
		p.UnaryTimeout > 0 && (!has || p.UnaryTimeout < timeout) {
		timeout, has = p.UnaryTimeout, true
	}
	if has {
		return context.WithTimeout(r.Context(), timeout)
	}
	return context.WithCancel(r.Context())
}

// pump forwards request messages; a broken request cancels the call instead of
// half-closing it, so a truncated upload is never mistaken for a complete one.
func pump(body io.Reader, enc string, stream grpc.ClientStream, fail func(error)) {
	for {
		f, err := readFrame(body, enc, upstream.MaxMessageBytes)
		if errors.Is(err, io.EOF) {
			_ = stream.CloseSend()
			return
		}
		if err != nil {
			fail(err)
			return
		}
		if err := stream.SendMsg(f); err != nil {
			return // the call ended; RecvMsg reports its status
		}
	}
}

// callFailure is why the proxy itself cancelled a call (a broken request stream).
type callFailure struct {
	mu  sync.Mutex
	err error
}

func (c *callFailure) set(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *callFailure) get() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
