// Package rawbody serves the REST routes whose body is a stream of google.api.HttpBody
// messages: uploads (client streaming, raw request body) and downloads (server streaming,
// raw response body). Vanguard buffers both directions whole, so these routes are matched
// and streamed here chunk by chunk instead; every other route goes to Vanguard.
package rawbody

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/filemesh/filemesh/gateway/internal/pathtemplate"
	"github.com/filemesh/filemesh/gateway/internal/schema"
)

const httpBodyName = "google.api.HttpBody"

// Route is one streaming raw-body binding.
type Route struct {
	HTTPMethod   string
	Template     *pathtemplate.Template
	Method       protoreflect.MethodDescriptor
	Upstream     string
	Upload       bool                           // request body streams into BodyPath (an HttpBody)
	BodyPath     []protoreflect.FieldDescriptor // upload: path to the HttpBody field (empty: the request is one)
	JSONBody     string                         // download: "", "*" or a field path for a JSON body
	ResponsePath []protoreflect.FieldDescriptor // path to the response_body field (an HttpBody for downloads)
}

// GRPCPath is the route's gRPC method path.
func (r *Route) GRPCPath() string { return schema.MethodPath(r.Method) }

// Routes finds every streaming HttpBody binding of the schema's services.
func Routes(s *schema.Schema) ([]*Route, error) {
	var out []*Route
	for _, svc := range s.Services {
		methods := svc.Desc.Methods()
		for i := 0; i < methods.Len(); i++ {
			md := methods.Get(i)
			rule, ok := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			if !ok || rule == nil {
				continue
			}
			for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				r, err := routeOf(md, svc.Upstream, b)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", md.FullName(), err)
				}
				if r != nil {
					out = append(out, r)
				}
			}
		}
	}
	return out, nil
}

func routeOf(md protoreflect.MethodDescriptor, upstream string, b *annotations.HttpRule) (*Route, error) {
	verb, path := patternOf(b)
	if path == "" {
		return nil, nil
	}
	respPath, err := fieldPath(md.Output(), b.GetResponseBody())
	if err != nil {
		return nil, fmt.Errorf("response_body: %w", err)
	}
	r := &Route{HTTPMethod: verb, Method: md, Upstream: upstream, ResponsePath: respPath}
	switch {
	case md.IsStreamingClient() && !md.IsStreamingServer():
		body := b.GetBody()
		if body == "*" {
			body = ""
		}
		bp, err := fieldPath(md.Input(), body)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		if !isHTTPBody(md.Input(), bp) || b.GetBody() == "" {
			return nil, nil
		}
		r.Upload, r.BodyPath = true, bp
	case md.IsStreamingServer() && !md.IsStreamingClient():
		if !isHTTPBody(md.Output(), respPath) {
			return nil, nil
		}
		r.JSONBody = b.GetBody()
	default:
		return nil, nil
	}
	if r.Template, err = pathtemplate.Parse(path); err != nil {
		return nil, err
	}
	return r, nil
}

func patternOf(b *annotations.HttpRule) (string, string) {
	switch p := b.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

// fieldPath resolves a dotted path of singular message fields.
func fieldPath(msg protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	if path == "" {
		return nil, nil
	}
	var out []protoreflect.FieldDescriptor
	for _, name := range strings.Split(path, ".") {
		fd := msg.Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("%q is not a singular message field of %s", name, msg.FullName())
		}
		out = append(out, fd)
		msg = fd.Message()
	}
	return out, nil
}

func isHTTPBody(msg protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor) bool {
	if len(path) > 0 {
		msg = path[len(path)-1].Message()
	}
	return msg.FullName() == httpBodyName
}

// walk returns the message at path inside m, creating it when mutable is set.
func walk(m protoreflect.Message, path []protoreflect.FieldDescriptor, mutable bool) protoreflect.Message {
	for _, fd := range path {
		if mutable {
			m = m.Mutable(fd).Message()
		} else {
			m = m.Get(fd).Message()
		}
	}
	return m
}
