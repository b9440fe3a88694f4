// Package rpcstatus turns gRPC statuses into REST responses: the HTTP status of each code
// (and of the ErrorInfo reasons that need a more precise one), a JSON google.rpc.Status body
// with its details, and Retry-After from RetryInfo. It is the gateway's one mapping between
// gRPC statuses and HTTP statuses, both ways.
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

// reasonKey is an ErrorInfo reason carried by a status of a given code.
type reasonKey struct {
	code   codes.Code
	reason string
}

// byReason are the HTTP statuses a code alone cannot give: docs/architecture.md §7's 412 and 413
// for the services' reasons, and the gateway's own 405, 413 and 415. A reason counts only on
// its code. Envoy's convert_grpc_status maps by code alone, so behind Envoy the services'
// ones stay 400 (FAILED_PRECONDITION) and 429 (RESOURCE_EXHAUSTED).
var byReason = map[reasonKey]int{
	{codes.FailedPrecondition, "ETAG_MISMATCH"}:           http.StatusPreconditionFailed,    // file: stale etag
	{codes.ResourceExhausted, "UPLOAD_TOO_LARGE"}:         http.StatusRequestEntityTooLarge, // file: over the size cap
	{codes.FailedPrecondition, "PART_TOO_LARGE_TO_RELAY"}: http.StatusRequestEntityTooLarge, // file: part for its presigned URL
	{codes.ResourceExhausted, ReasonBodyTooLarge}:         http.StatusRequestEntityTooLarge,
	{codes.Unimplemented, ReasonMethodNotAllowed}:         http.StatusMethodNotAllowed,
	{codes.InvalidArgument, ReasonUnsupportedMedia}:       http.StatusUnsupportedMediaType,
}

// HTTPStatus is the HTTP status of a gRPC status: by its ErrorInfo reason where byReason
// has one, else by its code.
func HTTPStatus(st *spb.Status) int {
	c := codes.Code(st.GetCode())
	if httpStatus, ok := byReason[reasonKey{c, Reason(st)}]; ok {
		return httpStatus
	}
	return CodeHTTPStatus(c)
}

// Reason is the ErrorInfo reason of a status ("" without an ErrorInfo).
func Reason(st *spb.Status) string {
	for _, d := range st.GetDetails() {
		var info errdetails.ErrorInfo
		if d.MessageIs(&info) && d.UnmarshalTo(&info) == nil {
			return info.GetReason()
		}
	}
	return ""
}

// CodeHTTPStatus is the usual mapping of a gRPC code to an HTTP status
// (google.rpc.Code comments; Envoy's convert_grpc_status and Vanguard agree).
func CodeHTTPStatus(c codes.Code) int {
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

// FromHTTP describes a plain HTTP error (one Vanguard answered without a gRPC status) as a
// status of the gateway's domain; HTTPStatus gives the same HTTP status back for every
// error status the gateway produces.
func FromHTTP(httpStatus int, message string) *spb.Status {
	return New(codeOfHTTP(httpStatus), reasonOfHTTP(httpStatus), message)
}

// codeOfHTTP is the gRPC code that best describes an HTTP error status.
func codeOfHTTP(status int) codes.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
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

func reasonOfHTTP(status int) string {
	switch status {
	case http.StatusNotFound:
		return ReasonRouteNotFound
	case http.StatusMethodNotAllowed:
		return ReasonMethodNotAllowed
	case http.StatusUnsupportedMediaType:
		return ReasonUnsupportedMedia
	case http.StatusRequestEntityTooLarge:
		return ReasonBodyTooLarge
	default:
		return ReasonInvalidRequest
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

// Write sends a status as a REST error: HTTP status from HTTPStatus (unless httpStatus is
// non-zero), JSON body, and Retry-After for 429 with RetryInfo.
func Write(w http.ResponseWriter, st *spb.Status, httpStatus int, resolver TypeResolver) {
	if httpStatus == 0 {
		httpStatus = HTTPStatus(st)
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
