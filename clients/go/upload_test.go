package filemesh_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	filemesh "github.com/filemesh/filemesh/clients/go"
	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An 8 MiB upload through a proxy that really closes the TCP connection after 6 MiB: the
// client asks the server where it stands and resumes from that committed offset. Small
// messages keep what the gateway and the service buffer (counted in messages) small, so
// parts were stored before the cut (test/clients/go-client.test.ts uses 256 KiB parts).
func TestUploadResumesAfterACutConnection(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	owner := dial(t, addr)
	newUser(t, ctx, owner)

	content := randomBytes(t, 8<<20)
	proxy := startCutProxy(t, addr, 6<<20, true)
	c := dial(t, proxy.Addr)
	c.SetSession(owner.Session())

	var sent int64
	// Only a plain io.Reader: the client may not seek, so it must replay from its window.
	r := io.MultiReader(bytes.NewReader(content))
	f, _ := uploadAcrossACut(t, ctx, c, proxy, r, "eight.bin", content, func(s, total int64) { sent = max(sent, s) })
	if sent != int64(len(content)) {
		t.Fatalf("progress ended at %d", sent)
	}
	checkStored(t, ctx, owner, f, content)
}

// uploadAcrossACut uploads content from r (32 KiB messages: parts are stored before the cut)
// through proxy, which cuts the connection; the upload must resume from a committed offset
// past the start and within the first 6 MiB. It answers the file and the resume offsets.
func uploadAcrossACut(t *testing.T, ctx context.Context, c *filemesh.Client, proxy *cutProxy, r io.Reader,
	name string, content []byte, progress func(sent, total int64)) (*filev1.File, []int64) {
	t.Helper()
	sum := sha256.Sum256(content)
	var resumedAt []int64
	f, err := c.Upload(ctx, r, filemesh.UploadOptions{
		Name: name, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
		WriteOptions: filemesh.WriteOptions{
			ChunkSize: 32 << 10,
			Progress:  progress,
			OnResume: func(offset int64, cause error) {
				t.Logf("resumed at %d after %v", offset, cause)
				resumedAt = append(resumedAt, offset)
			},
		},
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if !proxy.Cut() || len(resumedAt) == 0 {
		t.Fatalf("the connection was not cut (cut %v, resumes %v)", proxy.Cut(), resumedAt)
	}
	// Resumed from what the server had stored: past the start, short of what was sent.
	if resumedAt[0] <= 0 || resumedAt[0] > 6<<20 {
		t.Fatalf("resumed at %d, not at a committed offset within the first 6 MiB", resumedAt[0])
	}
	return f, resumedAt
}

// checkStored: f is READY with content's size and hash, and reads back as content.
func checkStored(t *testing.T, ctx context.Context, owner *filemesh.Client, f *filev1.File, content []byte) {
	t.Helper()
	sum := sha256.Sum256(content)
	if f.GetSizeBytes() != int64(len(content)) || f.GetSha256() != hex.EncodeToString(sum[:]) ||
		f.GetState() != filev1.FileState_READY {
		t.Fatalf("file: %v", f)
	}
	var back bytes.Buffer
	if _, _, err := owner.ReadFile(ctx, f.GetId(), &back, filemesh.ReadOptions{}); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !bytes.Equal(back.Bytes(), content) {
		t.Fatal("the stored content differs")
	}
}

// A wrong declared hash is refused at the commit, with its reason; nothing becomes visible.
func TestUploadWithAWrongHashIsRefused(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	c := dial(t, addr)
	newUser(t, ctx, c)
	wrong := sha256.Sum256([]byte("something else"))
	_, err := c.Upload(ctx, bytes.NewReader([]byte("hello")), filemesh.UploadOptions{
		Name: "wrong.txt", Size: 5, SHA256: hex.EncodeToString(wrong[:]),
	})
	if status.Code(err) != codes.InvalidArgument || filemesh.Reason(err) != "CHECKSUM_MISMATCH" {
		t.Fatalf("a wrong hash: %v (reason %q)", err, filemesh.Reason(err))
	}
}

// writeStreams counts the WriteUpload streams a client opens.
func writeStreams(n *atomic.Int64) filemesh.Option {
	return filemesh.WithDialOptions(grpc.WithChainStreamInterceptor(
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
			streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if method == filev1.FileService_WriteUpload_FullMethodName {
				n.Add(1)
			}
			return streamer(ctx, desc, cc, method, opts...)
		}))
}

// seeker is a re-readable reader that records its seeks and its largest read.
type seeker struct {
	r       *bytes.Reader
	mu      sync.Mutex
	seeks   []int64 // absolute positions sought (io.SeekStart)
	maxRead int
}

func (s *seeker) Read(p []byte) (int, error) {
	s.mu.Lock()
	s.maxRead = max(s.maxRead, len(p))
	s.mu.Unlock()
	return s.r.Read(p)
}

func (s *seeker) Seek(offset int64, whence int) (int64, error) {
	if whence == io.SeekStart {
		s.mu.Lock()
		s.seeks = append(s.seeks, offset)
		s.mu.Unlock()
	}
	return s.r.Seek(offset, whence)
}

// A re-readable reader (an io.ReadSeeker) larger than the default 32 MiB window goes in one
// WriteUpload stream, from 0 with finish_write (which the service hashes on the way), read as
// it is sent rather than held a window at a time.
func TestSeekableUploadGoesInOneStream(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	var streams atomic.Int64
	c := dial(t, addr, writeStreams(&streams))
	newUser(t, ctx, c)

	content := randomBytes(t, 40<<20)
	sum := sha256.Sum256(content)
	r := &seeker{r: bytes.NewReader(content)}
	var sent int64
	f, err := c.Upload(ctx, r, filemesh.UploadOptions{
		Name: "forty.bin", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
		WriteOptions: filemesh.WriteOptions{Progress: func(s, total int64) { sent = max(sent, s) }},
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if n := streams.Load(); n != 1 {
		t.Fatalf("%d WriteUpload streams for a seekable 40 MiB reader, want 1", n)
	}
	if r.maxRead > 256<<10 {
		t.Fatalf("read %d bytes at once: a window was buffered, not one message at a time", r.maxRead)
	}
	if sent != int64(len(content)) {
		t.Fatalf("progress ended at %d", sent)
	}
	// The server checked the declared SHA-256 against what it received before committing.
	if f.GetSizeBytes() != int64(len(content)) || f.GetSha256() != hex.EncodeToString(sum[:]) ||
		f.GetState() != filev1.FileState_READY {
		t.Fatalf("file: %v", f)
	}
}

// A seekable upload cut mid-way (the proxy closes the connection after 6 MiB) resumes from the
// server's committed offset by seeking the reader there: the content does not start at the
// reader's position 0 (a 1000-byte prefix is skipped first), so a seek anywhere else sends
// other bytes and the server refuses the declared hash.
func TestSeekableUploadResumesBySeeking(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	owner := dial(t, addr)
	newUser(t, ctx, owner)

	const prefix = 1000
	all := randomBytes(t, prefix+8<<20)
	content := all[prefix:]
	proxy := startCutProxy(t, addr, 6<<20, true)
	var streams atomic.Int64
	c := dial(t, proxy.Addr, writeStreams(&streams))
	c.SetSession(owner.Session())

	r := &seeker{r: bytes.NewReader(all)}
	if _, err := r.r.Seek(prefix, io.SeekStart); err != nil { // not recorded: the caller's own
		t.Fatal(err)
	}
	f, resumedAt := uploadAcrossACut(t, ctx, c, proxy, r, "eight-seek.bin", content, nil)
	sought := false
	for _, at := range r.seeks {
		sought = sought || at == prefix+resumedAt[0]
	}
	if !sought {
		t.Fatalf("no seek to the committed offset %d (+%d): %v", resumedAt[0], prefix, r.seeks)
	}
	if n := streams.Load(); n < 2 {
		t.Fatalf("%d WriteUpload streams, want the cut one and a resumed one", n)
	}
	if r.maxRead > 32<<10 {
		t.Fatalf("read %d bytes at once: a window was buffered", r.maxRead)
	}
	checkStored(t, ctx, owner, f, content)
}

// A plain io.Reader (no Seek) keeps going in windows of whole parts, one stream each, its
// window buffer reused from one to the next.
func TestPlainReaderGoesInWindows(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	var streams atomic.Int64
	c := dial(t, addr, writeStreams(&streams))
	newUser(t, ctx, c)

	// The part size is the mesh's (256 KiB under npm test): a window of one part, 3.5 parts.
	probe, err := c.Files.CreateUpload(ctx, &filev1.CreateUploadRequest{
		Name: "probe.bin", SizeBytes: 1, Method: filev1.UploadMethod_UPLOAD_METHOD_STREAM,
	})
	if err != nil {
		t.Fatalf("create upload: %v", err)
	}
	part := probe.GetUpload().GetPartSizeBytes()
	if _, err := c.Files.CancelUpload(ctx, &filev1.CancelUploadRequest{UploadId: probe.GetUpload().GetId()}); err != nil {
		t.Fatalf("cancel upload: %v", err)
	}
	content := randomBytes(t, int(3*part+part/2))
	sum := sha256.Sum256(content)
	res, err := c.Files.CreateUpload(ctx, &filev1.CreateUploadRequest{
		Name: "windows.bin", SizeBytes: int64(len(content)), Sha256: hex.EncodeToString(sum[:]),
		Method: filev1.UploadMethod_UPLOAD_METHOD_STREAM,
	})
	if err != nil {
		t.Fatalf("create upload: %v", err)
	}
	f, err := c.WriteUpload(ctx, res.GetUpload(), io.MultiReader(bytes.NewReader(content)),
		filemesh.WriteOptions{Window: part})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if n := streams.Load(); n != 4 {
		t.Fatalf("%d WriteUpload streams for 3.5 windows of a plain reader, want 4", n)
	}
	if f.GetSha256() != hex.EncodeToString(sum[:]) || f.GetState() != filev1.FileState_READY {
		t.Fatalf("file: %v", f)
	}
}

// failingSeeker is a re-readable reader whose reads fail once `after` bytes were read.
type failingSeeker struct {
	*bytes.Reader
	after int64
	err   error
}

func (f *failingSeeker) Read(p []byte) (int, error) {
	at, _ := f.Seek(0, io.SeekCurrent)
	if at >= f.after {
		return 0, f.err
	}
	return f.Reader.Read(p[:min(int64(len(p)), f.after-at)])
}

// A failing reader is the caller's error, returned as is: the stream is cancelled unfinished
// (nothing is committed) and not retried, even when the reader's error looks like a broken
// stream (a reader that is itself a download may fail with UNAVAILABLE).
func TestSeekableReaderFailureIsNotRetried(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	var streams atomic.Int64
	c := dial(t, addr, writeStreams(&streams))
	newUser(t, ctx, c)

	content := randomBytes(t, 2<<20)
	res, err := c.Files.CreateUpload(ctx, &filev1.CreateUploadRequest{
		Name: "broken-disk.bin", SizeBytes: int64(len(content)), Method: filev1.UploadMethod_UPLOAD_METHOD_STREAM,
	})
	if err != nil {
		t.Fatalf("create upload: %v", err)
	}
	diskError := status.Error(codes.Unavailable, "the reader's own source went away")
	r := &failingSeeker{Reader: bytes.NewReader(content), after: 1 << 20, err: diskError}
	_, err = c.WriteUpload(ctx, res.GetUpload(), r, filemesh.WriteOptions{
		OnResume: func(offset int64, cause error) { t.Errorf("resumed at %d after %v", offset, cause) },
	})
	if !errors.Is(err, diskError) {
		t.Fatalf("upload with a failing reader: %v", err)
	}
	if n := streams.Load(); n != 1 {
		t.Fatalf("%d WriteUpload streams, want 1", n)
	}
	up, err := c.Files.GetUpload(ctx, &filev1.GetUploadRequest{UploadId: res.GetUpload().GetId()})
	if err != nil {
		t.Fatalf("get upload: %v", err)
	}
	if up.GetUpload().GetState() == filev1.UploadState_UPLOAD_STATE_COMPLETED {
		t.Fatal("the upload was committed")
	}
}
