// Package rpcstatus turns gRPC statuses into REST responses: the HTTP status of each code,
// a JSON google.rpc.Status body with its details, and Retry-After from RetryInfo.
package rpcstatus

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Domain is the ErrorInfo.domain of errors the gateway itself raises.
const Domain = "gateway.filemesh"

// Reasons of gateway-raised errors (ErrorInfo.reason).
const (
	ReasonRouteNotFound    = "ROUTE_NOT_FOUND"
	ReasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
	ReasonMalformedJSON    = "MALFORMED_JSON"
	ReasonInvalidRequest   = "INVALID_REQUEST"
	ReasonBodyTooLarge     = "BODY_TOO_LARGE"
	ReasonUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE"
	ReasonUnavailable      = "UPSTREAM_UNAVAILABLE"
	ReasonOriginNotAllowed = "ORIGIN_NOT_ALLOWED"
)

// HTTPStatus is the usual mapping of a gRPC code to an HTTP status
// (google.rpc.Code comments; Envoy's convert_grpc_status and Vanguard agree).
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	default: // Unknown, Internal, DataLoss and anything new
		return http.StatusInternalServerError
	}
}

// CodeOfHTTP is the gRPC code that best describes an HTTP error status the gateway produced.
func CodeOfHTTP(status int) codes.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed, http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return codes.Unimplemented
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	default:
		if status >= 500 {
			return codes.Internal
		}
		return codes.Unknown
	}
}

// New builds a google.rpc.Status with an ErrorInfo of the gateway's domain.
func New(c codes.Code, reason, message string, extra ...proto.Message) *spb.Status {
	st := &spb.Status{Code: int32(c), Message: message}
	details := append([]proto.Message{&errdetails.ErrorInfo{Reason: reason, Domain: Domain}}, extra...)
	for _, d := range details {
		if a, err := anypb.New(d); err == nil {
			st.Details = append(st.Details, a)
		}
	}
	return st
}

// WithErrorInfo adds an ErrorInfo with reason to a status that has none (such as a
// connection failure raised by the gRPC client), so every REST error carries one.
func WithErrorInfo(st *spb.Status, reason string) *spb.Status {
	for _, d := range st.GetDetails() {
		if d.MessageIs(&errdetails.ErrorInfo{}) {
			return st
		}
	}
	out := proto.Clone(st).(*spb.Status)
	if a, err := anypb.New(&errdetails.ErrorInfo{Reason: reason, Domain: Domain}); err == nil {
		out.Details = append([]*anypb.Any{a}, out.Details...)
	}
	return out
}

// codeName is the canonical upper-snake name of a code (UNAVAILABLE, NOT_FOUND, …).
func codeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// RetryAfterSeconds reads RetryInfo from a status's details (0 when absent).
func RetryAfterSeconds(st *spb.Status) int {
	for _, d := range st.GetDetails() {
		var ri errdetails.RetryInfo
		if d.MessageIs(&ri) && d.UnmarshalTo(&ri) == nil && ri.GetRetryDelay() != nil {
			secs := ri.GetRetryDelay().AsDuration().Seconds()
			return int(math.Max(1, math.Ceil(secs)))
		}
	}
	return 0
}

// TypeResolver resolves the types of Any details (schema.Resolver or protoregistry.GlobalTypes).
type TypeResolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// Marshal renders a status as proto3 JSON; details of types unknown to resolver are
// dropped rather than failing the whole body.
func Marshal(st *spb.Status, resolver TypeResolver) []byte {
	if resolver == nil {
		resolver = protoregistry.GlobalTypes
	}
	opts := protojson.MarshalOptions{EmitUnpopulated: true, Resolver: resolver}
	if b, err := opts.Marshal(st); err == nil {
		return b
	}
	kept := proto.Clone(st).(*spb.Status)
	kept.Details = nil
	for _, d := range st.GetDetails() {
		if _, err := resolver.FindMessageByURL(d.GetTypeUrl()); err == nil {
			kept.Details = append(kept.Details, d)
		}
	}
	if b, err := opts.Marshal(kept); err == nil {
		return b
	}
	kept.Details = nil
	b, _ := opts.Marshal(kept)
	return b
}

// Write sends a status as a REST error: HTTP status from the code (unless httpStatus is
// non-zero), JSON body, and Retry-After for 429 with RetryInfo.
func Write(w http.ResponseWriter, st *spb.Status, httpStatus int, resolver TypeResolver) {
	if httpStatus == 0 {
		httpStatus = HTTPStatus(codes.Code(st.GetCode()))
	}
	st = WithErrorInfo(st, codeName(codes.Code(st.GetCode())))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	h.Set("X-Content-Type-Options", "nosniff")
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		if secs := RetryAfterSeconds(st); secs > 0 {
			h.Set("Retry-After", strconv.Itoa(secs))
		}
	}
	body := Marshal(st, resolver)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
