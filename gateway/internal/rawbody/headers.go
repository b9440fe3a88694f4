package rawbody

import (
	"mime"
	"net/http"
	"strconv"

	"google.golang.org/grpc/metadata"
)

// Response metadata a raw download may turn into HTTP headers. Nothing else the service
// sends reaches the client: a download is served under the gateway's rules, not the
// service's (no Set-Cookie, Location, Content-Security-Policy, … from upstream).
const (
	dispositionKey = "content-disposition"
	lengthKey      = "x-content-length" // gRPC's own content-length would describe the frames
)

// setDownloadHeaders writes the headers of a raw download: the content type of the first
// message, X-Content-Type-Options: nosniff always, Content-Disposition (the service's when
// it is a well-formed attachment, else a bare "attachment") and Content-Length when the
// service declared it. It returns the declared length, or -1.
func setDownloadHeaders(h http.Header, md metadata.MD, contentType string) int64 {
	h.Set("Content-Type", safeContentType(contentType))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", attachment(single(md, dispositionKey)))
	n, ok := contentLength(single(md, lengthKey))
	if !ok {
		return -1
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	return n
}

// single is the value of key when the service sent exactly one, else "".
func single(md metadata.MD, key string) string {
	if vs := md.Get(key); len(vs) == 1 {
		return vs[0]
	}
	return ""
}

// printable reports whether v is non-empty printable ASCII: no CR, LF or other control
// character can end a header or start another, and no byte can be read differently by a client.
func printable(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func safeContentType(v string) string {
	if printable(v) {
		if _, _, err := mime.ParseMediaType(v); err == nil {
			return v
		}
	}
	return "application/octet-stream"
}

func attachment(v string) string {
	if printable(v) {
		if kind, _, err := mime.ParseMediaType(v); err == nil && kind == "attachment" {
			return v
		}
	}
	return "attachment"
}

func contentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
