// Package upstream owns the gRPC connections to the services: one client connection per
// service that balances round robin across all of its replicas and skips replicas whose
// grpc.health.v1 status is not SERVING (client-side health checking), plus one direct
// connection per replica for the gateway's own health report.
package upstream

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	// Enables the healthCheckConfig of the service config below.
	_ "google.golang.org/grpc/health"
)

// MaxMessageBytes bounds one gRPC message through the gateway in either direction.
const MaxMessageBytes = 64 << 20

const serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": ""}
}`

// Pool holds the connections to every service's replicas.
type Pool struct {
	conns    map[string]*grpc.ClientConn
	replicas map[string][]replica
}

type replica struct {
	addr string
	conn *grpc.ClientConn
}

// New creates (lazily connecting) connections for upstreams: service name → host:port list.
func New(upstreams map[string][]string) (*Pool, error) {
	p := &Pool{conns: map[string]*grpc.ClientConn{}, replicas: map[string][]replica{}}
	for name, addrs := range upstreams {
		if len(addrs) == 0 {
			p.Close()
			return nil, fmt.Errorf("upstream %s has no replicas", name)
		}
		r := manual.NewBuilderWithScheme("filemesh-" + name)
		state := resolver.State{}
		for _, a := range addrs {
			state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
		}
		r.InitialState(state)
		cc, err := grpc.NewClient(r.Scheme()+":///"+name, append(dialOptions(),
			grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(serviceConfig))...)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("upstream %s: %w", name, err)
		}
		p.conns[name] = cc
		for _, a := range addrs {
			rc, err := grpc.NewClient("passthrough:///"+a, dialOptions()...)
			if err != nil {
				p.Close()
				return nil, fmt.Errorf("upstream %s replica %s: %w", name, a, err)
			}
			p.replicas[name] = append(p.replicas[name], replica{addr: a, conn: rc})
		}
	}
	return p, nil
}

func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent("filemesh-gateway"),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		// Services restart often in local runs: reconnect within seconds, not minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
	}
}

// Conn is the balanced connection of a service.
func (p *Pool) Conn(name string) (*grpc.ClientConn, bool) {
	cc, ok := p.conns[name]
	return cc, ok
}

// Names lists the configured services, sorted.
func (p *Pool) Names() []string {
	out := make([]string, 0, len(p.conns))
	for n := range p.conns {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close closes every connection.
func (p *Pool) Close() {
	for _, cc := range p.conns {
		_ = cc.Close()
	}
	for _, rs := range p.replicas {
		for _, r := range rs {
			_ = r.conn.Close()
		}
	}
}
