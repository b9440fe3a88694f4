package schema

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// PolicyExtension is the custom method option that declares a method's policy.
const PolicyExtension = "filemesh.options.v1.policy"

// Policy is a method's filemesh.options.v1.MethodPolicy.
type Policy struct {
	Public          bool
	Idempotent      bool
	Admin           bool
	InternalCallers []string
	RateClass       string
}

// Internal reports whether only other services may call the method.
func (p Policy) Internal() bool { return len(p.InternalCallers) > 0 }

// PolicyOf reads a method's policy option (the zero Policy when absent). The option is an
// extension the Go registry does not know, so the options are re-read with the image's types.
func (s *Schema) PolicyOf(md protoreflect.MethodDescriptor) Policy {
	xt, err := s.Types.FindExtensionByName(PolicyExtension)
	if err != nil {
		return Policy{}
	}
	raw, err := proto.Marshal(md.Options())
	if err != nil {
		return Policy{}
	}
	opts := dynamicpb.NewMessage(md.Options().ProtoReflect().Descriptor())
	if err := (proto.UnmarshalOptions{Resolver: s.Types}).Unmarshal(raw, opts); err != nil {
		return Policy{}
	}
	if !opts.Has(xt.TypeDescriptor()) {
		return Policy{}
	}
	m := opts.Get(xt.TypeDescriptor()).Message()
	field := func(name string) protoreflect.Value {
		return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
	}
	p := Policy{
		Public:     field("public").Bool(),
		Idempotent: field("idempotent").Bool(),
		Admin:      field("admin").Bool(),
		RateClass:  field("rate_class").String(),
	}
	callers := field("internal_callers").List()
	for i := 0; i < callers.Len(); i++ {
		p.InternalCallers = append(p.InternalCallers, callers.Get(i).String())
	}
	return p
}
