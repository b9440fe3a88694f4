// Package automap serves Envoy's auto_mapping on the local gateway: a unary RPC can also be
// called as `POST /<package>.<Service>/<Method>` with the whole request message as the JSON
// body, and answers with the whole response message. Internal RPCs
// (policy.internal_callers) are never mapped.
package automap

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
	"github.com/filemesh/filemesh/gateway/internal/schema"
)

// Conns gives the balanced connection of an upstream service.
type Conns interface {
	Conn(name string) (*grpc.ClientConn, bool)
}

// Handler serves auto-mapped calls.
type Handler struct {
	Schema       *schema.Schema
	Conns        Conns
	MaxBodyBytes int64
	UnaryTimeout time.Duration
}

// Match finds the method a POST to a gRPC path auto-maps to.
func (h *Handler) Match(r *http.Request) (protoreflect.MethodDescriptor, bool) {
	if r.Method != http.MethodPost {
		return nil, false
	}
	md, ok := h.Schema.Method(r.URL.Path)
	if !ok || md.IsStreamingClient() || md.IsStreamingServer() || h.Schema.Policy(r.URL.Path).Internal() {
		return nil, false
	}
	return md, true
}

// Serve transcodes one auto-mapped call.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, md protoreflect.MethodDescriptor) {
	path := r.URL.Path
	name, _ := schema.UpstreamOfPath(path)
	cc, ok := h.Conns.Conn(name)
	if !ok {
		h.fail(w, rpcstatus.New(codes.Unimplemented, rpcstatus.ReasonRouteNotFound, "no upstream for "+path), 0)
		return
	}
	if r.URL.RawQuery != "" {
		h.fail(w, rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonInvalidRequest,
			"auto-mapped routes take the whole request as the JSON body, not query parameters"), 0)
		return
	}
	req := dynamicpb.NewMessage(md.Input())
	if st, code := h.readBody(r, req); st != nil {
		h.fail(w, st, code)
		return
	}
	ctx := metadata.NewOutgoingContext(r.Context(), meta.Outgoing(r))
	if h.UnaryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.UnaryTimeout)
		defer cancel()
	}
	resp := dynamicpb.NewMessage(md.Output())
	var hdr metadata.MD
	if err := cc.Invoke(ctx, path, req, resp, grpc.Header(&hdr)); err != nil {
		h.fail(w, status.Convert(err).Proto(), 0)
		return
	}
	out, err := protojson.MarshalOptions{EmitUnpopulated: true, Resolver: h.Schema.Types}.Marshal(resp)
	if err != nil {
		h.fail(w, rpcstatus.New(codes.Internal, "RESPONSE_NOT_RENDERED", "cannot render the response as JSON"), 0)
		return
	}
	meta.CopyToHeader(w.Header(), hdr, "")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// readBody decodes the JSON body into req, or says why not (with an HTTP status).
func (h *Handler) readBody(r *http.Request, req *dynamicpb.Message) (*spb.Status, int) {
	tooLarge := rpcstatus.New(codes.ResourceExhausted, rpcstatus.ReasonBodyTooLarge,
		fmt.Sprintf("request body exceeds the limit of %d bytes", h.MaxBodyBytes))
	if r.ContentLength > h.MaxBodyBytes {
		return tooLarge, http.StatusRequestEntityTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
	if err != nil {
		return rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonInvalidRequest, "reading the request body: "+err.Error()), 0
	}
	if int64(len(b)) > h.MaxBodyBytes {
		return tooLarge, http.StatusRequestEntityTooLarge
	}
	if len(b) == 0 {
		return nil, 0
	}
	if err := (protojson.UnmarshalOptions{Resolver: h.Schema.Types}).Unmarshal(b, req); err != nil {
		return rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonMalformedJSON, "malformed JSON request body: "+err.Error()), 0
	}
	return nil, 0
}

func (h *Handler) fail(w http.ResponseWriter, st *spb.Status, httpStatus int) {
	rpcstatus.Write(w, st, httpStatus, h.Schema.Types)
}
