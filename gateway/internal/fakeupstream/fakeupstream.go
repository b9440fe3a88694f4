// Package fakeupstream runs fake filemesh services for tests: a real gRPC server on
// 127.0.0.1 that serves any method of the descriptor image with dynamicpb messages,
// grpc.health.v1 (settable), and records the metadata of every call.
package fakeupstream

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/schema"
)

// Handler serves one method on a raw server stream; messages are dynamicpb.
type Handler func(ctx context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error

// Server is one fake replica.
type Server struct {
	Addr   string
	Health *health.Server
	schema *schema.Schema

	mu       sync.Mutex
	handlers map[string]Handler
	calls    []Call
}

// Call is one received call.
type Call struct {
	Method string
	MD     metadata.MD
}

// Start starts a replica serving handlers (by gRPC path); other methods are UNIMPLEMENTED.
func Start(t testing.TB, s *schema.Schema, handlers map[string]Handler) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{Health: health.NewServer(), schema: s, handlers: handlers}
	f.Addr = ln.Addr().String()
	gs := grpc.NewServer(grpc.UnknownServiceHandler(f.serve), grpc.MaxRecvMsgSize(64<<20))
	healthpb.RegisterHealthServer(gs, f.Health)
	f.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return f
}

// SetServing sets the "" health status.
func (f *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	f.Health.SetServingStatus("", st)
}

// Calls returns the calls received so far.
func (f *Server) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

func (f *Server) serve(_ any, stream grpc.ServerStream) error {
	path, _ := grpc.MethodFromServerStream(stream)
	md, _ := metadata.FromIncomingContext(stream.Context())
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: path, MD: md})
	h := f.handlers[path]
	f.mu.Unlock()
	desc, ok := f.schema.Method(path)
	if h == nil || !ok {
		return status.Errorf(codes.Unimplemented, "fake: %s not implemented", path)
	}
	return h(stream.Context(), desc, stream)
}

// Unary adapts a function of the request to a Handler.
func Unary(fn func(ctx context.Context, req *dynamicpb.Message) (proto.Message, error)) Handler {
	return func(ctx context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
		req := dynamicpb.NewMessage(md.Input())
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		resp, err := fn(ctx, req)
		if err != nil {
			return err
		}
		return stream.SendMsg(resp)
	}
}

// Fail is a Handler that answers every call with err.
func Fail(err error) Handler {
	return func(context.Context, protoreflect.MethodDescriptor, grpc.ServerStream) error { return err }
}

// Message builds a dynamic message of the image's type name from proto-name fields.
func Message(t testing.TB, s *schema.Schema, name string, fields map[string]any) *dynamicpb.Message {
	t.Helper()
	mt, err := s.Types.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(mt.Descriptor())
	for k, v := range fields {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			t.Fatalf("%s has no field %s", name, k)
		}
		switch v := v.(type) {
		case proto.Message:
			m.Set(fd, protoreflect.ValueOfMessage(v.ProtoReflect()))
		default:
			m.Set(fd, protoreflect.ValueOf(v))
		}
	}
	return m
}

// Get reads a field by proto name.
func Get(m protoreflect.Message, name string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}

// String reads a string field by proto name; "" when the message has no such field.
func String(m protoreflect.Message, name string) string {
	if fd := m.Descriptor().Fields().ByName(protoreflect.Name(name)); fd != nil {
		return m.Get(fd).String()
	}
	return ""
}

// LoadSchema loads gen/filemesh.binpb from the repository root above the test's directory.
func LoadSchema(t testing.TB) *schema.Schema {
	t.Helper()
	s, err := schema.Load(RepoFile(t, "gen/filemesh.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RepoFile finds a file relative to the repository root (the first parent of the working
// directory holding it); it fails the test with a hint when the file is missing.
func RepoFile(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("%s not found above the working directory: run `npm run generate` at the repo root", rel)
		}
		dir = parent
	}
}
