package envoycheck

import (
	"sort"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
)

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
		r, found, err := first(g.routes, m.Path)
		switch {
		case err != nil:
			add("%v", err)
			continue
		case !found:
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

// DataPrefix is the data plane's path (docs/architecture.md §10): plain HTTP to the file
// service's HTTP listener, authorised by the transfer ticket in the path, not by a token.
const DataPrefix = "/v1/data/"

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
		if r.GetMatch().GetPrefix() == DataPrefix {
			continue // the data plane: a transfer ticket in the path is the authorisation
		}
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
		r, found, err := first(g.jwt.GetRules(), p)
		if err != nil {
			add("%v", err)
			return
		}
		if got := found && enforces(r.GetRequires()); got == public[p] {
			add("jwt_authn on %s: token required = %v, contracts say public = %v", p, got, public[p])
		}
	}
}

// TusPaths are the paths the tus endpoint must answer (services/file/src/tus): the creation
// URL with and without its slash and an upload URL.
var TusPaths = []string{"/v1/tus/", "/v1/tus", "/v1/tus/0b6a8d2e-3f1c-4b7a-9c2d-1e5f6a7b8c9d"}

// checkTus: tus goes to the file service's HTTP listener (cluster file_http, plain HTTP with an
// HTTP health check on /healthz), streamed (timeout 0s, an idle timeout), and is not given to
// the transcoder (reject_unknown_method would answer 404 for it).
func checkTus(g *gateway, add adder) {
	cl := g.clusters["file_http"]
	if cl == nil {
		add("no cluster file_http for the file service's HTTP listener (tus)")
	} else if hc := cl.GetHealthChecks(); len(hc) == 0 || hc[0].GetHttpHealthCheck().GetPath() != "/healthz" {
		add("cluster file_http has no HTTP health check on /healthz")
	}
	for _, p := range TusPaths {
		r, found, err := first(g.routes, p)
		switch {
		case err != nil:
			add("%v", err)
			continue
		case !found:
			add("no route matches %s", p)
			continue
		}
		a := r.GetRoute()
		if a.GetCluster() != "file_http" {
			add("%s is routed to %q, want file_http", p, a.GetCluster())
		}
		if a.GetTimeout() == nil || a.GetTimeout().AsDuration() != 0 || a.GetIdleTimeout().AsDuration() <= 0 {
			add("%s needs timeout 0s and an idle_timeout (uploads stream)", p)
		}
		if !transcoderDisabled(r) {
			add("%s must disable envoy.filters.http.grpc_json_transcoder on its route", p)
		}
	}
}

func transcoderDisabled(r *routev3.Route) bool {
	a, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.grpc_json_transcoder"]
	if !ok {
		return false
	}
	var fc routev3.FilterConfig
	return a.UnmarshalTo(&fc) == nil && fc.GetDisabled()
}
