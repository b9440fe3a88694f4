package server

import (
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
)

const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsExposeHeaders = "X-Request-Id, Retry-After, Content-Disposition, Content-Length, Grpc-Status, Grpc-Message, " +
		// tus (/v1/tus/): what tus-js-client and Uppy read from responses.
		"Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires, Upload-Defer-Length, Location, " +
		"Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Filemesh-Error-Reason"
	corsMaxAge = "600"
)

// cors adds CORS headers for allowed origins and answers preflight requests; it reports
// whether the request is fully handled.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	allowed := s.originAllowed(origin)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	h := w.Header()
	h.Add("Vary", "Origin")
	if !allowed {
		if preflight {
			rpcstatus.Write(w, rpcstatus.New(codes.PermissionDenied, rpcstatus.ReasonOriginNotAllowed,
				"origin "+origin+" is not allowed"), http.StatusForbidden, s.schema.Types)
			return true
		}
		return false // no CORS headers: the browser withholds the response
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if !preflight {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
		h.Set("Access-Control-Allow-Headers", reqHeaders)
	}
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (s *Server) originAllowed(origin string) bool {
	origin = strings.TrimRight(origin, "/")
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
