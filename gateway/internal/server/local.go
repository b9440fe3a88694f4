package server

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	"github.com/filemesh/filemesh/gateway/internal/schema"
	"github.com/filemesh/filemesh/gateway/internal/upstream"
)

// localServices are answered by the gateway itself, not proxied: reflection from the
// descriptor image (so grpcurl and ghz work against port 8080) and grpc.health.v1 with the
// gateway's view of its upstreams.
var localServices = []string{
	healthpb.Health_ServiceDesc.ServiceName,
	reflectionv1.ServerReflection_ServiceDesc.ServiceName,
	reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName,
}

func isLocal(path string) bool {
	for _, svc := range localServices {
		if strings.HasPrefix(path, "/"+svc+"/") {
			return true
		}
	}
	return false
}

func newLocalServer(s *schema.Schema, pool *upstream.Pool) *grpc.Server {
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, &gatewayHealth{schema: s, pool: pool})
	opts := reflection.ServerOptions{
		Services:           imageServices{s},
		DescriptorResolver: schema.FileResolver{Image: s.Files},
		ExtensionResolver:  s.Types,
	}
	reflectionv1.RegisterServerReflectionServer(gs, reflection.NewServerV1(opts))
	reflectionv1alpha.RegisterServerReflectionServer(gs, reflection.NewServer(opts))
	return gs
}

// imageServices advertises the image's services and the gateway's own.
type imageServices struct{ s *schema.Schema }

func (i imageServices) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	for _, svc := range i.s.Services {
		out[string(svc.Desc.FullName())] = grpc.ServiceInfo{}
	}
	for _, name := range localServices {
		out[name] = grpc.ServiceInfo{}
	}
	return out
}

// gatewayHealth: "" is SERVING when every upstream is; a service's full name reflects
// the upstream serving it.
type gatewayHealth struct {
	healthpb.UnimplementedHealthServer
	schema *schema.Schema
	pool   *upstream.Pool
}

func (g *gatewayHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	var names []string
	if req.GetService() == "" {
		names = g.pool.Names()
	} else {
		for _, svc := range g.schema.Services {
			if string(svc.Desc.FullName()) == req.GetService() {
				names = []string{svc.Upstream}
			}
		}
		if names == nil {
			return nil, status.Errorf(codes.NotFound, "unknown service %q", req.GetService())
		}
	}
	report := g.pool.Health(ctx, healthTimeout)
	if len(report.NotServing(names)) > 0 {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}
