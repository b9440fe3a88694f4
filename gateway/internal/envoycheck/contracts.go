package envoycheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"

	"github.com/filemesh/filemesh/gateway/internal/schema"
)

// Method is one RPC as the contracts describe it.
type Method struct {
	Path            string // /filemesh.auth.v1.AuthService/Login
	Service         string // filemesh.auth.v1.AuthService
	Upstream        string // auth
	ClientStreaming bool
	ServerStreaming bool
	HasBinding      bool // has a google.api.http binding
	Policy          schema.Policy
}

// Streaming reports whether either side streams.
func (m Method) Streaming() bool { return m.ClientStreaming || m.ServerStreaming }

// Contracts are the methods of the descriptor image, confirmed by gen/methods.json.
type Contracts struct {
	Methods []Method
}

// catalogEntry is one element of gen/methods.json.
type catalogEntry struct {
	Service         string `json:"service"`
	ServiceName     string `json:"serviceName"`
	Path            string `json:"path"`
	ClientStreaming bool   `json:"clientStreaming"`
	ServerStreaming bool   `json:"serverStreaming"`
	HTTP            []any  `json:"http"`
	Policy          struct {
		Public          bool     `json:"public"`
		Idempotent      bool     `json:"idempotent"`
		Admin           bool     `json:"admin"`
		InternalCallers []string `json:"internalCallers"`
		RateClass       string   `json:"rateClass"`
	} `json:"policy"`
}

// LoadContracts reads the descriptor image and the method catalog and fails unless they
// describe the same methods.
func LoadContracts(descriptorPath, catalogPath string) (*Contracts, error) {
	s, err := schema.Load(descriptorPath)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(catalogPath)
	if err != nil {
		return nil, err
	}
	var catalog []catalogEntry
	if err := json.Unmarshal(raw, &catalog); err != nil {
		return nil, fmt.Errorf("%s: %w", catalogPath, err)
	}
	c := &Contracts{}
	for _, svc := range s.Services {
		for i := 0; i < svc.Desc.Methods().Len(); i++ {
			md := svc.Desc.Methods().Get(i)
			rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			c.Methods = append(c.Methods, Method{
				Path: schema.MethodPath(md), Service: string(svc.Desc.FullName()), Upstream: svc.Upstream,
				ClientStreaming: md.IsStreamingClient(), ServerStreaming: md.IsStreamingServer(),
				HasBinding: rule != nil && rule.GetPattern() != nil, Policy: s.PolicyOf(md),
			})
		}
	}
	sort.Slice(c.Methods, func(i, j int) bool { return c.Methods[i].Path < c.Methods[j].Path })
	return c, agree(c, catalog)
}

// agree checks the catalog against the image, method by method.
func agree(c *Contracts, catalog []catalogEntry) error {
	var errs []error
	byPath := map[string]Method{}
	for _, m := range c.Methods {
		byPath[m.Path] = m
	}
	seen := map[string]bool{}
	for _, e := range catalog {
		seen[e.Path] = true
		m, ok := byPath[e.Path]
		if !ok {
			errs = append(errs, fmt.Errorf("methods.json has %s, the descriptor image does not", e.Path))
			continue
		}
		callers := e.Policy.InternalCallers
		if len(callers) == 0 {
			callers = nil
		}
		want := Method{Path: e.Path, Service: e.Service, Upstream: e.ServiceName,
			ClientStreaming: e.ClientStreaming, ServerStreaming: e.ServerStreaming, HasBinding: len(e.HTTP) > 0,
			Policy: schema.Policy{Public: e.Policy.Public, Idempotent: e.Policy.Idempotent, Admin: e.Policy.Admin,
				InternalCallers: callers, RateClass: e.Policy.RateClass}}
		if !reflect.DeepEqual(m, want) {
			errs = append(errs, fmt.Errorf("%s: descriptor image says %+v, methods.json says %+v (run npm run generate)", e.Path, m, want))
		}
	}
	for _, m := range c.Methods {
		if !seen[m.Path] {
			errs = append(errs, fmt.Errorf("the descriptor image has %s, methods.json does not (run npm run generate)", m.Path))
		}
	}
	return errors.Join(errs...)
}

// Services lists the services' full names, sorted.
func (c *Contracts) Services() []string {
	set := map[string]bool{}
	for _, m := range c.Methods {
		set[m.Service] = true
	}
	return sortedKeys(set)
}

// Upstreams lists the upstream names, sorted.
func (c *Contracts) Upstreams() []string {
	set := map[string]bool{}
	for _, m := range c.Methods {
		set[m.Upstream] = true
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
