package envoycheck

import (
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	healthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// gateway is the part of the bootstrap the checks look at, unpacked.
type gateway struct {
	hcm        *hcmv3.HttpConnectionManager
	filters    []proto.Message // http_filters' typed configs, in order
	transcoder *transcoderv3.GrpcJsonTranscoder
	jwt        *jwtv3.JwtAuthentication
	health     *healthv3.HealthCheck
	ratelimit  *ratelimitv3.LocalRateLimit
	routes     []*routev3.Route
	vhost      *routev3.VirtualHost
	clusters   map[string]*clusterv3.Cluster
}

// unpack finds the single HTTP listener and its filters.
func unpack(b *bootstrapv3.Bootstrap) (*gateway, error) {
	g := &gateway{clusters: map[string]*clusterv3.Cluster{}}
	for _, c := range b.GetStaticResources().GetClusters() {
		g.clusters[c.GetName()] = c
	}
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().MessageIs(&hcm) {
					if g.hcm != nil {
						return nil, fmt.Errorf("more than one http_connection_manager; the checks expect one")
					}
					if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
						return nil, err
					}
					g.hcm = &hcm
				}
			}
		}
	}
	if g.hcm == nil {
		return nil, fmt.Errorf("no listener with an http_connection_manager")
	}
	for _, f := range g.hcm.GetHttpFilters() {
		m, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("http filter %s: %w", f.GetName(), err)
		}
		g.filters = append(g.filters, m)
		switch m := m.(type) {
		case *transcoderv3.GrpcJsonTranscoder:
			g.transcoder = m
		case *jwtv3.JwtAuthentication:
			g.jwt = m
		case *healthv3.HealthCheck:
			g.health = m
		case *ratelimitv3.LocalRateLimit:
			g.ratelimit = m
		}
	}
	vhosts := g.hcm.GetRouteConfig().GetVirtualHosts()
	if len(vhosts) != 1 {
		return nil, fmt.Errorf("want exactly one virtual host in the inline route_config, got %d", len(vhosts))
	}
	g.vhost = vhosts[0]
	g.routes = g.vhost.GetRoutes()
	return g, nil
}

// filterIndex is the position of the first http filter of type T (-1 when absent).
func filterIndex[T proto.Message](g *gateway) int {
	for i, f := range g.filters {
		if _, ok := f.(T); ok {
			return i
		}
	}
	return -1
}

// matches reports whether a route match selects a request path (path/prefix only).
func matches(m *routev3.RouteMatch, path string) (bool, error) {
	if len(m.GetHeaders()) > 0 || len(m.GetQueryParameters()) > 0 || m.GetRuntimeFraction() != nil || m.GetGrpc() != nil {
		return false, fmt.Errorf("route match %v uses matchers the check cannot evaluate", m)
	}
	switch m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Path:
		return m.GetPath() == path, nil
	case *routev3.RouteMatch_Prefix:
		return len(path) >= len(m.GetPrefix()) && path[:len(m.GetPrefix())] == m.GetPrefix(), nil
	default:
		return false, fmt.Errorf("route match %v: only path and prefix are checked", m)
	}
}

// first is the element Envoy picks for a path: routes and jwt rules are first-match.
func first[T interface{ GetMatch() *routev3.RouteMatch }](items []T, path string) (T, bool, error) {
	var zero T
	for _, it := range items {
		ok, err := matches(it.GetMatch(), path)
		if err != nil || ok {
			return it, ok, err
		}
	}
	return zero, false, nil
}

// enforces reports whether a requirement demands a valid token.
func enforces(req *jwtv3.JwtRequirement) bool {
	return req.GetProviderName() != "" || req.GetProviderAndAudiences() != nil
}

func isHTTP2(c *clusterv3.Cluster) bool {
	a, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok {
		return false
	}
	var opts upstreamhttpv3.HttpProtocolOptions
	if a.UnmarshalTo(&opts) != nil {
		return false
	}
	return opts.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}

func hasGRPCHealthCheck(c *clusterv3.Cluster) bool {
	for _, hc := range c.GetHealthChecks() {
		if hc.GetGrpcHealthCheck() != nil {
			return true
		}
	}
	return false
}

func hasTypedOverride[T proto.Message](cfg map[string]*anypb.Any, zero T) bool {
	for _, a := range cfg {
		if a.MessageIs(zero) {
			return true
		}
	}
	return false
}

// jsonAccessLog reports whether an access log writes JSON to stdout.
func jsonAccessLog(g *gateway) (*streamv3.StdoutAccessLog, bool) {
	for _, al := range g.hcm.GetAccessLog() {
		var out streamv3.StdoutAccessLog
		if al.GetTypedConfig().UnmarshalTo(&out) == nil && out.GetLogFormat().GetJsonFormat() != nil {
			return &out, true
		}
	}
	return nil, false
}
