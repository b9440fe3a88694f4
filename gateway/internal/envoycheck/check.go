package envoycheck

import (
	"errors"
	"fmt"
	"sort"
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
	checkJWT(g, c, add)
	checkHealthz(g, c, add)
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
	if al, ok := jsonAccessLog(g); !ok {
		add("no JSON access log on the http_connection_manager")
	} else if strings.Contains(strings.ToUpper(al.GetLogFormat().GetJsonFormat().String()), "AUTHORIZATION") {
		add("the access log must not record the Authorization header")
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

func checkRoutes(g *gateway, c *Contracts, add adder) {
	for _, svc := range c.Services() {
		prefix := "/" + svc + "/"
		found := false
		for _, r := range g.routes {
			found = found || r.GetMatch().GetPrefix() == prefix
		}
		if !found {
			add("no route with prefix %s", prefix)
		}
	}
	for _, m := range c.Methods {
		r, err := g.firstRoute(m.Path)
		switch {
		case err != nil:
			add("%v", err)
			continue
		case r == nil:
			add("no route matches %s", m.Path)
			continue
		case m.Policy.Internal():
			if s := r.GetDirectResponse().GetStatus(); s != 403 && s != 404 {
				add("internal RPC %s must be refused at the edge (direct_response 403/404), route sends it to %q", m.Path, r.GetRoute().GetCluster())
			}
			continue
		}
		action := r.GetRoute()
		if action.GetCluster() != m.Upstream {
			add("%s is routed to cluster %q, want %q", m.Path, action.GetCluster(), m.Upstream)
		}
		switch {
		case action.GetTimeout() == nil:
			add("%s: route has no explicit timeout", m.Path)
		case m.Streaming() && (action.GetTimeout().AsDuration() != 0 || action.GetIdleTimeout().AsDuration() <= 0):
			add("streaming %s needs timeout 0s and an idle_timeout, has timeout %v idle %v", m.Path, action.GetTimeout().AsDuration(), action.GetIdleTimeout().AsDuration())
		case !m.Streaming() && action.GetTimeout().AsDuration() <= 0:
			add("unary %s needs a positive timeout", m.Path)
		}
		if rc := m.Policy.RateClass; (rc == "login" || rc == "register") &&
			!hasTypedOverride(r.GetTypedPerFilterConfig(), &ratelimitv3.LocalRateLimit{}) {
			add("%s (rate class %s) has no per-route local_ratelimit", m.Path, rc)
		}
	}
}

func checkJWT(g *gateway, c *Contracts, add adder) {
	if g.jwt == nil {
		return
	}
	if len(g.jwt.GetProviders()) == 0 {
		add("jwt_authn has no provider")
	}
	for name, p := range g.jwt.GetProviders() {
		if rj := p.GetRemoteJwks(); rj != nil && g.clusters[rj.GetHttpUri().GetCluster()] == nil {
			add("jwt provider %s fetches its JWKS from unknown cluster %q", name, rj.GetHttpUri().GetCluster())
		}
	}
	public := map[string]bool{}
	for _, m := range c.Methods {
		if m.Policy.Public {
			public[m.Path] = true
		}
	}
	exempt := map[string]bool{}
	for _, r := range g.jwt.GetRules() {
		if enforces(r.GetRequires()) {
			continue
		}
		p := r.GetMatch().GetPath()
		if p == "" {
			add("jwt_authn exemption %v is not an exact gRPC path; exemptions must name public RPCs", r.GetMatch())
			continue
		}
		if !public[p] {
			add("jwt_authn exempts %s, which the contracts do not mark public", p)
		}
		exempt[p] = true
	}
	for p := range public {
		if !exempt[p] {
			add("public RPC %s is not exempt from jwt_authn", p)
		}
	}
	paths := []string{"/not.a.v1.Service/Method", "/v1/anything"}
	for _, m := range c.Methods {
		paths = append(paths, m.Path)
	}
	sort.Strings(paths)
	for _, p := range paths {
		r, err := g.firstRule(p)
		if err != nil {
			add("%v", err)
			return
		}
		if got := r != nil && enforces(r.GetRequires()); got == public[p] {
			add("jwt_authn on %s: token required = %v, contracts say public = %v", p, got, public[p])
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
