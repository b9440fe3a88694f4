// Package rest serves the JSON REST surface through Vanguard: every google.api.http binding
// of the descriptor image, transcoded to gRPC and handed to the gRPC proxy. It also makes
// Vanguard's errors REST-shaped: JSON google.rpc.Status bodies, 400 for client mistakes
// (never 500), 413 over the body limit, 429 with Retry-After.
package rest

import (
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
	"github.com/filemesh/filemesh/gateway/internal/schema"
	"github.com/filemesh/filemesh/gateway/internal/upstream"
)

// NewTranscoder builds the Vanguard transcoder for every service of the schema, each
// forwarded as gRPC to target (the proxy).
func NewTranscoder(s *schema.Schema, target http.Handler, notFound http.Handler) (*vanguard.Transcoder, error) {
	services := make([]*vanguard.Service, 0, len(s.Services))
	for _, svc := range s.Services {
		services = append(services, vanguard.NewServiceWithSchema(svc.Desc, target,
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithNoTargetCompression(),
			vanguard.WithTypeResolver(s.Types),
			vanguard.WithMaxMessageBufferBytes(upstream.MaxMessageBytes),
		))
	}
	t, err := vanguard.NewTranscoder(services,
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec { return strictJSON{vanguard.NewJSONCodec(res)} }),
		vanguard.WithUnknownHandler(notFound),
	)
	if err != nil {
		return nil, fmt.Errorf("vanguard: %w", err)
	}
	return t, nil
}

// strictJSON is Vanguard's JSON codec, refusing unknown fields, whose decoding errors are
// INVALID_ARGUMENT (Vanguard would report them as UNKNOWN, a 500).
type strictJSON struct{ *vanguard.JSONCodec }

func (c strictJSON) Unmarshal(data []byte, msg proto.Message) error {
	opts := c.JSONCodec.UnmarshalOptions
	opts.DiscardUnknown = false
	return malformed(opts.Unmarshal(data, msg))
}

func (c strictJSON) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	if field.Message() != nil && !field.IsList() && !field.IsMap() {
		return c.Unmarshal(data, msg.ProtoReflect().Mutable(field).Message().Interface())
	}
	return malformed(c.JSONCodec.UnmarshalField(data, msg, field))
}

func malformed(err error) error {
	if err == nil {
		return nil
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("malformed JSON request body: %v", err))
	if d, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: rpcstatus.ReasonMalformedJSON, Domain: rpcstatus.Domain}); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}
