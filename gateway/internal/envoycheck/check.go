package envoycheck

import (
	"errors"
	"fmt"
	"strings"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	healthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"

	"github.com/filemesh/filemesh/gateway/internal/config"
)

// DescriptorFile is the name the transcoder's proto_descriptor must point at.
const DescriptorFile = "filemesh.binpb"

// Check cross-checks a loaded config against the contracts and returns every problem.
func Check(b *bootstrapv3.Bootstrap, c *Contracts) error {
	g, err := unpack(b)
	if err != nil {
		return err
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	checkFilters(g, add)
	checkTranscoder(g, c, add)
	checkClusters(g, c, add)
	checkRoutes(g, c, add)
	checkTus(g, add)
	checkJWT(g, c, add)
	checkHealthz(g, c, add)
	checkEdge(g, add)
	return errors.Join(errs...)
}

type adder func(format string, args ...any)

func checkFilters(g *gateway, add adder) {
	hc := filterIndex[*healthv3.HealthCheck](g)
	cors := filterIndex[*corsv3.Cors](g)
	tr := filterIndex[*transcoderv3.GrpcJsonTranscoder](g)
	jwt := filterIndex[*jwtv3.JwtAuthentication](g)
	rl := filterIndex[*ratelimitv3.LocalRateLimit](g)
	router := filterIndex[*routerv3.Router](g)
	for name, i := range map[string]int{"health_check": hc, "cors": cors, "grpc_json_transcoder": tr, "jwt_authn": jwt, "local_ratelimit": rl, "router": router} {
		if i < 0 {
			add("http filter %s is missing", name)
		}
	}
	if router != len(g.filters)-1 {
		add("the router must be the last http filter")
	}
	if tr >= 0 && jwt >= 0 && tr > jwt {
		add("grpc_json_transcoder must come before jwt_authn (jwt rules match gRPC paths)")
	}
	if hc >= 0 && jwt >= 0 && hc > jwt {
		add("health_check must come before jwt_authn (/healthz needs no token)")
	}
	if cors >= 0 && jwt >= 0 && cors > jwt {
		add("cors must come before jwt_authn (preflights carry no token)")
	}
	if !hasTypedOverride(g.vhost.GetTypedPerFilterConfig(), &corsv3.CorsPolicy{}) {
		add("the virtual host has no CorsPolicy")
	}
	// The CORS filter looks its policy up by the route of the untranscoded REST path.
	if _, found, err := first(g.routes, "/v1/cors-probe"); err == nil && !found && cors >= 0 && cors < tr {
		add("no route matches REST paths such as /v1/…, so CORS (before transcoding) finds no policy; add a catch-all route")
	}
	if _, ok := jsonAccessLog(g); !ok {
		add("no JSON access log on the http_connection_manager")
	}
	if g.ratelimit != nil && g.ratelimit.GetTokenBucket() == nil {
		add("local_ratelimit has no token bucket")
	}
}

func checkTranscoder(g *gateway, c *Contracts, add adder) {
	t := g.transcoder
	if t == nil {
		return
	}
	if !strings.HasSuffix(t.GetProtoDescriptor(), "/"+DescriptorFile) {
		add("transcoder proto_descriptor %q must be the descriptor image %s", t.GetProtoDescriptor(), DescriptorFile)
	}
	if !t.GetConvertGrpcStatus() {
		add("transcoder: convert_grpc_status must be on (JSON google.rpc.Status error bodies)")
	}
	if t.GetUrlUnescapeSpec() != transcoderv3.GrpcJsonTranscoder_ALL_CHARACTERS_EXCEPT_SLASH {
		add("transcoder: url_unescape_spec must be ALL_CHARACTERS_EXCEPT_SLASH (path variables such as user%%3A<id> decoded once, as the local gateway does)")
	}
	if !t.GetAutoMapping() {
		add("transcoder: auto_mapping must be on (the local gateway auto-maps unary RPCs too)")
	}
	listed := map[string]bool{}
	for _, s := range t.GetServices() {
		if listed[s] {
			add("transcoder lists %s twice", s)
		}
		listed[s] = true
	}
	known := map[string]bool{}
	for _, s := range c.Services() {
		known[s] = true
	}
	for s := range listed {
		if !known[s] {
			add("transcoder lists %s, which the descriptor image does not have", s)
		}
	}
	for _, m := range c.Methods {
		if m.HasBinding && !listed[m.Service] {
			add("transcoder does not list %s, whose %s has an http binding", m.Service, m.Path)
		}
	}
}

func checkClusters(g *gateway, c *Contracts, add adder) {
	ports := map[string]int{}
	for _, s := range config.Services {
		ports[s.Name] = s.Port
	}
	for _, u := range c.Upstreams() {
		cl, ok := g.clusters[u]
		if !ok {
			add("no cluster %q for the %s service", u, u)
			continue
		}
		if !isHTTP2(cl) {
			add("cluster %s must use HTTP/2 (explicit_http_config.http2_protocol_options)", u)
		}
		if !hasGRPCHealthCheck(cl) {
			add("cluster %s has no active gRPC health check", u)
		}
		var n int
		for _, e := range cl.GetLoadAssignment().GetEndpoints() {
			for _, lb := range e.GetLbEndpoints() {
				n++
				if p := lb.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue(); int(p) != ports[u] {
					add("cluster %s endpoint port %d, want the service's port %d", u, p, ports[u])
				}
			}
		}
		if n == 0 {
			add("cluster %s has no endpoints", u)
		}
	}
	for _, r := range g.routes {
		if cl := r.GetRoute().GetCluster(); cl != "" && g.clusters[cl] == nil {
			add("route %v sends to unknown cluster %q", r.GetMatch(), cl)
		}
	}
}

func checkHealthz(g *gateway, c *Contracts, add adder) {
	h := g.health
	if h == nil {
		return
	}
	if h.GetPassThroughMode().GetValue() {
		add("health_check must answer /healthz itself (pass_through_mode false)")
	}
	got := h.GetClusterMinHealthyPercentages()
	for _, u := range c.Upstreams() {
		if p, ok := got[u]; !ok || p.GetValue() <= 0 {
			add("/healthz does not require a healthy host in cluster %s", u)
		}
	}
	for name := range got {
		if g.clusters[name] == nil {
			add("/healthz names unknown cluster %q", name)
		}
	}
}
