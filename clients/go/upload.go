package filemesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
)

// UploadOptions describe a file to upload and how.
type UploadOptions struct {
	ParentID string // "" means the caller's home folder
	Name     string
	Size     int64  // required: the server reserves quota for it and checks it
	SHA256   string // optional hex; checked by the server before the file is visible
	// RequestID makes CreateUpload idempotent (default: random).
	RequestID string
	WriteOptions
}

// WriteOptions tune WriteUpload.
type WriteOptions struct {
	// Bytes per message (default 256 KiB).
	ChunkSize int
	// Only for a reader that cannot be re-read (see WriteUpload): bytes sent per stream before
	// the server confirms what it stored (default 32 MiB, at least one part). This is also the
	// memory held to replay after a broken stream, since such a reader cannot rewind. A
	// re-readable reader goes in one stream whatever the window.
	Window int64
	// Consecutive failed attempts before giving up (default 5).
	MaxRetries int
	// Progress is called as bytes are sent; after a resume `sent` restarts at the offset.
	Progress func(sent, total int64)
	// OnResume is called before a retry, with the server's committed offset and the cause.
	OnResume func(offset int64, cause error)
}

// rereadable is r as a reader that can be read again from its position pos: an io.ReadSeeker
// whose Seek(0, io.SeekCurrent) works (a file that cannot seek, a pipe or a terminal, fails it).
func rereadable(r io.Reader) (s io.ReadSeeker, pos int64, ok bool) {
	s, ok = r.(io.ReadSeeker)
	if !ok {
		return nil, 0, false
	}
	pos, err := s.Seek(0, io.SeekCurrent)
	return s, pos, err == nil
}

// newRequestID is a random idempotency key, for a call the caller gave none.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Upload creates a streaming upload session and writes r (exactly opts.Size bytes) to it
// (see WriteUpload: give an io.ReadSeeker, such as an *os.File, to send it in one stream).
func (c *Client) Upload(ctx context.Context, r io.Reader, opts UploadOptions) (*filev1.File, error) {
	if opts.RequestID == "" {
		opts.RequestID = newRequestID()
	}
	res, err := c.Files.CreateUpload(ctx, &filev1.CreateUploadRequest{
		ParentId: opts.ParentID, Name: opts.Name, SizeBytes: opts.Size, Sha256: opts.SHA256,
		Method: filev1.UploadMethod_UPLOAD_METHOD_STREAM, RequestId: opts.RequestID,
	})
	if err != nil {
		return nil, err
	}
	return c.WriteUpload(ctx, res.GetUpload(), r, opts.WriteOptions)
}

// WriteUpload writes the rest of a STREAM upload session: r's first byte is the byte at
// u.CommittedSizeBytes (0 for a new session; after GetUpload, the reader positioned there).
// The file is committed with finish_write at the end.
//
// A re-readable r, an io.ReadSeeker whose Seek(0, io.SeekCurrent) succeeds (an *os.File on a
// regular file, a *bytes.Reader, an *io.SectionReader, which also wraps an io.ReaderAt), is
// sent in one stream as it is read, one message in memory; a broken stream is resumed from
// the offset the server reports (GetUpload) by seeking r back there, so r must give the same
// bytes again. Any other reader is sent in windows of whole parts (WriteOptions.Window), one
// stream each, the window held in memory to replay the bytes the server had not stored.
func (c *Client) WriteUpload(ctx context.Context, u *filev1.Upload, r io.Reader, o WriteOptions) (*filev1.File, error) {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 256 << 10
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	w := &writer{c: c, id: u.GetId(), size: u.GetSizeBytes(), committed: u.GetCommittedSizeBytes(), o: o}
	var src source
	if s, pos, ok := rereadable(r); ok {
		src = &seekSource{r: s, size: w.size, start: w.committed, pos: pos}
	}
	if src == nil {
		part := u.GetPartSizeBytes()
		if part <= 0 {
			part = 8 << 20
		}
		if o.Window <= 0 {
			o.Window = 32 << 20
		}
		window := max(o.Window/part*part, part) // whole parts: the server stores whole parts
		src = &windowSource{r: r, size: w.size, window: window, start: w.committed}
	}
	rt := retrier{max: o.MaxRetries}
	for {
		end, err := src.load(w.committed)
		if err != nil {
			return nil, err
		}
		res, err := w.attempt(ctx, src, end, end == w.size)
		if rerr := (*readError)(nil); errors.As(err, &rerr) {
			return nil, rerr.err // the reader failed, not the stream: nothing to retry
		}
		if err == nil {
			if res.GetFile() != nil {
				return res.GetFile(), nil
			}
			if res.GetCommittedSizeBytes() <= w.committed {
				return nil, errNoProgress
			}
			w.committed = res.GetCommittedSizeBytes()
			rt.progressed()
			continue
		}
		retry, refresh := rt.again(ctx, err)
		if !retry {
			return nil, err
		}
		if refresh {
			if _, rerr := c.Refresh(ctx); rerr != nil {
				return nil, err
			}
		}
		up, gerr := c.Files.GetUpload(ctx, &filev1.GetUploadRequest{UploadId: w.id})
		if gerr != nil {
			if retry, _ := rt.again(ctx, gerr); retry {
				continue // try the same range again; a wrong offset resyncs next time
			}
			return nil, gerr
		}
		if up.GetUpload().GetState() == filev1.UploadState_UPLOAD_STATE_COMPLETED {
			// The commit went through but its answer was lost.
			f, ferr := c.Files.GetFile(ctx, &filev1.GetFileRequest{FileId: up.GetUpload().GetFileId()})
			if ferr != nil {
				return nil, ferr
			}
			return f.GetFile(), nil
		}
		if n := up.GetUpload().GetCommittedSizeBytes(); n > w.committed {
			w.committed = n
			rt.progressed()
		}
		if o.OnResume != nil {
			o.OnResume(w.committed, err)
		}
	}
}

// writer is one upload's progress.
type writer struct {
	c               *Client
	id              string
	size, committed int64
	o               WriteOptions
}

// attempt sends [committed, end) from src on one WriteUpload stream, finishing the file if
// last.
func (w *writer) attempt(ctx context.Context, src source, end int64, last bool) (*filev1.WriteUploadResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // after a reader failure this cancels the stream, unfinished: no commit
	stream, err := w.c.Files.WriteUpload(ctx)
	if err != nil {
		return nil, err
	}
	off := w.committed
	first := true
	for first || off < end {
		n := min(int64(w.o.ChunkSize), end-off)
		data, err := src.next(off, int(n))
		if err != nil {
			return nil, err
		}
		msg := &filev1.WriteUploadRequest{Data: data, FinishWrite: last && off+n == end}
		if first {
			msg.UploadId, msg.WriteOffset = w.id, w.committed
			first = false
		}
		if err := stream.Send(msg); err != nil {
			if errors.Is(err, io.EOF) { // the stream ended; its status says why
				_, err = stream.CloseAndRecv()
			}
			return nil, err
		}
		off += n
		if w.o.Progress != nil {
			w.o.Progress(off, w.size)
		}
	}
	return stream.CloseAndRecv()
}

// source gives the bytes of each stream attempt.
type source interface {
	// load prepares an attempt from the server's committed offset and says where its stream
	// ends (the end of the file, or of a window).
	load(committed int64) (end int64, err error)
	// next gives the n bytes at off, right after the attempt's previous ones. They stay valid
	// until the next call. A failure of the caller's reader is a *readError.
	next(off int64, n int) ([]byte, error)
}

// readError is a failure of the caller's reader (never retried), not of the stream.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// readFull fills b from r; a reader that ends early is short of the declared size.
func readFull(r io.Reader, b []byte, size int64) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("filemesh: the reader ended before the declared %d bytes", size)
		}
		return err
	}
	return nil
}

// seekSource reads a re-readable reader while it sends, all of the rest in one stream, and
// seeks back to resume: upload offset x is at reader position pos + x - start.
type seekSource struct {
	r                io.ReadSeeker
	size, start, pos int64
	buf              []byte // one message, reused
}

func (s *seekSource) load(committed int64) (int64, error) {
	if _, err := s.r.Seek(s.pos+committed-s.start, io.SeekStart); err != nil {
		return 0, fmt.Errorf("filemesh: seeking the reader to offset %d: %w", committed, err)
	}
	return s.size, nil
}

func (s *seekSource) next(_ int64, n int) ([]byte, error) {
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	// Reused: Send has encoded (copied) the previous message before it returned; only a stats
	// handler or trace that keeps messages would see their bytes change.
	b := s.buf[:n]
	if err := readFull(s.r, b, s.size); err != nil {
		return nil, &readError{err}
	}
	return b, nil
}

// windowSource holds the bytes [start, start+len(buf)) read from a plain reader and not yet
// confirmed stored, to replay them after a broken stream.
type windowSource struct {
	r                   io.Reader
	size, window, start int64
	buf                 []byte // allocated once (a window at most), then reused
}

// load drops what the server stored and reads from r up to the end of the next window.
func (w *windowSource) load(committed int64) (int64, error) {
	end := min(committed+w.window, w.size)
	if drop := committed - w.start; drop > 0 {
		w.buf = w.buf[:copy(w.buf, w.buf[drop:])]
		w.start = committed
	}
	have := int64(len(w.buf))
	need := end - w.start - have
	if need <= 0 {
		return end, nil
	}
	if int64(cap(w.buf)) < have+need {
		// Once: every later window starts at the committed offset and fits in it.
		b := make([]byte, have, min(w.window, w.size-w.start))
		copy(b, w.buf)
		w.buf = b
	}
	w.buf = w.buf[:have+need] // not zeroed: the reader overwrites it all
	if err := readFull(w.r, w.buf[have:], w.size); err != nil {
		return 0, err
	}
	return end, nil
}

func (w *windowSource) next(off int64, n int) ([]byte, error) {
	return w.buf[off-w.start : off-w.start+int64(n)], nil
}
