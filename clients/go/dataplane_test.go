package filemesh_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	filemesh "github.com/filemesh/filemesh/clients/go"
	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// calls counts the unary and streaming calls of each method.
type calls struct{ ticket, uploadTicket, readFile atomic.Int64 }

func counting(n *calls) filemesh.Option {
	return filemesh.WithDialOptions(
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any,
			cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			switch method {
			case filev1.FileService_CreateDownloadTicket_FullMethodName:
				n.ticket.Add(1)
			case filev1.FileService_CreateUploadTicket_FullMethodName:
				n.uploadTicket.Add(1)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
			method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if method == filev1.FileService_ReadFile_FullMethodName {
				n.readFile.Add(1)
			}
			return streamer(ctx, desc, cc, method, opts...)
		}))
}

// cutHTTP sends the data plane's HTTP requests through a proxy that closes its first
// connection after `after` bytes (upstream: of the request; else of the answer), whatever
// the URL names: the gateway's /v1/data/{ticket} (fs driver) or a presigned MinIO URL (s3
// driver: its Host header, which the signature covers, stays as it is). The gRPC calls go
// straight to addr. `sample` is a download ticket's URL, to learn where the data plane is (""
// for an upload: always the gateway).
func cutHTTP(t *testing.T, addr, sample string, after int64, upstream bool) (filemesh.Option, *cutProxy) {
	t.Helper()
	target := addr
	if u, err := url.Parse(sample); err == nil && u.IsAbs() {
		target = u.Host
	}
	proxy := startCutProxy(t, target, after, upstream)
	d := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, proxy.Addr)
	}}}
	t.Cleanup(hc.CloseIdleConnections)
	return filemesh.WithHTTPClient(hc), proxy
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Download moves the bytes over HTTP (no ReadFile stream), whole and ranged, says which version
// it served, and resumes a GET cut mid-way with a Range on the same ticket (one ticket).
func TestDownloadGoesOverTheDataPlane(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	var n calls
	c := dial(t, addr, counting(&n))
	newUser(t, ctx, c)
	content := randomBytes(t, 3<<20)
	f, err := c.Upload(ctx, bytes.NewReader(content), filemesh.UploadOptions{
		Name: "dataplane.bin", Size: int64(len(content)), SHA256: hexSum(content),
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}

	var all bytes.Buffer
	var progress int64
	tk, got, err := c.Download(ctx, f.GetId(), &all, filemesh.ReadOptions{Progress: func(w int64) { progress = w }})
	if err != nil || got != int64(len(content)) || !bytes.Equal(all.Bytes(), content) || progress != got {
		t.Fatalf("download: %d bytes (progress %d), equal %v, %v", got, progress, bytes.Equal(all.Bytes(), content), err)
	}
	if tk.GetVersionId() != f.GetCurrentVersionId() || tk.GetSizeBytes() != int64(len(content)) ||
		tk.GetEtag() != `"`+hexSum(content)+`"` {
		t.Fatalf("ticket: version %q (file's %q), size %d, etag %s", tk.GetVersionId(), f.GetCurrentVersionId(), tk.GetSizeBytes(), tk.GetEtag())
	}
	var part bytes.Buffer
	if _, got, err = c.Download(ctx, f.GetId(), &part, filemesh.ReadOptions{Offset: 1_000_000, Length: 123_457}); err != nil ||
		got != 123_457 || !bytes.Equal(part.Bytes(), content[1_000_000:1_123_457]) {
		t.Fatalf("range: %d bytes, %v", got, err)
	}
	if n.readFile.Load() != 0 || n.ticket.Load() != 2 {
		t.Fatalf("%d ReadFile streams and %d tickets, want 0 and 2", n.readFile.Load(), n.ticket.Load())
	}
	_, _, err = c.Download(ctx, f.GetId(), io.Discard, filemesh.ReadOptions{Offset: int64(len(content)) + 1})
	if status.Code(err) != codes.OutOfRange || filemesh.Reason(err) != "OFFSET_OUT_OF_RANGE" {
		t.Fatalf("past the end: %v", err)
	}

	// Only the HTTP side goes through a proxy that closes the first connection after 1 MiB.
	var m calls
	cut, proxy := cutHTTP(t, addr, tk.GetUrl(), 1<<20, false)
	viaProxy := dial(t, addr, counting(&m), cut)
	viaProxy.SetSession(c.Session())
	all.Reset()
	if _, got, err = viaProxy.Download(ctx, f.GetId(), &all, filemesh.ReadOptions{Offset: 10}); err != nil ||
		got != int64(len(content))-10 || !proxy.Cut() {
		t.Fatalf("resumed: %d bytes, cut %v, %v", got, proxy.Cut(), err)
	}
	if !bytes.Equal(all.Bytes(), content[10:]) {
		t.Fatal("the resumed download has other bytes")
	}
	if m.ticket.Load() != 1 {
		t.Fatalf("%d tickets for one resumed download, want 1 (a Range on the same URL)", m.ticket.Load())
	}

	// Another user's file is a missing file, before any byte moves.
	other := dial(t, addr)
	newUser(t, ctx, other)
	if _, _, err = other.Download(ctx, f.GetId(), io.Discard, filemesh.ReadOptions{}); status.Code(err) != codes.NotFound ||
		filemesh.Reason(err) != "FILE_NOT_FOUND" {
		t.Fatalf("another user's file: %v", err)
	}
}

// Put sends the body as one HTTP PUT to an upload ticket: the server hashes and commits it,
// refuses a wrong SHA-256 with its reason, and a body past the ticket's limit is refused
// before a byte is read.
func TestPutGoesOverTheDataPlane(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	var n calls
	c := dial(t, addr, counting(&n))
	newUser(t, ctx, c)
	content := randomBytes(t, 5<<20)
	var sent int64
	f, err := c.Put(ctx, bytes.NewReader(content), filemesh.UploadOptions{
		Name: "put.bin", Size: int64(len(content)), SHA256: hexSum(content),
		WriteOptions: filemesh.WriteOptions{Progress: func(s, _ int64) { sent = s }},
	})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if f.GetSizeBytes() != int64(len(content)) || f.GetSha256() != hexSum(content) || f.GetName() != "put.bin" ||
		sent != int64(len(content)) || n.uploadTicket.Load() != 1 {
		t.Fatalf("file %v, progress %d, %d tickets", f, sent, n.uploadTicket.Load())
	}
	var back bytes.Buffer
	if _, _, err := c.Download(ctx, f.GetId(), &back, filemesh.ReadOptions{}); err != nil || !bytes.Equal(back.Bytes(), content) {
		t.Fatalf("read back: equal %v, %v", bytes.Equal(back.Bytes(), content), err)
	}

	wrong := hexSum([]byte("something else"))
	_, err = c.Put(ctx, bytes.NewReader(content), filemesh.UploadOptions{Name: "wrong.bin", Size: int64(len(content)), SHA256: wrong})
	if status.Code(err) != codes.InvalidArgument || filemesh.Reason(err) != "CHECKSUM_MISMATCH" {
		t.Fatalf("wrong hash: %v", err)
	}
	_, err = c.Put(ctx, failingReader{}, filemesh.UploadOptions{Name: "huge.bin", Size: 1 << 40})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a body past max_bytes: %v", err)
	}
	list, err := c.Files.ListFiles(ctx, &filev1.ListFilesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range list.GetFiles() {
		if g.GetName() != "put.bin" {
			t.Fatalf("a refused body left %q behind", g.GetName())
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("read, but should not have been")
}

// A Put cut mid-body is sent again from the reader's start position; a Put whose answer is cut
// after the commit is sent again under the same request id and answered with the file it
// committed — either way one file with one version. A plain reader is not sent twice.
func TestPutSendsAgainAfterACut(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	c := dial(t, addr)
	newUser(t, ctx, c)
	content := randomBytes(t, 4<<20)
	prefixed := append(randomBytes(t, 1000), content...)

	for _, tc := range []struct {
		name     string
		after    int64
		upstream bool
	}{
		{"body.bin", 1 << 20, true}, // the request cut after 1 MiB
		{"answer.bin", 20, false},   // the answer cut after 20 bytes: the commit had happened
	} {
		cut, proxy := cutHTTP(t, addr, "", tc.after, tc.upstream)
		viaProxy := dial(t, addr, cut)
		viaProxy.SetSession(c.Session())
		r := &seeker{r: bytes.NewReader(prefixed)}
		if _, err := r.Seek(1000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var resumed int
		f, err := viaProxy.Put(ctx, r, filemesh.UploadOptions{
			Name: tc.name, Size: int64(len(content)), SHA256: hexSum(content),
			WriteOptions: filemesh.WriteOptions{OnResume: func(int64, error) { resumed++ }},
		})
		if err != nil || !proxy.Cut() || resumed != 1 {
			t.Fatalf("%s: cut %v, resumed %d, %v", tc.name, proxy.Cut(), resumed, err)
		}
		if f.GetName() != tc.name || f.GetSha256() != hexSum(content) {
			t.Fatalf("%s: file %v", tc.name, f)
		}
		versions, err := c.Files.ListFileVersions(ctx, &filev1.ListFileVersionsRequest{FileId: f.GetId()})
		if err != nil || len(versions.GetVersions()) != 1 {
			t.Fatalf("%s: %d versions, %v", tc.name, len(versions.GetVersions()), err)
		}
	}

	cut, proxy := cutHTTP(t, addr, "", 1<<20, true)
	viaProxy := dial(t, addr, cut)
	viaProxy.SetSession(c.Session())
	_, err := viaProxy.Put(ctx, io.MultiReader(bytes.NewReader(content)), filemesh.UploadOptions{
		Name: "plain.bin", Size: int64(len(content)),
	})
	if status.Code(err) != codes.Unavailable || !proxy.Cut() {
		t.Fatalf("a plain reader cut mid-body: cut %v, %v", proxy.Cut(), err)
	}
	// A ticket is a bearer capability: an error (which may be logged) never names its URL.
	if strings.Contains(err.Error(), "/v1/data/") {
		t.Fatalf("the error names the ticket: %v", err)
	}
}

// readerAt fails reads from failFrom on while fail is set.
type readerAt struct {
	b        []byte
	failFrom int64
	fail     atomic.Bool
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	if r.fail.Load() && off+int64(len(p)) > r.failFrom {
		return 0, errors.New("disk on fire")
	}
	return bytes.NewReader(r.b).ReadAt(p, off)
}

// countPuts counts the HTTP PUTs the data plane sends (parts), through an optional cut proxy.
type countPuts struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countPuts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		c.n.Add(1)
	}
	return c.base.RoundTrip(r)
}

// UploadParts sends the parts over the data plane (presigned to MinIO with s3, the gateway's
// part route with fs) in parallel, a part cut mid-way is sent again, the service checks the
// declared SHA-256 at CompleteUpload; a session whose reader failed is resumed with only the
// parts it lacks.
func TestUploadPartsOverTheDataPlane(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	var n calls
	c := dial(t, addr, counting(&n))
	newUser(t, ctx, c)
	probe, err := c.Put(ctx, bytes.NewReader([]byte("probe")), filemesh.UploadOptions{Name: "probe.txt", Size: 5})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	sample, err := c.Files.CreateDownloadTicket(ctx, &filev1.CreateDownloadTicketRequest{FileId: probe.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	content := randomBytes(t, 12<<20)

	// The first part's connection is cut after 1 MiB: that part is sent again.
	cut, proxy := cutHTTP(t, addr, sample.GetUrl(), 1<<20, true)
	viaProxy := dial(t, addr, cut, counting(&n))
	viaProxy.SetSession(c.Session())
	var stored int64
	var mu sync.Mutex
	f, err := viaProxy.UploadParts(ctx, bytes.NewReader(content), filemesh.PartsOptions{
		Name: "parts.bin", Size: int64(len(content)), SHA256: hexSum(content), PartSize: 5 << 20, Parallel: 2,
		Progress: func(s, _ int64) { mu.Lock(); stored = max(stored, s); mu.Unlock() },
	})
	if err != nil || !proxy.Cut() {
		t.Fatalf("parts: cut %v, %v", proxy.Cut(), err)
	}
	if f.GetSizeBytes() != int64(len(content)) || f.GetSha256() != hexSum(content) || stored != int64(len(content)) {
		t.Fatalf("file %v, progress %d", f, stored)
	}
	var back bytes.Buffer
	if _, _, err := c.Download(ctx, f.GetId(), &back, filemesh.ReadOptions{}); err != nil || !bytes.Equal(back.Bytes(), content) {
		t.Fatalf("read back: equal %v, %v", bytes.Equal(back.Bytes(), content), err)
	}
	if n.readFile.Load() != 0 {
		t.Fatal("a ReadFile stream was used")
	}

	// A wrong declared hash: every part is stored, CompleteUpload refuses, nothing is visible.
	_, err = c.UploadParts(ctx, bytes.NewReader(content), filemesh.PartsOptions{
		Name: "wrong-parts.bin", Size: int64(len(content)), SHA256: hexSum([]byte("other")), PartSize: 5 << 20,
	})
	if status.Code(err) != codes.InvalidArgument || filemesh.Reason(err) != "CHECKSUM_MISMATCH" {
		t.Fatalf("wrong hash: %v", err)
	}

	// The reader fails on the last part: its error comes back as it is; the session keeps the
	// two parts that were stored and is resumed with the missing one only.
	puts := &countPuts{base: http.DefaultTransport}
	counted := dial(t, addr, filemesh.WithHTTPClient(&http.Client{Transport: puts}))
	counted.SetSession(c.Session())
	r := &readerAt{b: content, failFrom: 10 << 20}
	r.fail.Store(true)
	_, err = counted.UploadParts(ctx, r, filemesh.PartsOptions{
		Name: "resumed-parts.bin", Size: int64(len(content)), SHA256: hexSum(content), PartSize: 5 << 20, Parallel: 1,
		RequestID: "resumed-parts-" + hexSum([]byte(t.Name()))[:16],
	})
	if err == nil || err.Error() != "disk on fire" {
		t.Fatalf("a failing reader: %v", err)
	}
	// The same request id gives the same session back.
	again, err := c.Files.CreateUpload(ctx, &filev1.CreateUploadRequest{
		Name: "resumed-parts.bin", SizeBytes: int64(len(content)), Sha256: hexSum(content), PartSizeBytes: 5 << 20,
		Method: filev1.UploadMethod_UPLOAD_METHOD_PARTS, RequestId: "resumed-parts-" + hexSum([]byte(t.Name()))[:16],
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.Files.GetUpload(ctx, &filev1.GetUploadRequest{UploadId: again.GetUpload().GetId()})
	if err != nil || u.GetUpload().GetPartCount() != 3 {
		t.Fatalf("session: %v, %v", u, err)
	}
	held := len(u.GetUpload().GetParts())
	if held != 2 {
		t.Fatalf("the session holds %d parts, want the 2 sent before the reader failed", held)
	}
	r.fail.Store(false)
	before := puts.n.Load()
	f, err = counted.ResumeParts(ctx, u.GetUpload(), r, filemesh.PartsOptions{})
	if err != nil || f.GetSha256() != hexSum(content) {
		t.Fatalf("resumed: %v, %v", f, err)
	}
	if sent := puts.n.Load() - before; sent != int64(3-held) {
		t.Fatalf("resumed with %d parts, the session held %d of 3", sent, held)
	}
}

// expiring answers 410 TICKET_EXPIRED (as the data endpoint does) to the first `times` GETs,
// running before() at the first, and passes the rest on.
type expiring struct {
	times  int
	seen   int
	before func()
}

func (e *expiring) RoundTrip(r *http.Request) (*http.Response, error) {
	e.seen++
	if e.seen > e.times {
		return http.DefaultTransport.RoundTrip(r)
	}
	if e.seen == 1 && e.before != nil {
		e.before()
	}
	body := `{"code":9,"message":"the transfer ticket has expired; ask for a new one","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TICKET_EXPIRED","domain":"file.filemesh"}]}`
	return &http.Response{
		StatusCode: http.StatusGone, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r,
	}, nil
}

// A ticket refused as expired is replaced by one for the rest pinned to the first ticket's
// version, even when a new version was committed meanwhile; a server that refuses every ticket
// as expired ends the download after MaxRetries new tickets.
func TestDownloadRenewsAnExpiredTicketOnTheSameVersion(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	c := dial(t, addr)
	newUser(t, ctx, c)
	first, second := randomBytes(t, 1<<20), randomBytes(t, 1<<20)
	f, err := c.Put(ctx, bytes.NewReader(first), filemesh.UploadOptions{Name: "pin.bin", Size: int64(len(first))})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	rt := &expiring{times: 1, before: func() {
		if _, err := c.Put(ctx, bytes.NewReader(second), filemesh.UploadOptions{Name: "pin.bin", Size: int64(len(second))}); err != nil {
			t.Errorf("second version: %v", err)
		}
	}}
	var n calls
	viaExpiring := dial(t, addr, counting(&n), filemesh.WithHTTPClient(&http.Client{Transport: rt}))
	viaExpiring.SetSession(c.Session())
	var got bytes.Buffer
	tk, _, err := viaExpiring.Download(ctx, f.GetId(), &got, filemesh.ReadOptions{})
	if err != nil || n.ticket.Load() != 2 {
		t.Fatalf("download: %d tickets, %v", n.ticket.Load(), err)
	}
	if !bytes.Equal(got.Bytes(), first) || tk.GetVersionId() != f.GetCurrentVersionId() {
		t.Fatalf("the renewed ticket served another version (first bytes equal: %v)", bytes.Equal(got.Bytes(), first))
	}
	now, err := c.Files.GetFile(ctx, &filev1.GetFileRequest{FileId: f.GetId()})
	if err != nil || now.GetFile().GetCurrentVersionId() == f.GetCurrentVersionId() {
		t.Fatalf("no second version was committed meanwhile: %v", err)
	}

	var m calls
	always := dial(t, addr, counting(&m), filemesh.WithHTTPClient(&http.Client{Transport: &expiring{times: 1 << 30}}))
	always.SetSession(c.Session())
	_, _, err = always.Download(ctx, f.GetId(), io.Discard, filemesh.ReadOptions{MaxRetries: 3})
	if filemesh.Reason(err) != "TICKET_EXPIRED" || m.ticket.Load() != 4 {
		t.Fatalf("always expired: %d tickets, %v", m.ticket.Load(), err)
	}
}
