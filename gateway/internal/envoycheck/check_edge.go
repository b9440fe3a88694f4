package envoycheck

import (
	"fmt"
	"regexp"
	"strings"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	reqwithoutqueryv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/formatter/req_without_query/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// checkEdge: what the edge decides for the services, never the client. The client address
// (X-Forwarded-For overwritten with the address Envoy trusts), mesh identity headers dropped
// from incoming requests, client certificates sanitised, and access logs without secrets.
func checkEdge(g *gateway, add adder) {
	h := g.hcm
	if !h.GetUseRemoteAddress().GetValue() {
		add("use_remote_address must be true: the edge decides the client address, not the client")
	}
	if h.GetXffNumTrustedHops() < 1 {
		add("xff_num_trusted_hops must be at least 1 (the Istio ingress gateway appends the client's address)")
	}
	if h.GetForwardClientCertDetails() != hcmv3.HttpConnectionManager_SANITIZE {
		add("forward_client_cert_details must be SANITIZE: a client's x-forwarded-client-cert must not reach a service")
	}
	xff := false
	for _, hv := range h.GetRouteConfig().GetRequestHeadersToAdd() {
		if strings.EqualFold(hv.GetHeader().GetKey(), "x-forwarded-for") &&
			hv.GetHeader().GetValue() == "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" &&
			hv.GetAppendAction() == corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			xff = true
		}
	}
	if !xff {
		add("route_config must overwrite x-forwarded-for with %%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%% (OVERWRITE_IF_EXISTS_OR_ADD): services take its rightmost entry")
	}
	checkHeaderStripping(g, add)
	checkAccessLogs(g, add)
}

// edgeOnlyHeaders must be removed from every incoming request before any other filter runs.
var edgeOnlyHeaders = []string{
	"x-filemesh-service", "x-filemesh-internal-token", "x-forwarded-client-cert", "x-real-ip",
	"forwarded", "x-envoy-original-path", "x-envoy-upstream-rq-timeout-ms", "x-envoy-retry-on",
}

func checkHeaderStripping(g *gateway, add adder) {
	i := filterIndex[*headermutationv3.HeaderMutation](g)
	if i < 0 {
		add("no header_mutation filter removing client-sent identity headers (%s)", strings.Join(edgeOnlyHeaders, ", "))
		return
	}
	if i != 0 {
		add("the header_mutation filter that removes client-sent identity headers must be the first http filter")
	}
	muts := g.filters[i].(*headermutationv3.HeaderMutation).GetMutations().GetRequestMutations()
	for _, name := range edgeOnlyHeaders {
		removed := false
		for _, m := range muts {
			if strings.EqualFold(m.GetRemove(), name) || stringMatches(m.GetRemoveOnMatch().GetKeyMatcher(), name) {
				removed = true
			}
		}
		if !removed {
			add("header_mutation does not remove %s from incoming requests", name)
		}
	}
}

// stringMatches evaluates the exact/prefix/suffix/contains forms of a StringMatcher.
func stringMatches(m *matcherv3.StringMatcher, s string) bool {
	if m == nil {
		return false
	}
	if m.GetIgnoreCase() {
		s = strings.ToLower(s)
	}
	lower := func(p string) string {
		if m.GetIgnoreCase() {
			return strings.ToLower(p)
		}
		return p
	}
	switch m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		return s == lower(m.GetExact())
	case *matcherv3.StringMatcher_Prefix:
		return strings.HasPrefix(s, lower(m.GetPrefix()))
	case *matcherv3.StringMatcher_Suffix:
		return strings.HasSuffix(s, lower(m.GetSuffix()))
	case *matcherv3.StringMatcher_Contains:
		return strings.Contains(s, lower(m.GetContains()))
	}
	return false
}

var (
	// A path printed by %REQ(…PATH…)% (or %PATH%) includes the query string.
	pathWithQuery = regexp.MustCompile(`%(REQ\([^)]*PATH[^)]*\)|PATH[%(])`)
	pathOperator  = regexp.MustCompile(`%REQ_WITHOUT_QUERY\([^)]*PATH[^)]*\)`)
	secretHeaders = []string{"AUTHORIZATION", "X-LINK-PASSWORD", "COOKIE", "X-FILEMESH-INTERNAL-TOKEN"}
)

// sampleRequests are the request headers an access log sees at the end of a request.
var sampleRequests = []struct {
	name    string
	headers map[string]string
	link    bool
}{
	{"a share-link REST call, transcoded", map[string]string{":path": "/filemesh.file.v1.FileService/GetSharedLinkContent", "x-envoy-original-path": "/v1/links/TOKEN/content?password=PW"}, true},
	{"a share-link REST call refused before transcoding", map[string]string{":path": "/v1/links/TOKEN?password=PW"}, true},
	{"another REST call", map[string]string{":path": "/filemesh.file.v1.FileService/GetFile", "x-envoy-original-path": "/v1/files/f1"}, false},
	{"a native gRPC call", map[string]string{":path": "/filemesh.auth.v1.AuthService/Login"}, false},
	// A transfer ticket (the data plane) is a bearer capability, as a share-link token.
	{"a data-plane download", map[string]string{":path": "/v1/data/TICKET.SIG"}, true},
}

func checkAccessLogs(g *gateway, add adder) {
	type logger struct {
		filter    *accesslogv3.AccessLogFilter
		printPath bool
	}
	var logs []logger
	for _, al := range g.hcm.GetAccessLog() {
		var out streamv3.StdoutAccessLog
		if al.GetTypedConfig().UnmarshalTo(&out) != nil {
			add("access log %s: only stdout loggers are checked", al.GetName())
			continue
		}
		format := strings.ToUpper(out.GetLogFormat().GetJsonFormat().String() + out.GetLogFormat().GetTextFormatSource().String())
		for _, h := range secretHeaders {
			if strings.Contains(format, h) {
				add("the access log must not record the %s header", h)
			}
		}
		if pathWithQuery.MatchString(format) {
			add("the access log prints a path with its query string (a share link's ?password=): use %%REQ_WITHOUT_QUERY(…)%%")
		}
		printPath := pathOperator.MatchString(format) || pathWithQuery.MatchString(format)
		if printPath && !hasFormatter(out.GetLogFormat().GetFormatters()) {
			add("the access log uses REQ_WITHOUT_QUERY without the envoy.formatter.req_without_query formatter")
		}
		logs = append(logs, logger{al.GetFilter(), printPath})
	}
	for _, r := range sampleRequests {
		logged := false
		for _, l := range logs {
			ok, err := filterLogs(l.filter, r.headers)
			if err != nil {
				add("access log filter: %v", err)
				return
			}
			logged = logged || ok
			if ok && r.link && l.printPath {
				add("the access log prints the path of %s: a share-link token or transfer ticket", r.name)
			}
		}
		if !logged {
			add("no access log records %s", r.name)
		}
	}
}

func hasFormatter(fs []*corev3.TypedExtensionConfig) bool {
	for _, f := range fs {
		if f.GetTypedConfig().MessageIs(&reqwithoutqueryv3.ReqWithoutQuery{}) {
			return true
		}
	}
	return false
}

// filterLogs evaluates an access log filter (and/or/header filters only) on request headers.
func filterLogs(f *accesslogv3.AccessLogFilter, headers map[string]string) (bool, error) {
	if f == nil {
		return true, nil
	}
	switch {
	case f.GetAndFilter() != nil:
		for _, sub := range f.GetAndFilter().GetFilters() {
			if ok, err := filterLogs(sub, headers); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case f.GetOrFilter() != nil:
		for _, sub := range f.GetOrFilter().GetFilters() {
			if ok, err := filterLogs(sub, headers); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case f.GetHeaderFilter() != nil:
		m := f.GetHeaderFilter().GetHeader()
		v, present := headers[strings.ToLower(m.GetName())]
		if !present && !m.GetTreatMissingHeaderAsEmpty() {
			return false, nil // Envoy: a missing header matches nothing, inverted or not
		}
		if m.GetStringMatch() == nil {
			return false, fmt.Errorf("header filter on %s: only string_match is evaluated", m.GetName())
		}
		return stringMatches(m.GetStringMatch(), v) != m.GetInvertMatch(), nil
	}
	return false, fmt.Errorf("%v: only and/or/header filters are evaluated", f)
}
