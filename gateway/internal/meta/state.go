package meta

import (
	"context"
	"net/http"
	"sync"
)

// State is what the layers of one request tell each other: whether an upstream answered
// (so an error is the service's, not the gateway's), whether the gateway already answered
// (so the proxy must not call upstream), and whether the body went over its limit.
type State struct {
	mu               sync.Mutex
	upstreamAnswered bool
	gatewayAnswered  bool
	bodyTooLarge     bool
}

type stateKey struct{}

// WithState attaches a fresh State to the request.
func WithState(r *http.Request) (*http.Request, *State) {
	s := &State{}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, s)), s
}

// StateOf returns the request's State (a detached one when absent).
func StateOf(ctx context.Context) *State {
	if s, ok := ctx.Value(stateKey{}).(*State); ok {
		return s
	}
	return &State{}
}

func (s *State) set(f *bool) {
	s.mu.Lock()
	*f = true
	s.mu.Unlock()
}

func (s *State) get(f *bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *f
}

// MarkUpstreamAnswered records that the response now comes from upstream.
func (s *State) MarkUpstreamAnswered() { s.set(&s.upstreamAnswered) }

// UpstreamAnswered reports whether an upstream answered.
func (s *State) UpstreamAnswered() bool { return s.get(&s.upstreamAnswered) }

// MarkGatewayAnswered records that the gateway already sent its own error.
func (s *State) MarkGatewayAnswered() { s.set(&s.gatewayAnswered) }

// GatewayAnswered reports whether the gateway already answered.
func (s *State) GatewayAnswered() bool { return s.get(&s.gatewayAnswered) }

// MarkBodyTooLarge records that the request body exceeded its limit.
func (s *State) MarkBodyTooLarge() { s.set(&s.bodyTooLarge) }

// BodyTooLarge reports whether the request body exceeded its limit.
func (s *State) BodyTooLarge() bool { return s.get(&s.bodyTooLarge) }
