package filemesh

import (
	"context"
	"errors"
	"io"

	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
)

// ReadOptions select what ReadFile reads.
type ReadOptions struct {
	Offset int64 // first byte
	Length int64 // 0: to the end
	// VersionID reads an older version; by default the current one, pinned at the first
	// answer so a resumed read never mixes two versions.
	VersionID string
	// Consecutive failed attempts before giving up (default 5).
	MaxRetries int
	// Progress is called with the bytes written to w so far.
	Progress func(written int64)
}

// ReadFile streams a file's content (or the range in opts) into w. A broken stream is resumed
// from the next byte not yet written. It returns the file's metadata and the bytes written.
func (c *Client) ReadFile(ctx context.Context, fileID string, w io.Writer, o ReadOptions) (*filev1.File, int64, error) {
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	var (
		file    *filev1.File
		written int64
	)
	rt := retrier{max: o.MaxRetries}
	for {
		req := &filev1.ReadFileRequest{FileId: fileID, Offset: o.Offset + written, VersionId: o.VersionID}
		if o.Length > 0 {
			req.Length = o.Length - written
		}
		before := written
		err := c.readOnce(ctx, req, w, &o, &file, &written)
		// A clean end (status OK) means the range is complete; a cut stream ends with an error.
		if err == nil || (o.Length > 0 && written == o.Length) {
			return file, written, nil
		}
		if written > before {
			rt.progressed()
		}
		var werr writeError
		if errors.As(err, &werr) {
			return file, written, werr.error
		}
		retry, refresh := rt.again(ctx, err)
		if !retry {
			return file, written, err
		}
		if refresh {
			if _, rerr := c.Refresh(ctx); rerr != nil {
				return file, written, err
			}
		}
	}
}

// writeError is the writer's own failure, which no retry can fix.
type writeError struct{ error }

func (c *Client) readOnce(ctx context.Context, req *filev1.ReadFileRequest, w io.Writer, o *ReadOptions,
	file **filev1.File, written *int64,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Files.ReadFile(ctx, req)
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if f := msg.GetFile(); f != nil {
			if *file == nil {
				*file = f
				if o.VersionID == "" {
					o.VersionID = f.GetCurrentVersionId()
				}
			}
			continue
		}
		data := msg.GetData()
		if len(data) == 0 {
			continue
		}
		if _, err := w.Write(data); err != nil {
			return writeError{err}
		}
		*written += int64(len(data))
		if o.Progress != nil {
			o.Progress(*written)
		}
	}
}
