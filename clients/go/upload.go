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
	// Bytes sent per stream before the server confirms what it stored (default 32 MiB, at
	// least one part). This is also the memory held to replay after a broken stream, since an
	// io.Reader cannot rewind.
	Window int64
	// Consecutive failed attempts before giving up (default 5).
	MaxRetries int
	// Progress is called as bytes are sent; after a resume `sent` restarts at the offset.
	Progress func(sent, total int64)
	// OnResume is called before a retry, with the server's committed offset and the cause.
	OnResume func(offset int64, cause error)
}

// Upload creates a streaming upload session and writes r (exactly opts.Size bytes) to it.
func (c *Client) Upload(ctx context.Context, r io.Reader, opts UploadOptions) (*filev1.File, error) {
	if opts.RequestID == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		opts.RequestID = hex.EncodeToString(b)
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
// A broken stream is resumed from the offset the server reports (GetUpload), replaying the
// bytes it had not stored yet; the file is committed with finish_write at the end.
func (c *Client) WriteUpload(ctx context.Context, u *filev1.Upload, r io.Reader, o WriteOptions) (*filev1.File, error) {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 256 << 10
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	part := u.GetPartSizeBytes()
	if part <= 0 {
		part = 8 << 20
	}
	if o.Window <= 0 {
		o.Window = 32 << 20
	}
	window := max(o.Window/part*part, part) // whole parts: the server stores whole parts
	w := &writer{c: c, id: u.GetId(), size: u.GetSizeBytes(), committed: u.GetCommittedSizeBytes(), o: o}
	w.start = w.committed
	rt := retrier{max: o.MaxRetries}
	for {
		end := min(w.committed+window, w.size)
		if err := w.fill(r, end); err != nil {
			return nil, err
		}
		res, err := w.attempt(ctx, end, end == w.size)
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
				continue // try the same window again; a wrong offset resyncs next time
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

// writer holds the bytes [start, start+len(buf)) read from r and not yet confirmed stored.
type writer struct {
	c               *Client
	id              string
	size, committed int64
	start           int64
	buf             []byte
	o               WriteOptions
}

// fill drops what the server stored and reads from r up to end.
func (w *writer) fill(r io.Reader, end int64) error {
	if drop := w.committed - w.start; drop > 0 {
		w.buf = append(w.buf[:0], w.buf[drop:]...)
		w.start = w.committed
	}
	need := end - w.start - int64(len(w.buf))
	if need <= 0 {
		return nil
	}
	n := len(w.buf)
	w.buf = append(w.buf, make([]byte, need)...)
	if _, err := io.ReadFull(r, w.buf[n:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("filemesh: the reader ended before the declared %d bytes", w.size)
		}
		return err
	}
	return nil
}

// attempt sends [committed, end) on one WriteUpload stream, finishing the file if last.
func (w *writer) attempt(ctx context.Context, end int64, last bool) (*filev1.WriteUploadResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := w.c.Files.WriteUpload(ctx)
	if err != nil {
		return nil, err
	}
	off := w.committed
	first := true
	for first || off < end {
		n := min(int64(w.o.ChunkSize), end-off)
		msg := &filev1.WriteUploadRequest{Data: w.buf[off-w.start : off-w.start+n], FinishWrite: last && off+n == end}
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
