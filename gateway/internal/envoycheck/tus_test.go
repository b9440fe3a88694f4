package envoycheck

import (
	"strings"
	"testing"
)

// Each edit breaks the tus route or its cluster in one way; Check must name the problem.
func TestBrokenTusRoutesFail(t *testing.T) {
	c := contracts(t)
	edits := []struct{ name, old, new, want string }{
		{"tus to the gRPC cluster", "match: { prefix: /v1/tus/ }\n                          route: { cluster: file_http,",
			"match: { prefix: /v1/tus/ }\n                          route: { cluster: file,", `/v1/tus/ is routed to "file"`},
		{"tus with an overall timeout", "match: { path: /v1/tus }\n                          route: { cluster: file_http, timeout: 0s,",
			"match: { path: /v1/tus }\n                          route: { cluster: file_http, timeout: 30s,", "/v1/tus needs timeout 0s"},
		{"tus transcoded", "disabled: true", "disabled: false", "must disable envoy.filters.http.grpc_json_transcoder"},
		{"no HTTP health check", "http_health_check: { path: /healthz }", "http_health_check: { path: /livez }", "file_http has no HTTP health check"},
		{"no tus route", "- match: { prefix: /v1/tus/ }", "- match: { prefix: /v1/tux/ }", `/v1/tus/0b6a8d2e`},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			doc := string(envoyYAML(t))
			if !strings.Contains(doc, e.old) {
				t.Fatalf("envoy.yaml no longer contains %q; update the test", e.old)
			}
			b, err := Load([]byte(strings.Replace(doc, e.old, e.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			err = Check(b, c)
			if err == nil || !strings.Contains(err.Error(), e.want) {
				t.Fatalf("Check = %v, want an error mentioning %q", err, e.want)
			}
		})
	}
}
