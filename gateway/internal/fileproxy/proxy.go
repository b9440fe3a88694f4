// Package fileproxy reverse-proxies the file service's plain HTTP data plane (tus at
// /v1/tus/, services/file/src/http) to its replicas, round-robin: any replica serves any
// request of any upload (the state is in Postgres and the blob store), so there is no
// stickiness. Bodies stream both ways without buffering (FlushInterval -1) and without the
// gateway's JSON body limit; the file service bounds what an upload may take (Upload-Length,
// quota, MAX_UPLOAD_BYTES) and GATEWAY_MAX_UPLOAD_BYTES caps a single request body here.
//
// A replica that cannot be reached (restarting, killed) is skipped for the next one as long as
// the request body was never read (bytes read cannot be sent again); when none answers, the
// client gets 503 UPSTREAM_UNAVAILABLE with RetryInfo and Retry-After: 1 — a tus client then
// asks (HEAD) where its upload stands and goes on, as after any failed PATCH.
//
// Headers: the client's X-Forwarded-*, Forwarded and every edge-only identity header
// (x-filemesh-*, x-envoy-*, X-Real-IP, …: meta.EdgeOnly) are dropped; X-Forwarded-For, -Host
// and -Proto are then written from the connection itself, so the service builds Location
// URLs from the host the client really addressed and counts rate limits against the real peer.
package fileproxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/filemesh/filemesh/gateway/internal/meta"
	"github.com/filemesh/filemesh/gateway/internal/retrybody"
)

// Prefixes are the public path prefixes served by the file service's HTTP listener. A path
// equal to a prefix without its trailing slash matches too (POST /v1/tus).
var Prefixes = []string{"/v1/tus/"}

// Handler proxies matching requests to one of Upstreams (host:port), round-robin.
type Handler struct {
	Upstreams      []string
	MaxUploadBytes int64
	// Fail answers a request the gateway refuses itself (status, reason, message).
	Fail func(w http.ResponseWriter, status int, reason, msg string)
	// Unavailable answers 503 with RetryInfo (no replica could be reached).
	Unavailable func(w http.ResponseWriter, reason, msg string)

	next    atomic.Uint64
	proxies []*httputil.ReverseProxy
}

// New builds the handler; upstreams must be non-empty host:port addresses.
func New(
	upstreams []string,
	maxUploadBytes int64,
	fail func(http.ResponseWriter, int, string, string),
	unavailable func(http.ResponseWriter, string, string),
) (*Handler, error) {
	if len(upstreams) == 0 {
		return nil, fmt.Errorf("fileproxy: no upstream")
	}
	h := &Handler{Upstreams: upstreams, MaxUploadBytes: maxUploadBytes, Fail: fail, Unavailable: unavailable}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // a PATCH answers after its whole body arrived
		DisableCompression:    true,
	}
	for _, addr := range upstreams {
		target := &url.URL{Scheme: "http", Host: addr}
		h.proxies = append(h.proxies, &httputil.ReverseProxy{
			Transport:     transport,
			FlushInterval: -1,
			Rewrite: func(pr *httputil.ProxyRequest) {
				// Rewrite already removed X-Forwarded-For/-Host/-Proto and Forwarded from the
				// outbound request; the other edge-only headers go here.
				for k := range pr.Out.Header {
					if meta.EdgeOnly(k) {
						pr.Out.Header.Del(k)
					}
				}
				pr.SetURL(target)
				pr.Out.Host = "" // the upstream's own Host; the client's goes in X-Forwarded-Host
				pr.Out.URL.RawQuery = ""
				pr.SetXForwarded()
				if host, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
					pr.Out.Header.Set("X-Forwarded-For", host) // the peer alone, like meta.Outgoing
				}
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if r.Context().Err() != nil {
					return // the client went away
				}
				// Nothing was written yet: the loop in ServeHTTP tries the next replica while the
				// body is untouched, and answers 503 + RetryInfo when it cannot.
				r.Context().Value(attemptKey{}).(*attempt).failed = true
			},
		})
	}
	return h, nil
}

// Match reports whether the path belongs to the file service's HTTP listener.
func Match(path string) bool {
	for _, p := range Prefixes {
		if strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/") {
			return true
		}
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.MaxUploadBytes {
		h.Fail(w, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE",
			fmt.Sprintf("request body exceeds the limit of %d bytes", h.MaxUploadBytes))
		return
	}
	var body *retrybody.Body
	if r.Body != nil && r.Body != http.NoBody {
		body = retrybody.New(http.MaxBytesReader(w, r.Body, h.MaxUploadBytes))
		r.Body = body
	}
	a := &attempt{}
	r = r.WithContext(context.WithValue(r.Context(), attemptKey{}, a))
	first := h.next.Add(1)
	for k := uint64(0); k < uint64(len(h.proxies)); k++ {
		a.failed = false
		h.proxies[(first+k)%uint64(len(h.proxies))].ServeHTTP(w, r)
		if !a.failed || r.Context().Err() != nil || (body != nil && body.Touched()) {
			break
		}
	}
	if a.failed && r.Context().Err() == nil {
		h.Unavailable(w, "UPSTREAM_UNAVAILABLE", "the file service is unavailable; retry shortly")
	}
}

type attemptKey struct{}

// attempt records that the replica tried could not be reached (nothing written to the client).
type attempt struct{ failed bool }
