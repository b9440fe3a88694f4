package grpcproxy

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// frame is one gRPC message, passed through without decoding.
type frame struct{ data []byte }

// rawCodec hands message bytes to grpc-go untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("rawCodec: unexpected %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f.data)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("rawCodec: unexpected %T", v)
	}
	f.data = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// readFrame reads one length-prefixed message; io.EOF only at a clean message boundary.
func readFrame(r io.Reader, encoding string, limit int) (*frame, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, status.Error(codes.InvalidArgument, "truncated gRPC message header")
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if int64(n) > int64(limit) {
		return nil, status.Errorf(codes.ResourceExhausted, "message of %d bytes exceeds the gateway limit of %d", n, limit)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, status.Error(codes.InvalidArgument, "truncated gRPC message")
	}
	switch {
	case hdr[0] == 0:
		return &frame{data: data}, nil
	case hdr[0] == 1 && encoding == "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad gzip message: %v", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "bad gzip message: %v", err)
		}
		if len(out) > limit {
			return nil, status.Errorf(codes.ResourceExhausted, "decompressed message exceeds the gateway limit of %d", limit)
		}
		return &frame{data: out}, nil
	default:
		return nil, status.Errorf(codes.Internal, "compressed message with grpc-encoding %q", encoding)
	}
}

// writeFrame writes one uncompressed length-prefixed message.
func writeFrame(w io.Writer, f *frame) error {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(f.data)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(f.data)
	return err
}

// percentEncode escapes grpc-message as the gRPC HTTP/2 spec asks.
func percentEncode(msg string) string {
	var b []byte
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
	}
	return string(b)
}
