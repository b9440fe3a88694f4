package rawbody

// The data plane of raw downloads (docs/architecture.md "Data plane"): GET
// /v1/files/{file_id}/content asks the file service once, over gRPC, for a transfer ticket
// (CreateDownloadTicket: authorisation, version, range, headers), then moves the bytes over
// plain HTTP — no per-chunk gRPC messages:
//
//   - redirect=true (a field of GetFileContentRequest): 307 to the ticket's URL (the data endpoint, or a presigned S3 URL);
//   - BlobDir set (the gateway shares the fs driver's disk): served from the file itself
//     (http.ServeContent: sendfile, Range, If-None-Match);
//   - otherwise: proxied from the file service's data endpoint (or the presigned URL).
//
// /v1/data/{ticket} (the URL a ticket names) is proxied to the data endpoints as is.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/filemesh/filemesh/gateway/internal/retrybody"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
)

// DataPrefix is the path of the data endpoint's tickets.
const DataPrefix = "/v1/data/"

const (
	contentMethod = "filemesh.file.v1.FileService.GetFileContent"
	ticketMethod  = "CreateDownloadTicket"
)

// DataPlane moves download bytes outside gRPC.
type DataPlane struct {
	Addrs        []string // the file service's data endpoints (host:port)
	BlobDir      string   // the fs driver's root, when this gateway shares its disk
	UnaryTimeout time.Duration
	client       *http.Client
	next         atomic.Uint32
}

// NewDataPlane builds a data plane with a pooled HTTP client.
func NewDataPlane(addrs []string, blobDir string, unaryTimeout time.Duration) *DataPlane {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &DataPlane{Addrs: addrs, BlobDir: blobDir, UnaryTimeout: unaryTimeout,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
}

func (d *DataPlane) addr() string {
	return d.Addrs[int(d.next.Add(1))%len(d.Addrs)]
}

// do sends a request to the data endpoints (path under DataPrefix), starting at the next in
// turn and moving on to the others while an endpoint cannot be reached and the body (if any)
// was never read: a file replica that is restarting or draining (its listener closed, a
// keep-alive connection it closed) costs the client nothing while another one answers.
func (d *DataPlane) do(ctx context.Context, method, path string, body *retrybody.Body, prepare func(*http.Request)) (*http.Response, error) {
	var lastErr error
	for i := 0; i < len(d.Addrs); i++ {
		var rd io.Reader
		if body != nil {
			rd = body
		}
		req, err := http.NewRequestWithContext(ctx, method, "http://"+d.addr()+path, rd)
		if err != nil {
			return nil, err
		}
		prepare(req)
		res, err := d.client.Do(req)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if ctx.Err() != nil || (body != nil && body.Touched()) {
			break
		}
	}
	return nil, lastErr
}

// dataUnavailable: the data endpoints cannot be reached or cut the answer; the client may
// retry after a second (another replica, or this one back), as for any UNAVAILABLE with RetryInfo.
func dataUnavailable(message string) *spb.Status {
	return rpcstatus.New(codes.Unavailable, "DATA_ENDPOINT_UNAVAILABLE", message,
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
}

// takesDataPlane reports whether a matched download route goes through the data plane.
func (h *Handler) takesDataPlane(rt *Route) bool {
	return h.Data != nil && !rt.Upload && string(rt.Method.FullName()) == contentMethod
}

// redirectOf reads and clears the request's redirect field (the ticket call has none).
func redirectOf(req *dynamicpb.Message) bool {
	fd := req.Descriptor().Fields().ByName("redirect")
	if fd == nil || fd.Kind() != protoreflect.BoolKind {
		return false
	}
	v := req.Get(fd).Bool()
	req.Clear(fd)
	return v
}

// ticketResponse is the part of CreateDownloadTicketResponse the gateway uses.
type ticketResponse struct {
	url, ticket, contentType, disposition, etag string
	length                                      int64
}

func (h *Handler) createTicket(ctx context.Context, cc *grpc.ClientConn, rt *Route, req *dynamicpb.Message) (*ticketResponse, error) {
	md := rt.Method.Parent().(protoreflect.ServiceDescriptor).Methods().ByName(ticketMethod)
	if md == nil {
		return nil, status.Error(codes.Unimplemented, "the file service has no "+ticketMethod)
	}
	// GetFileContentRequest and CreateDownloadTicketRequest share their fields (1–4).
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	in := dynamicpb.NewMessage(md.Input())
	if err := proto.Unmarshal(b, in); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if h.Data.UnaryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Data.UnaryTimeout)
		defer cancel()
	}
	out := dynamicpb.NewMessage(md.Output())
	path := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	if err := cc.Invoke(ctx, path, in, out); err != nil {
		return nil, err
	}
	f := md.Output().Fields()
	str := func(name string) string { return out.Get(f.ByName(protoreflect.Name(name))).String() }
	return &ticketResponse{
		url: str("url"), ticket: str("ticket"), contentType: str("content_type"),
		disposition: str("content_disposition"), etag: str("etag"),
		length: out.Get(f.ByName("length")).Int(),
	}, nil
}

// serveData answers a download through the data plane; ctx carries the caller's metadata.
// False (nothing written) when the file service has no CreateDownloadTicket (an older
// replica during a rolling upgrade): the caller streams over gRPC as before.
func (h *Handler) serveData(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *Route, cc *grpc.ClientConn, req *dynamicpb.Message) bool {
	redirect := redirectOf(req)
	t, err := h.createTicket(ctx, cc, rt, req)
	if status.Code(err) == codes.Unimplemented {
		return false
	}
	if err != nil {
		h.fail(w, status.Convert(err).Proto(), 0)
		return true
	}
	if redirect {
		w.Header().Set("Location", t.url)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}
	// The REST route answers the offset/length window whole, as over gRPC (ARCHITECTURE §7:
	// the Range header is not read there); Range and If-None-Match are the data URL's.
	for _, k := range []string{"Range", "If-Range", "If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		r.Header.Del(k)
	}
	if h.Data.BlobDir != "" && t.ticket != "" {
		if h.serveLocal(w, r, t) {
			return true
		}
	}
	h.proxy(w, r, t.url, t)
	return true
}

var objectKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/_-]{0,200}$`)

// serveLocal serves the ticket's window from the fs driver's directory; false when it
// cannot (then the data endpoint answers).
func (h *Handler) serveLocal(w http.ResponseWriter, r *http.Request, t *ticketResponse) bool {
	dot := strings.IndexByte(t.ticket, '.')
	if dot <= 0 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(t.ticket[:dot])
	if err != nil {
		return false
	}
	var c struct {
		K string `json:"k"`
		O int64  `json:"o"`
		L int64  `json:"l"`
		S int64  `json:"s"`
	}
	if json.Unmarshal(raw, &c) != nil || !objectKey.MatchString(c.K) || strings.Contains(c.K, "..") {
		return false
	}
	f, err := os.Open(filepath.Join(h.Data.BlobDir, "objects", filepath.FromSlash(c.K)))
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() != c.S || c.O < 0 || c.L < 0 || c.O+c.L > c.S {
		return false
	}
	setDataHeaders(w.Header(), t)
	var content io.ReadSeeker = f // the whole object: io.Copy uses sendfile
	if c.O != 0 || c.L != c.S {
		content = io.NewSectionReader(f, c.O, c.L)
	}
	w.Header().Del("Content-Length")
	http.ServeContent(w, r, "", time.Time{}, content)
	return true
}

func setDataHeaders(h http.Header, t *ticketResponse) {
	h.Set("Content-Type", safeContentType(t.contentType))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", attachment(t.disposition))
	if printable(t.etag) && strings.HasPrefix(t.etag, `"`) {
		h.Set("ETag", t.etag)
	}
	h.Set("Content-Length", strconv.FormatInt(t.length, 10))
}

// dataHeaders are the response headers of a data endpoint that reach the client.
var dataHeaders = []string{"Content-Range", "ETag", "Accept-Ranges", "Cache-Control", "Retry-After", "Referrer-Policy"}

// proxy streams target's response (the data endpoint or a presigned URL) to the client,
// under the ticket's headers; the conditional and range headers of the client go along.
// A target under DataPrefix goes to the data endpoints (another one when one cannot be
// reached); any other target (a presigned URL) is fetched as it is.
func (h *Handler) proxy(w http.ResponseWriter, r *http.Request, target string, t *ticketResponse) {
	prepare := func(out *http.Request) {
		for _, k := range []string{"Range", "If-None-Match", "If-Range"} {
			if v := r.Header.Get(k); v != "" {
				out.Header.Set(k, v)
			}
		}
	}
	var res *http.Response
	var err error
	if strings.HasPrefix(target, DataPrefix) {
		res, err = h.Data.do(r.Context(), r.Method, target, nil, prepare)
	} else {
		var out *http.Request
		out, err = http.NewRequestWithContext(r.Context(), r.Method, target, nil)
		if err != nil {
			h.fail(w, rpcstatus.New(codes.Internal, "DATA_URL_INVALID", "the data URL is not valid"), 0)
			return
		}
		prepare(out)
		res, err = h.Data.client.Do(out)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		h.fail(w, dataUnavailable("the data endpoint cannot be reached"), 0)
		return
	}
	defer res.Body.Close()
	hdr := w.Header()
	copyHeaders := dataHeaders
	if t != nil && (res.StatusCode == http.StatusOK || res.StatusCode == http.StatusPartialContent || res.StatusCode == http.StatusNotModified) {
		setDataHeaders(hdr, t) // the ticket's headers, not the store's (an S3 ETag is an MD5)
		copyHeaders = []string{"Content-Range", "Cache-Control"}
	} else {
		hdr.Set("Content-Type", safeContentType(res.Header.Get("Content-Type")))
		hdr.Set("X-Content-Type-Options", "nosniff")
		if v := res.Header.Get("Content-Disposition"); v != "" {
			hdr.Set("Content-Disposition", attachment(v))
		}
	}
	for _, k := range copyHeaders {
		if v := res.Header.Get(k); v != "" && printable(v) {
			hdr.Set(k, v)
		}
	}
	if res.StatusCode == http.StatusNotModified || r.Method == http.MethodHead {
		w.Header().Del("Content-Length")
		if res.ContentLength >= 0 && r.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.FormatInt(res.ContentLength, 10))
		}
	} else if res.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(res.ContentLength, 10))
	}
	w.WriteHeader(res.StatusCode)
	n, err := copyLarge(w, res.Body)
	if err != nil || (res.ContentLength >= 0 && n != res.ContentLength && r.Method != http.MethodHead) {
		panic(http.ErrAbortHandler) // a truncated body must not look complete
	}
}

// largeBufs hold the chunks a proxied body is written in.
var largeBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyLarge copies r to w in writes of 64–256 KiB: what the upstream's connection has when
// the last write returns, at least 64 KiB (or the rest). io.Copy into a ResponseWriter writes
// 32 KiB at a time (the server's ReadFrom), twice the syscalls on this side and smaller reads
// on the client's.
func copyLarge(w io.Writer, r io.Reader) (int64, error) {
	bp := largeBufs.Get().(*[]byte)
	defer largeBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		k := 0
		var err error
		for k < len(buf)/4 && err == nil {
			var m int
			m, err = r.Read(buf[k:])
			k += m
		}
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err // a cut upstream stays an error (io.ErrUnexpectedEOF included)
		}
	}
}

// sendBody streams r's body, bounded by the raw upload limit, to a data endpoint's target
// (another endpoint while none was reached and no byte was read), with the request id and
// trace; false when it answered w itself (413, the endpoints unreachable, the client gone).
func (h *Handler) sendBody(w http.ResponseWriter, r *http.Request, method, target string) (*http.Response, bool) {
	if r.ContentLength > h.MaxUploadBytes {
		h.tooLarge(w, h.MaxUploadBytes)
		return nil, false
	}
	body := &limitReader{r: r.Body, left: h.MaxUploadBytes}
	res, err := h.Data.do(r.Context(), method, target, retrybody.New(body), func(up *http.Request) {
		up.ContentLength = r.ContentLength
		for _, k := range []string{"X-Request-Id", "Traceparent", "Tracestate"} {
			if v := r.Header.Get(k); v != "" {
				up.Header.Set(k, v)
			}
		}
		up.Header.Set("Content-Type", "application/octet-stream")
	})
	if body.over {
		if err == nil {
			res.Body.Close()
		}
		h.tooLarge(w, h.MaxUploadBytes)
		return nil, false
	}
	if err != nil {
		if r.Context().Err() == nil {
			h.fail(w, dataUnavailable("the data endpoint cannot be reached"), 0)
		}
		return nil, false
	}
	return res, true
}

// ServeData proxies /v1/data/{ticket} to a data endpoint, where the ticket is checked: GET
// and HEAD (a download ticket), PUT and POST (an upload ticket: CreateUploadTicket's url,
// for native clients that send the bytes over plain HTTP, as Envoy routes it too).
func (h *Handler) ServeData(w http.ResponseWriter, r *http.Request) {
	if h.Data == nil || len(h.Data.Addrs) == 0 {
		h.fail(w, rpcstatus.New(codes.NotFound, rpcstatus.ReasonRouteNotFound, "the data plane is off"), http.StatusNotFound)
		return
	}
	upload := r.Method == http.MethodPut || r.Method == http.MethodPost
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !upload {
		w.Header().Set("Allow", "GET, HEAD, PUT, POST")
		h.fail(w, rpcstatus.New(codes.Unimplemented, rpcstatus.ReasonMethodNotAllowed, "use GET, HEAD, PUT or POST"), http.StatusMethodNotAllowed)
		return
	}
	ticket := strings.TrimPrefix(r.URL.EscapedPath(), DataPrefix)
	if len(ticket) > 4096 || strings.ContainsAny(ticket, "/%") {
		h.fail(w, rpcstatus.New(codes.NotFound, "TICKET_MALFORMED", "no such transfer ticket"), http.StatusNotFound)
		return
	}
	if upload {
		h.putData(w, r, DataPrefix+ticket)
		return
	}
	h.proxy(w, r, DataPrefix+ticket, nil)
}

// putData streams an upload ticket's body to a data endpoint (another one while none was
// reached and no byte was read) and passes its answer on as it is: the UploadFileResponse or
// google.rpc.Status bytes (X-Filemesh-Status), or the endpoint's JSON refusal. The body is
// bounded by the gateway's raw upload limit, as on the REST upload route.
func (h *Handler) putData(w http.ResponseWriter, r *http.Request, target string) {
	res, ok := h.sendBody(w, r, r.Method, target)
	if !ok {
		return
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		h.fail(w, dataUnavailable("the data endpoint's answer was cut"), 0)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", safeContentType(res.Header.Get("Content-Type")))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	for _, k := range []string{"X-Filemesh-Status", "Retry-After", "Allow"} {
		if v := res.Header.Get(k); v != "" && printable(v) {
			hdr.Set(k, v)
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(raw)
}

const uploadMethod = "filemesh.file.v1.FileService.UploadFile"

// takesUploadPlane reports whether a matched upload route goes through the data plane.
func (h *Handler) takesUploadPlane(rt *Route) bool {
	return h.Data != nil && rt.Upload && string(rt.Method.FullName()) == uploadMethod && len(h.Data.Addrs) > 0
}

// serveUpload sends a raw upload through the data plane: CreateUploadTicket (authorisation,
// name, folder) over gRPC, then the body as plain HTTP to /v1/data/{ticket}, whose answer (an
// UploadFileResponse, or a google.rpc.Status) is rendered as the gRPC path renders it. False
// (nothing written) when the file service has no CreateUploadTicket.
func (h *Handler) serveUpload(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *Route, cc *grpc.ClientConn, req *dynamicpb.Message) bool {
	md := rt.Method.Parent().(protoreflect.ServiceDescriptor).Methods().ByName("CreateUploadTicket")
	if md == nil {
		return false
	}
	if r.ContentLength > h.MaxUploadBytes {
		h.tooLarge(w, h.MaxUploadBytes)
		return true
	}
	// UploadFileRequest and CreateUploadTicketRequest share their fields (1–3, 5); no body here.
	b, err := proto.Marshal(req)
	in := dynamicpb.NewMessage(md.Input())
	if err == nil {
		err = proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, in)
	}
	if err != nil {
		h.fail(w, rpcstatus.New(codes.Internal, "REQUEST_NOT_RENDERED", err.Error()), 0)
		return true
	}
	tctx := ctx
	if h.Data.UnaryTimeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, h.Data.UnaryTimeout)
		defer cancel()
	}
	out := dynamicpb.NewMessage(md.Output())
	if err := cc.Invoke(tctx, "/"+string(md.Parent().FullName())+"/"+string(md.Name()), in, out); err != nil {
		if status.Code(err) == codes.Unimplemented {
			return false
		}
		h.fail(w, status.Convert(err).Proto(), 0)
		return true
	}
	url := out.Get(md.Output().Fields().ByName("url")).String()
	if !strings.HasPrefix(url, DataPrefix) {
		h.fail(w, rpcstatus.New(codes.Internal, "DATA_URL_INVALID", "the upload URL is not a data-plane path"), 0)
		return true
	}
	res, ok := h.sendBody(w, r, http.MethodPut, url)
	if !ok {
		return true
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		h.fail(w, dataUnavailable("the data endpoint's answer was cut"), 0)
		return true
	}
	ct := res.Header.Get("Content-Type")
	switch {
	case res.StatusCode == http.StatusOK && strings.HasPrefix(ct, "application/x-protobuf"):
		resp := dynamicpb.NewMessage(rt.Method.Output())
		if err := proto.Unmarshal(raw, resp); err != nil {
			h.fail(w, rpcstatus.New(codes.Internal, "RESPONSE_NOT_RENDERED", "cannot read the upload's answer"), 0)
			return true
		}
		js, err := h.marshalJSON(resp, rt)
		if err != nil {
			h.fail(w, rpcstatus.New(codes.Internal, "RESPONSE_NOT_RENDERED", "cannot render the response as JSON"), 0)
			return true
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(js)
	case strings.HasPrefix(ct, "application/x-protobuf") && res.Header.Get("X-Filemesh-Status") == "1":
		st := &spb.Status{}
		if proto.Unmarshal(raw, st) != nil {
			st = rpcstatus.New(codes.Internal, "RESPONSE_NOT_RENDERED", "cannot read the upload's error")
		}
		h.fail(w, st, 0)
	default: // the endpoint's own refusals (tickets): already google.rpc.Status JSON
		w.Header().Set("Content-Type", safeContentType(ct))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(raw)
	}
	return true
}

// limitReader fails reads past the raw upload limit and remembers it did.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.over = true
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, errBodyTooLarge
	}
	return n, err
}

var errBodyTooLarge = errors.New("request body too large")
