package filemesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// PartsOptions tune UploadParts.
type PartsOptions struct {
	ParentID string // "" means the caller's home folder
	Name     string
	Size     int64  // required: the server reserves quota for it and checks it
	SHA256   string // optional hex; checked by the server before the file is visible
	// RequestID makes CreateUpload idempotent (default: random).
	RequestID string
	// Preferred part size; the server clamps it to the store's limits (0: its default).
	PartSize int64
	// Parts in flight (default 4).
	Parallel int
	// Consecutive failed attempts of one part before giving up (default 5).
	MaxRetries int
	// Progress is called as parts are stored, with the bytes stored so far.
	Progress func(stored, total int64)
}

// UploadParts uploads r (exactly o.Size bytes, read at any offset) as a PARTS session, its
// parts over the data plane: with the s3 driver each part goes straight to the object store by
// the presigned URL the session carries (the bytes never enter the mesh), with the fs driver as
// PUT /v1/uploads/{id}/parts/{n} through the gateway. o.Parallel parts are in flight; a part
// that fails is read again from r and sent again (a presigned URL about to expire is renewed
// with RefreshUploadUrls); then CompleteUpload assembles the parts and checks size and SHA-256
// (the service reads the object back to hash it) before the file becomes visible. A session
// left behind (the process died) is resumed with ResumeParts.
func (c *Client) UploadParts(ctx context.Context, r io.ReaderAt, o PartsOptions) (*filev1.File, error) {
	if o.RequestID == "" {
		o.RequestID = newRequestID()
	}
	res, err := c.Files.CreateUpload(ctx, &filev1.CreateUploadRequest{
		ParentId: o.ParentID, Name: o.Name, SizeBytes: o.Size, Sha256: o.SHA256,
		Method: filev1.UploadMethod_UPLOAD_METHOD_PARTS, PartSizeBytes: o.PartSize, RequestId: o.RequestID,
	})
	if err != nil {
		return nil, err
	}
	return c.ResumeParts(ctx, res.GetUpload(), r, o)
}

// ResumeParts sends the parts of a PARTS session u that the server does not hold yet (see
// GetUpload) from r, the whole content, and completes it. Only Parallel, MaxRetries and
// Progress of o are used.
func (c *Client) ResumeParts(ctx context.Context, u *filev1.Upload, r io.ReaderAt, o PartsOptions) (*filev1.File, error) {
	if u.GetMethod() != filev1.UploadMethod_UPLOAD_METHOD_PARTS {
		return nil, status.Error(codes.InvalidArgument, "filemesh: not a PARTS upload session")
	}
	if u.GetState() == filev1.UploadState_UPLOAD_STATE_COMPLETED {
		return c.completeParts(ctx, u.GetId())
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	p := &parts{c: c, u: u, r: r, o: o, urls: map[int32]*filev1.PartUrl{}}
	for _, pu := range u.GetPartUrls() {
		p.urls[pu.GetPartNumber()] = pu
	}
	have := map[int32]bool{}
	for _, up := range u.GetParts() {
		have[up.GetPartNumber()] = true
		p.stored.Add(up.GetSizeBytes())
	}
	todo := make(chan int32, u.GetPartCount())
	for n := int32(1); n <= u.GetPartCount(); n++ {
		if !have[n] {
			todo <- n
		}
	}
	close(todo)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := 0; i < o.Parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range todo {
				if err := p.send(ctx, n); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return c.completeParts(ctx, u.GetId())
}

func (c *Client) completeParts(ctx context.Context, id string) (*filev1.File, error) {
	rt := retrier{max: 5}
	for {
		res, err := c.Files.CompleteUpload(ctx, &filev1.CompleteUploadRequest{UploadId: id})
		if err == nil {
			return res.GetFile(), nil
		}
		if retry, _ := rt.again(ctx, err); !retry {
			return nil, err
		}
	}
}

type parts struct {
	c      *Client
	u      *filev1.Upload
	r      io.ReaderAt
	o      PartsOptions
	mu     sync.Mutex
	urls   map[int32]*filev1.PartUrl // presigned (s3); none: the gateway's part route
	stored atomic.Int64
}

// span is part n's byte range.
func (p *parts) span(n int32) (off, size int64) {
	off = int64(n-1) * p.u.GetPartSizeBytes()
	return off, min(p.u.GetPartSizeBytes(), p.u.GetSizeBytes()-off)
}

// send stores part n, retrying it while the failures are retryable.
func (p *parts) send(ctx context.Context, n int32) error {
	rt := retrier{max: p.o.MaxRetries}
	renewed := false
	for {
		err := p.put(ctx, n)
		if err == nil {
			_, size := p.span(n)
			stored := p.stored.Add(size)
			if p.o.Progress != nil {
				p.o.Progress(stored, p.u.GetSizeBytes())
			}
			return nil
		}
		if rerr := (*readError)(nil); errors.As(err, &rerr) {
			return rerr.err
		}
		// The store refusing a presigned URL (it expired on the way, or the clocks differ):
		// once with a fresh one.
		if status.Code(err) == codes.PermissionDenied && !renewed && p.forget(n) {
			renewed = true
			continue
		}
		retry, refresh := rt.again(ctx, err)
		if !retry {
			return err
		}
		if refresh { // the gateway's part route refused the token: a new one, once
			if _, rerr := p.c.Refresh(ctx); rerr != nil {
				return err
			}
		}
	}
}

// forget drops part n's presigned URL, reporting whether it had one.
func (p *parts) forget(n int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, had := p.urls[n]
	delete(p.urls, n)
	return had
}

// target is where part n goes and the headers it needs: its presigned URL (renewed when it is
// about to expire), or the gateway's part route with the bearer token.
func (p *parts) target(ctx context.Context, n int32) (string, http.Header, error) {
	p.mu.Lock()
	pu, presigned := p.urls[n]
	p.mu.Unlock()
	if presigned && time.Until(pu.GetExpireTime().AsTime()) > 5*time.Second {
		return pu.GetUrl(), nil, nil
	}
	if presigned || len(p.u.GetPartUrls()) > 0 {
		res, err := p.c.Files.RefreshUploadUrls(ctx, &filev1.RefreshUploadUrlsRequest{UploadId: p.u.GetId(), PartNumbers: []int32{n}})
		if err != nil {
			return "", nil, err
		}
		for _, fresh := range res.GetPartUrls() {
			if fresh.GetPartNumber() == n {
				p.mu.Lock()
				p.urls[n] = fresh
				p.mu.Unlock()
				return fresh.GetUrl(), nil, nil
			}
		}
		return "", nil, status.Errorf(codes.Internal, "filemesh: no URL for part %d", n)
	}
	target, err := p.c.data.resolve(fmt.Sprintf("/v1/uploads/%s/parts/%d", p.u.GetId(), n))
	if err != nil {
		return "", nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	token := p.c.tokens.current(ctx)
	if token == "" { // a token set as metadata on the context instead of a session
		if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get("authorization")) > 0 {
			h.Set("Authorization", md.Get("authorization")[0])
		}
	} else {
		h.Set("Authorization", "Bearer "+token)
	}
	return target, h, nil
}

// put sends part n once.
func (p *parts) put(ctx context.Context, n int32) error {
	target, h, err := p.target(ctx, n)
	if err != nil {
		return err
	}
	off, size := p.span(n)
	body := &countingReader{r: io.NewSectionReader(p.r, off, size), total: size}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, body)
	if err != nil {
		return status.Errorf(codes.Internal, "filemesh: %v", err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := p.c.data.client.Do(req)
	if body.err != nil {
		return &readError{body.err}
	}
	if err != nil {
		return transportError(ctx, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return httpError(res)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	return nil
}
