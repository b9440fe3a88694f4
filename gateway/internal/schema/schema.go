// Package schema loads the descriptor image (gen/filemesh.binpb) and answers the gateway's
// questions about it: which services exist, which upstream serves them (by proto package
// filemesh.<svc>.v1), and how to resolve message types, including error details.
package schema

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Registers google.rpc error details and google.api types in GlobalTypes, the
	// fallback for Any values whose type the image does not carry.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Service is one RPC service of the image and the upstream that serves it.
type Service struct {
	Desc     protoreflect.ServiceDescriptor
	Upstream string // "auth", "user", … from package filemesh.<svc>.v1
}

// Schema is the loaded descriptor image.
type Schema struct {
	Files    *protoregistry.Files
	Types    Resolver
	Services []Service // filemesh.* services, sorted by full name
	methods  map[string]protoreflect.MethodDescriptor
	policies map[string]Policy
}

// Load reads a FileDescriptorSet (buf image) from path.
func Load(path string) (*Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read descriptor image: %w (run `npm run generate` at the repo root)", err)
	}
	return Parse(raw)
}

// Parse builds a Schema from the bytes of a FileDescriptorSet.
func Parse(raw []byte) (*Schema, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("parse descriptor image: %w", err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("link descriptor image: %w", err)
	}
	s := &Schema{
		Files:    files,
		Types:    newResolver(files),
		methods:  map[string]protoreflect.MethodDescriptor{},
		policies: map[string]Policy{},
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		upstream, ok := UpstreamOf(fd.Package())
		if !ok {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			s.Services = append(s.Services, Service{Desc: sd, Upstream: upstream})
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				s.methods[MethodPath(md)] = md
				s.policies[MethodPath(md)] = s.PolicyOf(md)
			}
		}
		return true
	})
	sort.Slice(s.Services, func(i, j int) bool { return s.Services[i].Desc.FullName() < s.Services[j].Desc.FullName() })
	if len(s.Services) == 0 {
		return nil, fmt.Errorf("descriptor image has no filemesh.<svc>.v1 services")
	}
	return s, nil
}

// UpstreamOf maps a proto package filemesh.<svc>.v<n> to <svc>.
func UpstreamOf(pkg protoreflect.FullName) (string, bool) {
	parts := strings.Split(string(pkg), ".")
	if len(parts) != 3 || parts[0] != "filemesh" || parts[1] == "" || !strings.HasPrefix(parts[2], "v") {
		return "", false
	}
	if parts[1] == "options" || parts[1] == "events" {
		return "", false
	}
	return parts[1], true
}

// UpstreamOfPath maps a gRPC path /filemesh.<svc>.v1.Service/Method to <svc>.
func UpstreamOfPath(path string) (string, bool) {
	svc, _, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(svc, '.')
	if i < 0 {
		return "", false
	}
	return UpstreamOf(protoreflect.FullName(svc[:i]))
}

// Method finds a method by its gRPC path.
func (s *Schema) Method(path string) (protoreflect.MethodDescriptor, bool) {
	md, ok := s.methods[path]
	return md, ok
}

// Policy is the policy of the method at a gRPC path (zero when unknown).
func (s *Schema) Policy(path string) Policy { return s.policies[path] }

// UpstreamNames lists the distinct upstreams that serve the image's services, sorted.
func (s *Schema) UpstreamNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, svc := range s.Services {
		if !seen[svc.Upstream] {
			seen[svc.Upstream] = true
			out = append(out, svc.Upstream)
		}
	}
	sort.Strings(out)
	return out
}

// MethodPath is the gRPC path of a method.
func MethodPath(md protoreflect.MethodDescriptor) string {
	return "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
}
