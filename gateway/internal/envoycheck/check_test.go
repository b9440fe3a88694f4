package envoycheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	transcoderv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/grpc_json_transcoder/v3"
	headermutationv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

func envoyYAML(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contracts(t *testing.T) *Contracts {
	t.Helper()
	c, err := LoadContracts(fu.RepoFile(t, "gen/filemesh.binpb"), fu.RepoFile(t, "gen/methods.json"))
	if err != nil {
		t.Fatalf("contracts: %v", err)
	}
	return c
}

func load(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	b, err := Load(envoyYAML(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnvoyConfigIsValidAndMatchesContracts(t *testing.T) {
	c := contracts(t)
	if err := Check(load(t), c); err != nil {
		t.Fatalf("envoy.yaml disagrees with the contracts:\n%v", err)
	}
	// The check saw what it claims to: the public RPCs and the services.
	var public []string
	for _, m := range c.Methods {
		if m.Policy.Public {
			public = append(public, m.Path[strings.LastIndex(m.Path, "/")+1:])
		}
	}
	if got := strings.Join(public, ","); got != "GetJwks,Login,Refresh,Register,GetSharedLink,GetSharedLinkContent" {
		t.Errorf("public RPCs from the contracts: %s", got)
	}
	if got := strings.Join(c.Upstreams(), ","); got != "auth,file,permission,processor,user" {
		t.Errorf("upstreams %s", got)
	}
}

// Each mutation breaks envoy.yaml in one way; Load or Check must reject it, naming the problem.
func TestBrokenEnvoyConfigsFail(t *testing.T) {
	c := contracts(t)
	yamlEdits := []struct {
		name, old, new, want string
	}{
		{"typo in a typed_config type", "filters.http.router.v3.Router", "filters.http.router.v3.Routr", "Routr"},
		{"unknown field", "convert_grpc_status: true", "convert_grpc_status: true\n                      convert_grpc_statuses: true", "convert_grpc_statuses"},
		{"invalid value inside an Any (PGV)", "tokens_per_fill: 2000,", "tokens_per_fill: 0,", "TokensPerFill"},
		{"invalid value outside an Any (PGV)", "connect_timeout: 1s", "connect_timeout: -1s", "ConnectTimeout"},
		{"not YAML", "static_resources:", "static_resources: [", "YAML"},
	}
	for _, e := range yamlEdits {
		t.Run(e.name, func(t *testing.T) {
			doc := string(envoyYAML(t))
			if !strings.Contains(doc, e.old) {
				t.Fatalf("envoy.yaml no longer contains %q; update the test", e.old)
			}
			_, err := Load([]byte(strings.Replace(doc, e.old, e.new, 1)))
			if err == nil || !strings.Contains(err.Error(), e.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, e.want)
			}
		})
	}

	mutations := []struct {
		name   string
		mutate func(t *testing.T, b *bootstrapv3.Bootstrap)
		want   string
	}{
		{"drop a cluster", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			cs := b.StaticResources.Clusters
			for i, cl := range cs {
				if cl.GetName() == "file" {
					b.StaticResources.Clusters = append(cs[:i:i], cs[i+1:]...)
				}
			}
		}, `no cluster "file"`},
		{"drop a cluster's gRPC health check", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			b.StaticResources.Clusters[0].HealthChecks = nil
		}, "no active gRPC health check"},
		{"exempt a non-public RPC from jwt_authn", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(j *jwtv3.JwtAuthentication) {
				rule := &jwtv3.RequirementRule{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/filemesh.file.v1.FileService/GetFile"}}}
				j.Rules = append([]*jwtv3.RequirementRule{rule}, j.Rules...)
			})
		}, "exempts /filemesh.file.v1.FileService/GetFile"},
		{"exempt a whole prefix", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(j *jwtv3.JwtAuthentication) {
				rule := &jwtv3.RequirementRule{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/filemesh.auth.v1.AuthService/"}}}
				j.Rules = append([]*jwtv3.RequirementRule{rule}, j.Rules...)
			})
		}, "not an exact gRPC path"},
		{"forget a public RPC's exemption", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(j *jwtv3.JwtAuthentication) { j.Rules = j.Rules[1:] })
		}, "is not exempt from jwt_authn"},
		{"drop a service from the transcoder", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(tr *transcoderv3.GrpcJsonTranscoder) { tr.Services = tr.Services[1:] })
		}, "transcoder does not list filemesh.auth.v1.AuthService"},
		{"misspell a transcoded service", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(tr *transcoderv3.GrpcJsonTranscoder) { tr.Services[0] = "filemesh.auth.v1.AuthSvc" })
		}, "AuthSvc, which the descriptor image does not have"},
		{"turn off convert_grpc_status", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(tr *transcoderv3.GrpcJsonTranscoder) { tr.ConvertGrpcStatus = false })
		}, "convert_grpc_status"},
		{"leave path variables escaped", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(tr *transcoderv3.GrpcJsonTranscoder) {
				tr.UrlUnescapeSpec = transcoderv3.GrpcJsonTranscoder_ALL_CHARACTERS_EXCEPT_RESERVED
			})
		}, "url_unescape_spec"},
		{"route a service to the wrong cluster", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRoutes(t, b, func(rs []*routev3.Route) {
				for _, r := range rs {
					if r.GetMatch().GetPrefix() == "/filemesh.user.v1.UserService/" {
						r.GetRoute().ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: "permission"}
					}
				}
			})
		}, `UserService/GetMe is routed to cluster "permission"`},
		{"drop a service's route", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRoutes(t, b, func(rs []*routev3.Route) {
				for _, r := range rs {
					if r.GetMatch().GetPrefix() == "/filemesh.processor.v1.ProcessorService/" {
						r.Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/filemesh.processor.v1.Other/"}
					}
				}
			})
		}, "no route with prefix /filemesh.processor.v1.ProcessorService/"},
		{"a streaming RPC falls under a unary timeout", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRoutes(t, b, func(rs []*routev3.Route) {
				for _, r := range rs {
					if r.GetMatch().GetPath() == "/filemesh.file.v1.FileService/UploadFile" {
						r.GetRoute().Timeout = durationpb.New(30e9)
					}
				}
			})
		}, "streaming /filemesh.file.v1.FileService/UploadFile needs timeout 0s"},
		{"expose an internal RPC", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRoutes(t, b, func(rs []*routev3.Route) {
				for _, r := range rs {
					if r.GetMatch().GetPath() == "/filemesh.file.v1.FileService/SetFileState" {
						r.Match.PathSpecifier = &routev3.RouteMatch_Path{Path: "/filemesh.file.v1.FileService/SetFileStat"}
					}
				}
			})
		}, "internal RPC /filemesh.file.v1.FileService/SetFileState must be refused"},
		{"no route for CORS to find on REST paths", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editRoutes(t, b, func(rs []*routev3.Route) {
				rs[len(rs)-1].Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: "/filemesh."}
			})
		}, "CORS (before transcoding) finds no policy"},
		{"the client's x-forwarded-client-cert forwarded", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			hcm.ForwardClientCertDetails = hcmv3.HttpConnectionManager_APPEND_FORWARD
			putHCM(t, b, hcm)
		}, "forward_client_cert_details must be SANITIZE"},
		{"the client address taken from the connection's peer only", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			hcm.XffNumTrustedHops = 0
			putHCM(t, b, hcm)
		}, "xff_num_trusted_hops must be at least 1"},
		{"use_remote_address off", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			hcm.UseRemoteAddress = nil
			putHCM(t, b, hcm)
		}, "use_remote_address must be true"},
		{"the client's x-forwarded-for passed on", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			hcm.GetRouteConfig().RequestHeadersToAdd[0].AppendAction = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
			putHCM(t, b, hcm)
		}, "must overwrite x-forwarded-for"},
		{"identity headers from clients not stripped", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editFilter(t, b, func(h *headermutationv3.HeaderMutation) {
				h.Mutations.RequestMutations = h.Mutations.RequestMutations[1:]
			})
		}, "does not remove x-filemesh-internal-token"},
		{"identity headers stripped after the transcoder", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			fs := hcm.HttpFilters
			fs[0], fs[1] = fs[1], fs[0]
			putHCM(t, b, hcm)
		}, "must be the first http filter"},
		{"the access log prints the query string", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editAccessLog(t, b, 0, func(al *streamv3.StdoutAccessLog) {
				al.GetLogFormat().GetJsonFormat().Fields["path"] = structpb.NewStringValue("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%")
			})
		}, "path with its query string"},
		{"the access log records the link password header", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			editAccessLog(t, b, 1, func(al *streamv3.StdoutAccessLog) {
				al.GetLogFormat().GetJsonFormat().Fields["pw"] = structpb.NewStringValue("%REQ(X-LINK-PASSWORD)%")
			})
		}, "must not record the X-LINK-PASSWORD header"},
		{"the access log prints share-link tokens", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			hcm.AccessLog[0].Filter = nil
			putHCM(t, b, hcm)
		}, "prints the path of a share-link REST call"},
		{"share-link requests not logged at all", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			hcm.AccessLog = hcm.AccessLog[:1]
			putHCM(t, b, hcm)
		}, "no access log records a share-link REST call"},
		{"jwt_authn after the router", func(t *testing.T, b *bootstrapv3.Bootstrap) {
			hcm := getHCM(t, b)
			fs := hcm.HttpFilters
			fs[len(fs)-1], fs[len(fs)-2] = fs[len(fs)-2], fs[len(fs)-1]
			putHCM(t, b, hcm)
		}, "router must be the last"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			b := load(t)
			m.mutate(t, b)
			err := Check(b, c)
			if err == nil || !strings.Contains(err.Error(), m.want) {
				t.Fatalf("Check = %v\nwant an error containing %q", err, m.want)
			}
		})
	}
}

func getHCM(t *testing.T, b *bootstrapv3.Bootstrap) *hcmv3.HttpConnectionManager {
	t.Helper()
	var hcm hcmv3.HttpConnectionManager
	if err := b.StaticResources.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	return &hcm
}

func putHCM(t *testing.T, b *bootstrapv3.Bootstrap, hcm *hcmv3.HttpConnectionManager) {
	t.Helper()
	a, err := anypb.New(hcm)
	if err != nil {
		t.Fatal(err)
	}
	b.StaticResources.Listeners[0].FilterChains[0].Filters[0].GetTypedConfig().Value = a.Value
}

// editAccessLog changes the i-th access log's stdout config.
func editAccessLog(t *testing.T, b *bootstrapv3.Bootstrap, i int, edit func(*streamv3.StdoutAccessLog)) {
	t.Helper()
	hcm := getHCM(t, b)
	var al streamv3.StdoutAccessLog
	if err := hcm.AccessLog[i].GetTypedConfig().UnmarshalTo(&al); err != nil {
		t.Fatal(err)
	}
	edit(&al)
	a, err := anypb.New(&al)
	if err != nil {
		t.Fatal(err)
	}
	hcm.AccessLog[i].ConfigType = &accesslogv3.AccessLog_TypedConfig{TypedConfig: a}
	putHCM(t, b, hcm)
}

// editFilter changes the typed config of the http filter of type T.
func editFilter[T proto.Message](t *testing.T, b *bootstrapv3.Bootstrap, edit func(T)) {
	t.Helper()
	hcm := getHCM(t, b)
	for _, f := range hcm.HttpFilters {
		m, err := f.GetTypedConfig().UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		if typed, ok := m.(T); ok {
			edit(typed)
			a, err := anypb.New(typed)
			if err != nil {
				t.Fatal(err)
			}
			f.ConfigType = &hcmv3.HttpFilter_TypedConfig{TypedConfig: a}
			putHCM(t, b, hcm)
			return
		}
	}
	t.Fatal("no such filter")
}

func editRoutes(t *testing.T, b *bootstrapv3.Bootstrap, edit func([]*routev3.Route)) {
	t.Helper()
	hcm := getHCM(t, b)
	edit(hcm.GetRouteConfig().GetVirtualHosts()[0].GetRoutes())
	putHCM(t, b, hcm)
}

// A contract change that envoy.yaml does not follow must fail the check too.
func TestContractChangesRequireEnvoyEdits(t *testing.T) {
	b := load(t)
	cases := []struct {
		name   string
		change func(c *Contracts)
		want   []string
	}{
		{"an RPC becomes public", func(c *Contracts) {
			for i := range c.Methods {
				if strings.HasSuffix(c.Methods[i].Path, "/GetFile") {
					c.Methods[i].Policy.Public = true
				}
			}
		}, []string{"public RPC /filemesh.file.v1.FileService/GetFile is not exempt"}},
		{"a new service", func(c *Contracts) {
			c.Methods = append(c.Methods, Method{Path: "/filemesh.search.v1.SearchService/Search",
				Service: "filemesh.search.v1.SearchService", Upstream: "search", HasBinding: true})
		}, []string{`no cluster "search"`, "transcoder does not list filemesh.search.v1.SearchService",
			"no route with prefix /filemesh.search.v1.SearchService/", "/healthz does not require a healthy host in cluster search"}},
		{"a new streaming RPC", func(c *Contracts) {
			c.Methods = append(c.Methods, Method{Path: "/filemesh.file.v1.FileService/Export",
				Service: "filemesh.file.v1.FileService", Upstream: "file", ServerStreaming: true})
		}, []string{"streaming /filemesh.file.v1.FileService/Export needs timeout 0s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := contracts(t)
			tc.change(c)
			err := Check(b, c)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %v\nwant an error containing %q", err, w)
				}
			}
		})
	}
}
