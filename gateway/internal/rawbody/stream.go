package rawbody

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
)

// upload streams the request body upstream in chunks: the first message carries the path
// and query fields, the content type and the first chunk; each later message one chunk.
func (h *Handler) upload(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *Route, cc *grpc.ClientConn, first *dynamicpb.Message) {
	if r.ContentLength > h.MaxUploadBytes {
		h.tooLarge(w, h.MaxUploadBytes)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, rt.GRPCPath())
	if err != nil {
		h.fail(w, status.Convert(err).Proto(), 0)
		return
	}
	msg, sent, total := first, false, int64(0)
	for {
		buf := make([]byte, chunkSize) // a fresh buffer: a sent message must not change
		n, rerr := io.ReadFull(r.Body, buf)
		total += int64(n)
		if total > h.MaxUploadBytes {
			cancel()
			h.tooLarge(w, h.MaxUploadBytes)
			return
		}
		end := errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF)
		if rerr != nil && !end {
			cancel() // never half-close: a truncated upload must not look complete
			h.fail(w, rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonInvalidRequest,
				fmt.Sprintf("reading the request body: %v", rerr)), 0)
			return
		}
		if n > 0 || !sent {
			body := walk(msg, rt.BodyPath, true)
			fields := body.Descriptor().Fields()
			if !sent {
				body.Set(fields.ByName("content_type"), protoreflect.ValueOfString(r.Header.Get("Content-Type")))
			}
			body.Set(fields.ByName("data"), protoreflect.ValueOfBytes(buf[:n]))
			if stream.SendMsg(msg) != nil {
				break // the service ended the call early; RecvMsg has its status
			}
			msg, sent = dynamicpb.NewMessage(rt.Method.Input()), true
		}
		if end {
			break
		}
	}
	_ = stream.CloseSend()
	resp := dynamicpb.NewMessage(rt.Method.Output())
	if err := stream.RecvMsg(resp); err != nil {
		h.fail(w, status.Convert(err).Proto(), 0)
		return
	}
	b, err := h.marshalJSON(resp, rt)
	if err != nil {
		h.fail(w, rpcstatus.New(codes.Internal, "RESPONSE_NOT_RENDERED", "cannot render the response as JSON"), 0)
		return
	}
	hdr, _ := stream.Header()
	meta.CopyToHeader(w.Header(), hdr, "")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// download streams each response message's HttpBody data to the client as it arrives,
// under the headers of setDownloadHeaders. A body that ends early or runs past its declared
// length is aborted, never passed off as complete.
func (h *Handler) download(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *Route, cc *grpc.ClientConn, req *dynamicpb.Message) {
	if rt.JSONBody != "" {
		if err := h.readJSONBody(r, rt, req); err != nil {
			var tl tooLargeError
			if errors.As(err, &tl) {
				h.tooLarge(w, h.MaxBodyBytes)
			} else {
				h.fail(w, rpcstatus.New(codes.InvalidArgument, rpcstatus.ReasonMalformedJSON, err.Error()), 0)
			}
			return
		}
	}
	stream, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, rt.GRPCPath())
	if err == nil {
		if err = stream.SendMsg(req); err == nil {
			err = stream.CloseSend()
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		h.fail(w, status.Convert(err).Proto(), 0)
		return
	}
	flusher, _ := w.(http.Flusher)
	wrote := false
	declared, sent := int64(-1), int64(0)
	start := func(contentType string) {
		hdr, _ := stream.Header()
		declared = setDownloadHeaders(w.Header(), hdr, contentType)
		w.WriteHeader(http.StatusOK)
		wrote = true
	}
	for {
		out := dynamicpb.NewMessage(rt.Method.Output())
		err := stream.RecvMsg(out)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !wrote {
				h.fail(w, status.Convert(err).Proto(), 0)
				return
			}
			// Headers are gone; abort the response so the client sees a truncated body.
			panic(http.ErrAbortHandler)
		}
		body := walk(out, rt.ResponsePath, false)
		fields := body.Descriptor().Fields()
		if !wrote {
			start(body.Get(fields.ByName("content_type")).String())
		}
		if data := body.Get(fields.ByName("data")).Bytes(); len(data) > 0 {
			sent += int64(len(data))
			if declared >= 0 && sent > declared {
				panic(http.ErrAbortHandler)
			}
			if _, err := w.Write(data); err != nil {
				return // client gone; the request context cancels the call
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	if !wrote {
		start("")
	}
	if declared >= 0 && sent != declared {
		panic(http.ErrAbortHandler)
	}
}

type tooLargeError struct{}

func (tooLargeError) Error() string { return "request body too large" }

func (h *Handler) readJSONBody(r *http.Request, rt *Route, req *dynamicpb.Message) error {
	if r.ContentLength > h.MaxBodyBytes {
		return tooLargeError{}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("reading the request body: %w", err)
	}
	if int64(len(b)) > h.MaxBodyBytes {
		return tooLargeError{}
	}
	if len(b) == 0 {
		return nil
	}
	target := protoreflect.Message(req)
	if rt.JSONBody != "*" {
		path, err := fieldPath(rt.Method.Input(), rt.JSONBody)
		if err != nil {
			return err
		}
		target = walk(req, path, true)
	}
	if err := (protojson.UnmarshalOptions{Resolver: h.Types}).Unmarshal(b, target.Interface()); err != nil {
		return fmt.Errorf("malformed JSON request body: %v", err)
	}
	return nil
}
