// Package envoycheck validates gateway/envoy.yaml without an Envoy binary: it loads the file
// into Envoy's own config protos (go-control-plane), resolves every typed_config, runs the
// generated ValidateAll() on every message including those inside Any, and cross-checks
// the config against the contracts (descriptor image and method catalog).
package envoycheck

import (
	"errors"
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// Every extension envoy.yaml names must be linked in, so its "@type" resolves.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/formatter/req_without_query/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// Load parses envoy.yaml into a Bootstrap (unknown fields and unknown types are errors)
// and validates it deeply.
func Load(yamlDoc []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSON(yamlDoc)
	if err != nil {
		return nil, fmt.Errorf("envoy.yaml is not valid YAML: %w", err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		return nil, fmt.Errorf("envoy.yaml does not fit envoy.config.bootstrap.v3.Bootstrap: %w", err)
	}
	if err := Validate(&b); err != nil {
		return nil, err
	}
	return &b, nil
}

type validator interface{ ValidateAll() error }

// Validate runs ValidateAll on the bootstrap and, since protoc-gen-validate does not look
// inside Any, on every message packed in an Any anywhere in it.
func Validate(b *bootstrapv3.Bootstrap) error {
	var errs []error
	if err := b.ValidateAll(); err != nil {
		errs = append(errs, err)
	}
	walkAny(b.ProtoReflect(), "bootstrap", func(path string, m proto.Message) {
		v, ok := m.(validator)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %T has no validation", path, m))
			return
		}
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", path, m.ProtoReflect().Descriptor().FullName(), err))
		}
	}, func(path string, err error) { errs = append(errs, fmt.Errorf("%s: %w", path, err)) })
	return errors.Join(errs...)
}

// walkAny calls visit for the unpacked content of every Any under m.
func walkAny(m protoreflect.Message, path string, visit func(string, proto.Message), fail func(string, error)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			fail(path, fmt.Errorf("typed config %q: %w", a.GetTypeUrl(), err))
			return
		}
		visit(path, inner)
		walkAny(inner.ProtoReflect(), path+"<"+string(inner.ProtoReflect().Descriptor().Name())+">", visit, fail)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				walkAny(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), visit, fail)
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					walkAny(mv.Message(), fmt.Sprintf("%s[%s]", p, k.String()), visit, fail)
					return true
				})
			}
		default:
			walkAny(v.Message(), p, visit, fail)
		}
		return true
	})
}
