package envoycheck

import (
	"sort"

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
