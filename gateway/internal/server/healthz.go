package server

import (
	"encoding/json"
	"net/http"
	"time"
)

const healthTimeout = time.Second

type healthBody struct {
	Status     string   `json:"status"`     // SERVING or NOT_SERVING
	NotServing []string `json:"notServing"` // services without a SERVING replica
	Services   any      `json:"services"`   // per service, per replica
}

// healthz answers 200 only when every service has at least one SERVING replica.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	report := s.pool.Health(r.Context(), healthTimeout)
	body := healthBody{Status: "SERVING", NotServing: report.NotServing(s.pool.Names()), Services: report}
	code := http.StatusOK
	if len(body.NotServing) > 0 {
		body.Status, code = "NOT_SERVING", http.StatusServiceUnavailable
	} else {
		body.NotServing = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(body)
	}
}
