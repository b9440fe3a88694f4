package server

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

const (
	readFilePath    = "/filemesh.file.v1.FileService/ReadFile"
	writeUploadPath = "/filemesh.file.v1.FileService/WriteUpload"
)

func (e *env) newMsg(name string, fields map[string]any) *dynamicpb.Message {
	return fu.Message(e.t, e.schema, name, fields)
}

func TestGRPCProxyUnaryWithMetadataAndErrorDetails(t *testing.T) {
	var e *env
	e = start(t, options{handlers: map[string]fu.Handler{
		loginPath: func(ctx context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
			req := dynamicpb.NewMessage(md.Input())
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			_ = stream.SetHeader(metadata.Pairs("x-served-by", "fake"))
			stream.SetTrailer(metadata.Pairs("x-trailer-bin", "\x00\x01"))
			if fu.Get(req, "password").String() != "right" {
				st, _ := status.New(codes.Unauthenticated, "wrong password").WithDetails(
					&errdetails.ErrorInfo{Reason: "INVALID_CREDENTIALS", Domain: "auth.filemesh"},
					&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
				return st.Err()
			}
			return stream.SendMsg(e.newMsg("filemesh.auth.v1.LoginResponse", map[string]any{"access_token": "at"}))
		},
	}})
	cc := e.grpcConn()
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer t", "x-custom", "v", "x-blob-bin", "\xff\x00")

	resp := dynamicpb.NewMessage(e.newMsg("filemesh.auth.v1.LoginResponse", nil).Descriptor())
	var header, trailer metadata.MD
	err := cc.Invoke(ctx, loginPath, e.newMsg("filemesh.auth.v1.LoginRequest", map[string]any{"password": "right"}), resp,
		grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if fu.Get(resp, "access_token").String() != "at" {
		t.Errorf("response %v", resp)
	}
	if got := header.Get("x-served-by"); len(got) != 1 || got[0] != "fake" {
		t.Errorf("response header metadata %v", header)
	}
	if got := trailer.Get("x-trailer-bin"); len(got) != 1 || got[0] != "\x00\x01" {
		t.Errorf("trailer metadata %v", trailer)
	}
	md := e.fakes["auth"][0].Calls()[0].MD
	if md.Get("authorization")[0] != "Bearer t" || md.Get("x-custom")[0] != "v" || md.Get("x-blob-bin")[0] != "\xff\x00" ||
		len(md.Get("x-request-id")) != 1 {
		t.Errorf("forwarded metadata %v", md)
	}

	err = cc.Invoke(ctx, loginPath, e.newMsg("filemesh.auth.v1.LoginRequest", map[string]any{"password": "wrong"}), resp)
	st := status.Convert(err)
	if st.Code() != codes.Unauthenticated || st.Message() != "wrong password" {
		t.Fatalf("status %v", st)
	}
	var reason string
	var retry time.Duration
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			retry = d.GetRetryDelay().AsDuration()
		}
	}
	if reason != "INVALID_CREDENTIALS" || retry != time.Second {
		t.Errorf("details lost: %v", st.Details())
	}
}

// writeUploadCounter is a fake WriteUpload answering with the number of bytes received.
func writeUploadCounter(e **env) fu.Handler {
	return func(_ context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
		var total int64
		for {
			req := dynamicpb.NewMessage(md.Input())
			err := stream.RecvMsg(req)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			total += int64(len(fu.Get(req, "data").Bytes()))
		}
		return stream.SendMsg((*e).newMsg("filemesh.file.v1.WriteUploadResponse", map[string]any{"committed_size_bytes": total}))
	}
}

func TestGRPCProxyStreams(t *testing.T) {
	var e *env
	e = start(t, options{handlers: map[string]fu.Handler{
		readFilePath: func(_ context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
			req := dynamicpb.NewMessage(md.Input())
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			for _, chunk := range []string{"hel", "lo ", "world"} {
				if err := stream.SendMsg(e.newMsg("filemesh.file.v1.ReadFileResponse", map[string]any{"data": []byte(chunk)})); err != nil {
					return err
				}
			}
			return status.Error(codes.DataLoss, "stopped after 3 chunks")
		},
		writeUploadPath: writeUploadCounter(&e),
	}})
	cc := e.grpcConn()
	ctx := context.Background()

	rs, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, readFilePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.SendMsg(e.newMsg("filemesh.file.v1.ReadFileRequest", map[string]any{"file_id": "f"})); err != nil {
		t.Fatal(err)
	}
	_ = rs.CloseSend()
	var got string
	for {
		m := dynamicpb.NewMessage(e.newMsg("filemesh.file.v1.ReadFileResponse", nil).Descriptor())
		err := rs.RecvMsg(m)
		if err != nil {
			if st := status.Convert(err); st.Code() != codes.DataLoss || st.Message() != "stopped after 3 chunks" {
				t.Fatalf("stream ended with %v", err)
			}
			break
		}
		got += string(fu.Get(m, "data").Bytes())
	}
	if got != "hello world" {
		t.Errorf("server stream got %q", got)
	}

	ws, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, writeUploadPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		chunk := make([]byte, 1000*(i+1))
		if err := ws.SendMsg(e.newMsg("filemesh.file.v1.WriteUploadRequest", map[string]any{"data": chunk})); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.CloseSend()
	resp := dynamicpb.NewMessage(e.newMsg("filemesh.file.v1.WriteUploadResponse", nil).Descriptor())
	if err := ws.RecvMsg(resp); err != nil {
		t.Fatal(err)
	}
	if n := fu.Get(resp, "committed_size_bytes").Int(); n != 15000 {
		t.Errorf("client stream committed %d bytes, want 15000", n)
	}
}

func TestGRPCProxyBalancesAndSkipsUnhealthyReplicas(t *testing.T) {
	var e *env
	ok := fu.Unary(func(context.Context, *dynamicpb.Message) (proto.Message, error) {
		return e.newMsg("filemesh.auth.v1.LoginResponse", nil), nil
	})
	e = start(t, options{handlers: map[string]fu.Handler{loginPath: ok}, replicas: map[string]int{"auth": 2}})
	cc := e.grpcConn()
	call := func() error {
		return cc.Invoke(context.Background(), loginPath, e.newMsg("filemesh.auth.v1.LoginRequest", nil),
			dynamicpb.NewMessage(e.newMsg("filemesh.auth.v1.LoginResponse", nil).Descriptor()))
	}
	perReplica := func() (a, b int) { return len(e.fakes["auth"][0].Calls()), len(e.fakes["auth"][1].Calls()) }

	// Both replicas become ready in the background; within a bounded wait both serve calls.
	deadline := time.Now().Add(10 * time.Second)
	for a, b := perReplica(); a == 0 || b == 0; a, b = perReplica() {
		if time.Now().After(deadline) {
			t.Fatalf("round robin never reached both replicas: %d, %d", a, b)
		}
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}

	e.fakes["auth"][1].SetServing(false)
	// Once the health watch reports NOT_SERVING, 20 calls in a row all go to replica 0.
	for streak := 0; streak < 20; {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("the NOT_SERVING replica kept receiving calls")
		}
		_, before := perReplica()
		if err := call(); err != nil {
			t.Fatal(err)
		}
		if _, after := perReplica(); after == before {
			streak++
		} else {
			streak = 0
		}
	}
}

func TestGRPCUnknownServiceIsUnimplemented(t *testing.T) {
	e := start(t, options{})
	err := e.grpcConn().Invoke(context.Background(), "/some.other.v1.Svc/Do", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("got %v", err)
	}
	err = e.grpcConn().Invoke(context.Background(), getFilePath, e.newMsg("filemesh.file.v1.GetFileRequest", nil),
		dynamicpb.NewMessage(e.newMsg("filemesh.file.v1.GetFileResponse", nil).Descriptor()))
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("unimplemented upstream method: got %v", err)
	}
}

func TestGRPCReflectionAndHealthFromTheGateway(t *testing.T) {
	e := start(t, options{})
	cc := e.grpcConn()
	rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		names[s.GetName()] = true
	}
	for _, want := range []string{"filemesh.auth.v1.AuthService", "filemesh.file.v1.FileService", "grpc.health.v1.Health"} {
		if !names[want] {
			t.Errorf("reflection does not list %s: %v", want, names)
		}
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "filemesh.auth.v1.AuthService"}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = rs.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("file containing AuthService: %v %v", resp, err)
	}

	hc := healthpb.NewHealthClient(cc)
	check := func(svc string) healthpb.HealthCheckResponse_ServingStatus {
		r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	if s := check(""); s != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gateway health %v", s)
	}
	e.fakes["file"][0].SetServing(false)
	if s := check(""); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gateway health with file down: %v", s)
	}
	if s := check("filemesh.auth.v1.AuthService"); s != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("auth health: %v", s)
	}
	if s := check("filemesh.file.v1.FileService"); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("file health: %v", s)
	}
}

// A service that fails a client stream early must get its status to a client that is still
// sending (the gateway must not wait for the rest of the request).
func TestGRPCProxyEarlyFailureOfAClientStream(t *testing.T) {
	e := start(t, options{handlers: map[string]fu.Handler{
		writeUploadPath: fu.Fail(status.Error(codes.FailedPrecondition, "offset mismatch")),
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := e.grpcConn().NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, writeUploadPath)
	if err != nil {
		t.Fatal(err)
	}
	// io.EOF: the call already ended; RecvMsg has its status.
	if err := ws.SendMsg(e.newMsg("filemesh.file.v1.WriteUploadRequest", map[string]any{"upload_id": "u"})); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	// No CloseSend: the client would go on sending.
	err = ws.RecvMsg(dynamicpb.NewMessage(e.newMsg("filemesh.file.v1.WriteUploadResponse", nil).Descriptor()))
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || st.Message() != "offset mismatch" {
		t.Fatalf("got %v, want the service's FailedPrecondition", err)
	}
}
