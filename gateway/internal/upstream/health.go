package upstream

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// ReplicaHealth is one replica's answer to grpc.health.v1 Check("").
type ReplicaHealth struct {
	Addr   string `json:"addr"`
	Status string `json:"status"` // SERVING, NOT_SERVING, UNKNOWN, … or UNREACHABLE
	Error  string `json:"error,omitempty"`
}

// ServiceHealth is one service's replicas; Serving when at least one is SERVING.
type ServiceHealth struct {
	Serving  bool            `json:"serving"`
	Replicas []ReplicaHealth `json:"replicas"`
}

// Report is the health of every service.
type Report map[string]ServiceHealth

// NotServing lists the services without a SERVING replica, sorted.
func (r Report) NotServing(names []string) []string {
	var out []string
	for _, n := range names {
		if !r[n].Serving {
			out = append(out, n)
		}
	}
	return out
}

// Health asks every replica of every service, concurrently, each within timeout.
func (p *Pool) Health(ctx context.Context, timeout time.Duration) Report {
	results := map[string][]ReplicaHealth{}
	for name, rs := range p.replicas {
		results[name] = make([]ReplicaHealth, len(rs))
	}
	var wg sync.WaitGroup
	for name, rs := range p.replicas {
		out := results[name]
		for i, r := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = check(ctx, r, timeout) // each goroutine owns one element
			}()
		}
	}
	wg.Wait()
	report := Report{}
	for name, hs := range results {
		sh := ServiceHealth{Replicas: hs}
		for _, h := range hs {
			sh.Serving = sh.Serving || h.Status == healthpb.HealthCheckResponse_SERVING.String()
		}
		report[name] = sh
	}
	return report
}

func check(ctx context.Context, r replica, timeout time.Duration) ReplicaHealth {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(r.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: ""})
	if err != nil {
		st := status.Convert(err)
		name := "UNREACHABLE"
		if st.Code() == codes.NotFound {
			name = healthpb.HealthCheckResponse_SERVICE_UNKNOWN.String()
		}
		return ReplicaHealth{Addr: r.addr, Status: name, Error: st.Code().String() + ": " + st.Message()}
	}
	return ReplicaHealth{Addr: r.addr, Status: resp.GetStatus().String()}
}
