package grpcproxy

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/filemesh/filemesh/gateway/internal/meta"
)

// relay copies response messages to the client, then the status as trailers.
func (p *Proxy) relay(w http.ResponseWriter, state *meta.State, stream grpc.ClientStream, failure *callFailure) {
	flusher, _ := w.(http.Flusher)
	headersSent := false
	var st *status.Status
	for {
		var f frame
		err := stream.RecvMsg(&f)
		if err != nil {
			if errors.Is(err, io.EOF) {
				st = status.New(codes.OK, "")
			} else {
				st = status.Convert(err)
				if se := failure.get(); se != nil && st.Code() == codes.Canceled {
					st = status.Convert(se) // our own cancel: report why
				}
			}
			break
		}
		if !headersSent {
			headersSent = true
			state.MarkUpstreamAnswered()
			hdr, _ := stream.Header()
			meta.CopyToHeader(w.Header(), hdr, "")
			w.Header().Set("Content-Type", "application/grpc")
			w.WriteHeader(http.StatusOK)
		}
		if writeFrame(w, &f) != nil {
			return // client gone; the deferred cancel ends the call
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	if !headersSent {
		hdr, _ := stream.Header()
		writeStatus(w, state, hdr, stream.Trailer(), st, true)
		return
	}
	meta.CopyToHeader(w.Header(), stream.Trailer(), http.TrailerPrefix)
	setStatus(w.Header(), http.TrailerPrefix, st)
}

// writeStatus sends a trailers-only response; upstream tells whether the status is the
// upstream's answer (or about reaching it) rather than the gateway refusing the request.
func writeStatus(w http.ResponseWriter, state *meta.State, hdr, trl metadata.MD, st *status.Status, upstream bool) {
	if upstream {
		state.MarkUpstreamAnswered()
	}
	h := w.Header()
	meta.CopyToHeader(h, hdr, "")
	meta.CopyToHeader(h, trl, "")
	h.Set("Content-Type", "application/grpc")
	setStatus(h, "", st)
	w.WriteHeader(http.StatusOK)
}

func setStatus(h http.Header, prefix string, st *status.Status) {
	h.Set(prefix+"Grpc-Status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		h.Set(prefix+"Grpc-Message", percentEncode(msg))
	}
	if len(st.Proto().GetDetails()) > 0 {
		if b, err := proto.Marshal(st.Proto()); err == nil {
			h.Set(prefix+"Grpc-Status-Details-Bin", base64.RawStdEncoding.EncodeToString(b))
		}
	}
}
