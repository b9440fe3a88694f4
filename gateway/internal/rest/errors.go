package rest

import (
	"bytes"
	"net/http"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
	"github.com/filemesh/filemesh/gateway/internal/schema"
)

const maxErrorBody = 1 << 20

// ErrorWriter wraps the client's ResponseWriter under Vanguard. Successful responses pass
// straight through; error responses are held, normalised into a JSON google.rpc.Status
// with the right HTTP status, and written by Finish.
type ErrorWriter struct {
	w       http.ResponseWriter
	state   *meta.State
	types   schema.Resolver
	code    int
	holding bool
	buf     bytes.Buffer
}

// NewErrorWriter wraps w for one request.
func NewErrorWriter(w http.ResponseWriter, state *meta.State, types schema.Resolver) *ErrorWriter {
	return &ErrorWriter{w: w, state: state, types: types}
}

func (e *ErrorWriter) Header() http.Header { return e.w.Header() }

func (e *ErrorWriter) WriteHeader(code int) {
	if e.code != 0 {
		return
	}
	e.code = code
	if code < 400 {
		e.w.WriteHeader(code)
		return
	}
	e.holding = true
	if !e.state.UpstreamAnswered() {
		e.state.MarkGatewayAnswered() // the proxy must not call upstream now
	}
}

func (e *ErrorWriter) Write(b []byte) (int, error) {
	if e.code == 0 {
		e.WriteHeader(http.StatusOK)
	}
	if !e.holding {
		return e.w.Write(b)
	}
	if room := maxErrorBody - e.buf.Len(); room > 0 {
		if len(b) > room {
			e.buf.Write(b[:room])
		} else {
			e.buf.Write(b)
		}
	}
	return len(b), nil
}

// Flush passes through for successful responses (Vanguard requires a Flusher).
func (e *ErrorWriter) Flush() {
	if f, ok := e.w.(http.Flusher); ok && !e.holding && e.code != 0 {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (e *ErrorWriter) Unwrap() http.ResponseWriter { return e.w }

// Finish writes a held error response.
func (e *ErrorWriter) Finish() {
	if !e.holding {
		return
	}
	h := e.w.Header()
	ctype := h.Get("Content-Type")
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin"} {
		h.Del(k)
	}
	st, httpStatus := e.normalise(ctype)
	rpcstatus.Write(e.w, st, httpStatus, e.types)
}

// normalise makes the held error a google.rpc.Status, with the HTTP status to answer when
// it is not rpcstatus.HTTPStatus of that status (0), i.e. only for Vanguard's plain errors.
func (e *ErrorWriter) normalise(ctype string) (*spb.Status, int) {
	var st spb.Status
	isStatus := strings.HasPrefix(ctype, "application/json") &&
		(protojson.UnmarshalOptions{Resolver: e.types, DiscardUnknown: true}).Unmarshal(e.buf.Bytes(), &st) == nil
	if !isStatus {
		// A plain HTTP error from Vanguard (405, 415, …): keep the status, JSON body.
		return rpcstatus.FromHTTP(e.code, textMessage(e.buf.String(), e.code)), e.code
	}
	code := codes.Code(st.GetCode())
	if e.state.UpstreamAnswered() {
		return &st, 0 // rpcstatus.HTTPStatus: by code, or by reason
	}
	// Raised by the gateway before any service saw the request: a client mistake.
	switch {
	case e.state.BodyTooLarge() || code == codes.ResourceExhausted:
		return rpcstatus.New(codes.ResourceExhausted, rpcstatus.ReasonBodyTooLarge, "request body too large: "+st.GetMessage()), 0
	case code == codes.Unknown || code == codes.Internal:
		return rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonInvalidRequest, st.GetMessage()), 0
	default:
		return rpcstatus.WithErrorInfo(&st, rpcstatus.ReasonInvalidRequest), 0
	}
}

func textMessage(body string, code int) string {
	if msg := strings.TrimSpace(body); msg != "" {
		return msg
	}
	return http.StatusText(code)
}
