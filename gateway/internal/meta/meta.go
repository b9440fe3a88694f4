// Package meta converts between HTTP headers and gRPC metadata for both directions of the
// proxy, parses grpc-timeout, and owns the request id.
package meta

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
)

// RequestIDHeader is set on every request (when absent) and echoed on every response.
const RequestIDHeader = "X-Request-Id"

// skipped are never forwarded as metadata: hop-by-hop, transport and protocol headers.
var skipped = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true,
	"upgrade": true, "te": true, "trailer": true, "host": true, "content-length": true,
	"content-type": true, "content-encoding": true, "accept-encoding": true, "user-agent": true,
	"connect-protocol-version": true, "connect-timeout-ms": true, "x-server-timeout": true,
	"proxy-authorization": true, "http2-settings": true, "expect": true,
}

// edgeOnly are identity and client-address headers only the edge may set. A client's own
// values are dropped, never forwarded: the services take the calling mesh service from
// x-filemesh-service + x-filemesh-internal-token (or the sidecar's x-forwarded-client-cert)
// and the client's address from x-forwarded-for, which the gateway writes itself.
// (x-forwarded-for and x-forwarded-client-cert are covered by the x-forwarded- prefix below.)
var edgeOnly = map[string]bool{
	"forwarded": true, "x-real-ip": true, "x-client-ip": true, "true-client-ip": true, "cf-connecting-ip": true,
}

// edgeOnlyPrefixes: every x-filemesh-* header (the mesh's own: service identity, internal
// token), x-forwarded-* (host, proto, …) and x-envoy-* (Envoy's internal headers).
var edgeOnlyPrefixes = []string{"x-filemesh-", "x-forwarded-", "x-envoy-"}

// EdgeOnly reports whether a request header is one the gateway drops from clients.
func EdgeOnly(key string) bool {
	key = strings.ToLower(key)
	if edgeOnly[key] {
		return true
	}
	for _, p := range edgeOnlyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Outgoing builds the metadata to send upstream from incoming request headers: everything
// except transport/protocol headers and edge-only identity headers (so authorization,
// x-request-id, traceparent, tracestate, x-link-password and custom metadata pass through),
// plus x-forwarded-for set to the address of the TCP peer alone. The local gateway is the
// edge: whatever X-Forwarded-For a client sends is dropped, so the services (which take the
// rightmost entry, TRUSTED_PROXY_HOPS=1) count every limit against the address that connected.
func Outgoing(r *http.Request) metadata.MD {
	md := metadata.MD{}
	for k, vs := range r.Header {
		key := strings.ToLower(k)
		if skipped[key] || EdgeOnly(key) || strings.HasPrefix(key, "grpc-") || strings.HasPrefix(key, ":") {
			continue
		}
		if strings.HasSuffix(key, "-bin") {
			for _, v := range vs {
				for _, part := range strings.Split(v, ",") {
					if b, err := decodeBin(strings.TrimSpace(part)); err == nil {
						md.Append(key, string(b))
					}
				}
			}
			continue
		}
		md.Append(key, vs...)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		md.Set("x-forwarded-for", host)
	}
	// gRPC reserves user-agent for the transport's own ("grpc-go/…"), so the client's goes as
	// x-forwarded-user-agent (a client's own x-forwarded-* was dropped above): the auth
	// service names sessions by it. Printable ASCII only, at most 256 bytes.
	if ua := r.Header.Get("User-Agent"); ua != "" {
		if len(ua) > maxUserAgent {
			ua = ua[:maxUserAgent]
		}
		if printableASCII(ua) {
			md.Set(ForwardedUserAgent, ua)
		}
	}
	return md
}

// ForwardedUserAgent carries the client's User-Agent to the services.
const ForwardedUserAgent = "x-forwarded-user-agent"

const maxUserAgent = 256

func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// reservedResponse are metadata keys that the proxy writes itself or must not copy.
var reservedResponse = map[string]bool{
	"content-type": true, "content-length": true, "grpc-status": true, "grpc-message": true,
	"grpc-status-details-bin": true, "grpc-encoding": true, "grpc-accept-encoding": true,
	"te": true, "trailer": true, "connection": true, "transfer-encoding": true,
}

// CopyToHeader writes response metadata into h (binary values base64-encoded); prefix is
// "" for headers or http.TrailerPrefix for trailers.
func CopyToHeader(h http.Header, md metadata.MD, prefix string) {
	for k, vs := range md {
		if reservedResponse[k] || strings.HasPrefix(k, ":") {
			continue
		}
		for _, v := range vs {
			if strings.HasSuffix(k, "-bin") {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			h.Add(prefix+k, v)
		}
	}
}

func decodeBin(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// ParseTimeout reads a grpc-timeout header value ("100m", "5S", …).
func ParseTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[byte]time.Duration{
		'H': time.Hour, 'M': time.Minute, 'S': time.Second,
		'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond,
	}[v[len(v)-1]]
	if unit == 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// EnsureRequestID keeps a sane incoming x-request-id or sets a new one, on the request
// (so it is forwarded) and on the response; it returns the id.
func EnsureRequestID(w http.ResponseWriter, r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if !validRequestID(id) {
		id = NewRequestID()
		r.Header.Set(RequestIDHeader, id)
	}
	w.Header().Set(RequestIDHeader, id)
	return id
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// NewRequestID returns a random UUIDv4 string.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
