package filemesh

// The data plane (docs/architecture.md "Data plane"): the authorisation over gRPC, the bytes
// over plain HTTP. CreateDownloadTicket and CreateUploadTicket mint a short-lived transfer
// ticket for one file, one direction and one byte range; the bytes then move as one HTTP GET
// or PUT of the ticket's URL — the file service's data endpoint (/v1/data/{ticket}, through
// the gateway) or, with the s3 driver, a presigned URL straight to the object store — with no
// gRPC message per chunk. For large files this is the fast path (bench/README.md "the data
// plane from Go").

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// copyBufBytes is the most a download copies at once (a smaller body gets a buffer its size).
const copyBufBytes = 256 << 10

type dataPlane struct {
	base   *url.URL // nil: the dial target gives no usable base (see WithHTTPBase)
	client *http.Client
}

func newDataPlane(target string, cfg config) dataPlane {
	base := cfg.httpBase
	if base == "" {
		scheme := "https://"
		if cfg.plaintext {
			scheme = "http://"
		}
		base = scheme + target
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		u = nil
	}
	hc := cfg.httpClient
	if hc == nil {
		tr := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ReadBufferSize:      256 << 10,
			WriteBufferSize:     256 << 10,
		}
		if cfg.tls != nil {
			tr.TLSClientConfig = cfg.tls.Clone()
		}
		hc = &http.Client{Transport: tr}
	}
	return dataPlane{base: u, client: hc}
}

// resolve makes a ticket's URL absolute: a presigned URL as it is, a path against the base.
func (d dataPlane) resolve(ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", status.Errorf(codes.Internal, "filemesh: the data URL is not valid: %v", err)
	}
	if r.IsAbs() {
		return ref, nil
	}
	if d.base == nil {
		return "", status.Error(codes.FailedPrecondition, "filemesh: no HTTP address for the data plane (WithHTTPBase)")
	}
	return d.base.ResolveReference(r).String(), nil
}

// transportError turns a failed HTTP exchange into the status a cut gRPC stream would give:
// the context's own end, or UNAVAILABLE (retried).
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	// Not the *url.Error's own text: it names the URL, and a ticket in it is a bearer
	// capability that must not reach a log.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return status.Error(codes.Unavailable, "filemesh: data plane: "+err.Error())
}

// httpError reads a refusal as the gRPC status it stands for: the service's google.rpc.Status
// (protobuf from the data endpoint, JSON from the gateway) with its ErrorInfo reason, or, for
// an answer without one (an object store's XML), the HTTP status mapped to a code.
func httpError(res *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	ct := res.Header.Get("Content-Type")
	st := &spb.Status{}
	switch {
	case strings.HasPrefix(ct, "application/x-protobuf") && res.Header.Get("X-Filemesh-Status") == "1" &&
		proto.Unmarshal(body, st) == nil && st.GetCode() != 0:
		return status.ErrorProto(st)
	case strings.HasPrefix(ct, "application/json") &&
		protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, st) == nil && st.GetCode() != 0:
		return status.ErrorProto(st)
	}
	code := codes.Unknown
	switch c := res.StatusCode; {
	case c == http.StatusBadRequest:
		code = codes.InvalidArgument
	case c == http.StatusUnauthorized:
		code = codes.Unauthenticated
	case c == http.StatusForbidden:
		code = codes.PermissionDenied
	case c == http.StatusNotFound:
		code = codes.NotFound
	case c == http.StatusRequestedRangeNotSatisfiable:
		code = codes.OutOfRange
	case c == http.StatusTooManyRequests:
		code = codes.ResourceExhausted
	case c == http.StatusPreconditionFailed || c == http.StatusGone:
		code = codes.FailedPrecondition
	case c >= 500:
		code = codes.Unavailable
	}
	msg := fmt.Sprintf("filemesh: data plane: HTTP %d", res.StatusCode)
	if len(body) > 0 {
		msg += ": " + strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	s := status.New(code, msg)
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs >= 0 {
		if ws, err := s.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)}); err == nil {
			s = ws
		}
	}
	return s.Err()
}

// stale reports whether a ticket must be replaced before (another) use: expired or about to,
// or refused as expired.
func stale(expire time.Time, err error) bool {
	return time.Until(expire) < 2*time.Second || (err != nil && Reason(err) == "TICKET_EXPIRED")
}

// Download writes a file's content (or the range in o) into w over the data plane: one
// CreateDownloadTicket (authorisation, version and range, over gRPC), then the bytes as a
// plain HTTP GET of its URL — from the object store itself with the s3 driver. It returns the
// first ticket (content type, size, ETag, the version served) and the bytes written.
//
// A broken transfer resumes at the next byte not yet written: with a Range request on the same
// URL while the ticket is valid, otherwise with a new ticket for the rest, pinned to the
// version of the first, so a resumed download never mixes two versions. A failing writer is
// not retried. ReadFile moves the same bytes as gRPC messages, for clients without HTTP access
// to the data plane.
func (c *Client) Download(ctx context.Context, fileID string, w io.Writer, o ReadOptions) (*filev1.CreateDownloadTicketResponse, int64, error) {
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	var (
		first, t *filev1.CreateDownloadTicketResponse
		written  int64 // bytes written to w
		base     int64 // written when t was minted
	)
	version := o.VersionID
	rt := retrier{max: o.MaxRetries}
	for {
		if t == nil || stale(t.GetExpireTime().AsTime(), nil) {
			req := &filev1.CreateDownloadTicketRequest{FileId: fileID, Offset: o.Offset + written, VersionId: version}
			if first != nil {
				req.Length = first.GetLength() - written // the same end, whatever o.Length said
			} else {
				req.Length = o.Length
			}
			nt, err := c.Files.CreateDownloadTicket(ctx, req)
			if err != nil {
				if retry, _ := rt.again(ctx, err); retry {
					continue
				}
				return first, written, err
			}
			t, base = nt, written
			if first == nil {
				first, version = nt, nt.GetVersionId()
			}
		}
		before := written
		err := c.data.get(ctx, t, written-base, w, &written, o.Progress)
		if err == nil {
			return first, written, nil
		}
		if written > before {
			rt.progressed()
		}
		var werr writeError
		if errors.As(err, &werr) {
			return first, written, werr.error
		}
		if rt.renew(t.GetExpireTime().AsTime(), err) {
			t = nil // a new ticket for the rest
			continue
		}
		if retry, _ := rt.again(ctx, err); !retry {
			return first, written, err
		}
	}
}

// get fetches the rest of t's range, from `done` bytes into it, into w.
func (d dataPlane) get(ctx context.Context, t *filev1.CreateDownloadTicketResponse, done int64, w io.Writer, written *int64, progress func(int64)) error {
	left := t.GetLength() - done
	if left <= 0 {
		return nil
	}
	target, err := d.resolve(t.GetUrl())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return status.Errorf(codes.Internal, "filemesh: %v", err)
	}
	// A data endpoint's URL serves the ticket's window (Range within it); a presigned URL
	// serves the whole object (Range within the object).
	start, end := done, t.GetLength()-1
	if t.GetTicket() == "" {
		start, end = t.GetOffset()+done, t.GetOffset()+t.GetLength()-1
	}
	ranged := done > 0 || (t.GetTicket() == "" && (t.GetOffset() != 0 || t.GetLength() != t.GetSizeBytes()))
	if ranged {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end))
	}
	res, err := d.client.Do(req)
	if err != nil {
		return transportError(ctx, err)
	}
	defer res.Body.Close()
	want := http.StatusOK
	if ranged {
		want = http.StatusPartialContent
	}
	if res.StatusCode != want {
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			return status.Errorf(codes.Internal, "filemesh: data plane answered HTTP %d to a request for %d-%d", res.StatusCode, start, end)
		}
		return httpError(res)
	}
	if ranged && !strings.HasPrefix(res.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/", start, end)) {
		return status.Errorf(codes.Internal, "filemesh: data plane answered %q to a request for %d-%d", res.Header.Get("Content-Range"), start, end)
	}
	if res.ContentLength >= 0 && res.ContentLength != left {
		return status.Errorf(codes.Internal, "filemesh: data plane answered %d bytes, expected %d", res.ContentLength, left)
	}
	cw := &countingWriter{w: w, n: written, progress: progress}
	n, err := io.CopyBuffer(cw, io.LimitReader(res.Body, left), make([]byte, min(left, copyBufBytes)))
	if cw.err != nil {
		return writeError{cw.err}
	}
	if err != nil {
		return transportError(ctx, err)
	}
	if n != left {
		return status.Errorf(codes.Unavailable, "filemesh: data plane: the body ended after %d of %d bytes", n, left)
	}
	return nil
}

type countingWriter struct {
	w        io.Writer
	n        *int64
	progress func(int64)
	err      error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
	} else if c.progress != nil {
		c.progress(*c.n)
	}
	return n, err
}

// Put uploads r (exactly o.Size bytes) over the data plane: one CreateUploadTicket
// (authorisation on the folder, the name and the declared SHA-256, over gRPC), then the body
// as one plain HTTP PUT of its URL, which stores, hashes, counts and commits it as UploadFile
// does and answers with the file. A body may have at most the ticket's max_bytes (the
// service's MAX_RAW_UPLOAD_BYTES); a larger one is refused before anything is sent (use
// Upload, which has no such limit).
//
// A body is not resumed part-way: after a broken connection or a retryable refusal, a
// re-readable r (as for WriteUpload: Seek(0, io.SeekCurrent) works) is sent again from the
// position it had, under the same RequestID, so an upload whose answer was lost is answered
// with the file it committed, not committed twice. Any other reader is not sent again (its
// error is returned). A failing reader is returned as it is. OnResume reports a new attempt
// (offset 0).
func (c *Client) Put(ctx context.Context, r io.Reader, o UploadOptions) (*filev1.File, error) {
	if o.Size < 0 {
		return nil, status.Error(codes.InvalidArgument, "filemesh: Size must be given (0 or more bytes)")
	}
	if o.RequestID == "" {
		o.RequestID = newRequestID()
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	seeker, start, again := rereadable(r)
	rt := retrier{max: o.MaxRetries}
	var (
		t       *filev1.CreateUploadTicketResponse
		lastErr error
	)
	for attempt := 0; ; attempt++ {
		if t == nil || stale(t.GetExpireTime().AsTime(), nil) {
			nt, err := c.Files.CreateUploadTicket(ctx, &filev1.CreateUploadTicketRequest{
				ParentId: o.ParentID, Name: o.Name, Sha256: o.SHA256, RequestId: o.RequestID,
			})
			if err != nil {
				if retry, _ := rt.again(ctx, err); retry {
					continue
				}
				return nil, err
			}
			t = nt
			if o.Size > t.GetMaxBytes() {
				return nil, status.Errorf(codes.InvalidArgument,
					"filemesh: %d bytes is more than the data plane takes in one body (%d); use Upload", o.Size, t.GetMaxBytes())
			}
		}
		if attempt > 0 {
			if !again {
				return nil, lastErr
			}
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return nil, &readError{err}
			}
			if o.OnResume != nil {
				o.OnResume(0, lastErr)
			}
		}
		f, err := c.data.put(ctx, t, r, o)
		if err == nil {
			return f, nil
		}
		if rerr := (*readError)(nil); errors.As(err, &rerr) {
			return nil, rerr.err
		}
		lastErr = err
		if rt.renew(t.GetExpireTime().AsTime(), err) {
			t = nil
			continue
		}
		if retry, _ := rt.again(ctx, err); !retry {
			return nil, err
		}
	}
}

// put sends one body to an upload ticket's URL and reads the UploadFileResponse.
func (d dataPlane) put(ctx context.Context, t *filev1.CreateUploadTicketResponse, r io.Reader, o UploadOptions) (*filev1.File, error) {
	target, err := d.resolve(t.GetUrl())
	if err != nil {
		return nil, err
	}
	body := &countingReader{r: io.LimitReader(r, o.Size), total: o.Size, progress: o.Progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, body)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "filemesh: %v", err)
	}
	req.ContentLength = o.Size
	if o.Size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Request-Id", o.RequestID)
	res, err := d.client.Do(req)
	if body.err != nil {
		return nil, &readError{body.err}
	}
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, httpError(res)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	out := &filev1.UploadFileResponse{}
	if err := proto.Unmarshal(raw, out); err != nil || out.GetFile() == nil {
		return nil, status.Error(codes.Internal, "filemesh: the data plane's answer is not an UploadFileResponse")
	}
	return out.GetFile(), nil
}

// countingReader reports progress and remembers the reader's own error (an early EOF
// included: the body must have o.Size bytes).
type countingReader struct {
	r        io.Reader
	sent     int64
	total    int64
	progress func(sent, total int64)
	err      error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sent += int64(n)
	if n > 0 && c.progress != nil {
		c.progress(c.sent, c.total)
	}
	if errors.Is(err, io.EOF) && c.sent < c.total {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}
