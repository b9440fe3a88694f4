package rawbody

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
	"github.com/filemesh/filemesh/gateway/internal/schema"
)

// chunkSize is the data carried by one upstream HttpBody message.
const chunkSize = 256 << 10

// Conns gives the balanced connection of an upstream service.
type Conns interface {
	Conn(name string) (*grpc.ClientConn, bool)
}

// Handler serves the streaming raw-body routes.
type Handler struct {
	Routes         []*Route
	Conns          Conns
	Types          schema.Resolver
	MaxUploadBytes int64      // raw upload bodies
	MaxBodyBytes   int64      // JSON bodies of download routes
	Data           *DataPlane // nil: downloads stream over gRPC
}

// Match finds the route of a request, if it is a raw-body route.
func (h *Handler) Match(r *http.Request) (*Route, map[string]string, bool) {
	for _, rt := range h.Routes {
		if rt.HTTPMethod != r.Method {
			continue
		}
		if vars, ok := rt.Template.Match(r.URL.EscapedPath()); ok {
			return rt, vars, true
		}
	}
	return nil, nil, false
}

// Serve handles a matched request.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, rt *Route, vars map[string]string) {
	cc, ok := h.Conns.Conn(rt.Upstream)
	if !ok {
		h.fail(w, rpcstatus.New(codes.Unimplemented, rpcstatus.ReasonRouteNotFound, "no upstream for "+rt.GRPCPath()), 0)
		return
	}
	req := dynamicpb.NewMessage(rt.Method.Input())
	if err := h.bindParams(req, r, rt, vars); err != nil {
		h.invalid(w, err)
		return
	}
	ctx := metadata.NewOutgoingContext(r.Context(), meta.Outgoing(r))
	if h.takesDataPlane(rt) && h.serveData(ctx, w, r, rt, cc, req) {
		return
	}
	if h.takesUploadPlane(rt) && h.serveUpload(ctx, w, r, rt, cc, req) {
		return
	}
	if rt.Upload {
		h.upload(ctx, w, r, rt, cc, req)
	} else {
		h.download(ctx, w, r, rt, cc, req)
	}
}

// bindParams sets path variables and query parameters on the first request message.
func (h *Handler) bindParams(req *dynamicpb.Message, r *http.Request, rt *Route, vars map[string]string) error {
	for path, v := range vars {
		if err := setParam(req, path, v); err != nil {
			return fieldError{path, err}
		}
	}
	for key, vs := range r.URL.Query() {
		if rt.Upload && len(rt.BodyPath) > 0 && key == string(rt.BodyPath[0].Name()) {
			return fieldError{key, errors.New("is the request body and cannot be a query parameter")}
		}
		for _, v := range vs {
			if err := setParam(req, key, v); err != nil {
				return fieldError{key, err}
			}
		}
	}
	return nil
}

type fieldError struct {
	field string
	err   error
}

func (e fieldError) Error() string { return fmt.Sprintf("invalid parameter %q: %v", e.field, e.err) }

func (h *Handler) invalid(w http.ResponseWriter, err error) {
	var extra []proto.Message
	var fe fieldError
	if errors.As(err, &fe) {
		extra = append(extra, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: fe.field, Description: fe.err.Error()},
		}})
	}
	h.fail(w, rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonInvalidRequest, err.Error(), extra...), 0)
}

func (h *Handler) tooLarge(w http.ResponseWriter, limit int64) {
	h.fail(w, rpcstatus.New(codes.ResourceExhausted, rpcstatus.ReasonBodyTooLarge,
		fmt.Sprintf("request body exceeds the limit of %d bytes", limit)), 0)
}

func (h *Handler) fail(w http.ResponseWriter, st *spb.Status, httpStatus int) {
	rpcstatus.Write(w, st, httpStatus, h.Types)
}

// marshalJSON renders the response (or its response_body field) as proto3 JSON.
func (h *Handler) marshalJSON(resp protoreflect.Message, rt *Route) ([]byte, error) {
	m := walk(resp, rt.ResponsePath, false)
	return protojson.MarshalOptions{EmitUnpopulated: true, Resolver: h.Types}.Marshal(m.Interface())
}
