package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/filemesh/filemesh/gateway/internal/config"
	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

const (
	uploadFilePath  = "/filemesh.file.v1.FileService/UploadFile"
	uploadPartPath  = "/filemesh.file.v1.FileService/UploadPart"
	fileContentPath = "/filemesh.file.v1.FileService/GetFileContent"
)

// received is what the fake UploadFile saw.
type received struct {
	parentID, name, contentType string
	size                        int64
	messages                    int
	sha256                      string
	complete                    bool // the client half-closed: the upload is whole
	err                         error
}

// uploadSink is a fake UploadFile: hashes the chunks and answers with a File.
func uploadSink(e **env, out chan<- received) fu.Handler {
	return func(_ context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
		var r received
		h := sha256.New()
		defer func() { out <- r }()
		for {
			msg := dynamicpb.NewMessage(md.Input())
			err := stream.RecvMsg(msg)
			if errors.Is(err, io.EOF) {
				r.complete = true
				break
			}
			if err != nil {
				r.err = err
				return err
			}
			body := fu.Get(msg, "body").Message()
			if r.messages == 0 {
				r.parentID, r.name = fu.String(msg, "parent_id"), fu.String(msg, "name")
				r.contentType = fu.Get(body, "content_type").String()
			}
			data := fu.Get(body, "data").Bytes()
			h.Write(data)
			r.size += int64(len(data))
			r.messages++
		}
		r.sha256 = hex.EncodeToString(h.Sum(nil))
		out := dynamicpb.NewMessage(md.Output())
		if fd := md.Output().Fields().ByName("file"); fd != nil {
			file := (*e).newMsg("filemesh.file.v1.File", map[string]any{"id": "f1", "name": r.name, "size_bytes": r.size, "sha256": r.sha256})
			out.Set(fd, protoreflect.ValueOfMessage(file))
		}
		return stream.SendMsg(out)
	}
}

// contentSource is a fake GetFileContent streaming size pattern bytes in 64 KiB chunks,
// failing with failAfter (when set) once that many bytes were sent.
func contentSource(e **env, size int64, failAfter int64) fu.Handler {
	return func(_ context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
		req := dynamicpb.NewMessage(md.Input())
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		if fu.Get(req, "file_id").String() == "missing" {
			return status.Error(codes.NotFound, "no such file")
		}
		offset := fu.Get(req, "offset").Int()
		chunk := make([]byte, 64<<10)
		for sent := offset; sent < size; {
			if failAfter > 0 && sent >= failAfter {
				return status.Error(codes.DataLoss, "blob store went away")
			}
			n := min(int64(len(chunk)), size-sent)
			fill(chunk[:n], sent)
			fields := map[string]any{"data": chunk[:n]}
			if sent == offset {
				fields["content_type"] = "text/plain"
			}
			if err := stream.SendMsg((*e).newMsg("google.api.HttpBody", fields)); err != nil {
				return err
			}
			sent += n
		}
		return nil
	}
}

// fill writes the pattern byte of each absolute offset.
func fill(b []byte, offset int64) {
	for i := range b {
		b[i] = byte((offset + int64(i)) % 251)
	}
}

// patternReader yields size pattern bytes without holding them.
type patternReader struct{ off, size int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	n := min(int64(len(b)), p.size-p.off)
	fill(b[:n], p.off)
	p.off += n
	return int(n), nil
}

func patternSHA(size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, &patternReader{size: size})
	return hex.EncodeToString(h.Sum(nil))
}

func TestRawUploadStreamsChunksAndRendersResponseBody(t *testing.T) {
	var e *env
	got := make(chan received, 1)
	e = start(t, options{handlers: map[string]fu.Handler{uploadFilePath: uploadSink(&e, got)}})
	const size = 1<<20 + 123
	req, _ := http.NewRequest("POST", e.url+"/v1/files:upload?parentId=p1&name=notes.txt", &patternReader{size: size})
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	r := <-got
	if r.parentID != "p1" || r.name != "notes.txt" || r.contentType != "text/plain" || r.size != size || !r.complete {
		t.Errorf("upstream saw %+v", r)
	}
	if r.messages < 2 {
		t.Errorf("body arrived in %d message(s), want chunks", r.messages)
	}
	if r.sha256 != patternSHA(size) {
		t.Error("content changed on the way")
	}
	var file map[string]any // response_body: "file" renders the File itself
	if err := json.Unmarshal(body, &file); err != nil || file["id"] != "f1" || file["sizeBytes"] != "1048699" {
		t.Errorf("response %s", body)
	}
}

func TestRawUploadLimitsAndBadParameters(t *testing.T) {
	var e *env
	got := make(chan received, 4)
	e = start(t, options{
		handlers: map[string]fu.Handler{uploadFilePath: uploadSink(&e, got), uploadPartPath: uploadSink(&e, got)},
		config:   func(c *config.Config) { c.MaxUploadBytes = 300 << 10 },
	})
	// Declared too large: refused before any service is called.
	resp, body := e.do("POST", "/v1/files:upload?name=a", bytes.NewReader(make([]byte, 400<<10)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || decodeStatus(t, body).reason() != "BODY_TOO_LARGE" {
		t.Fatalf("declared oversize: HTTP %d %s", resp.StatusCode, body)
	}
	if n := e.calls("file", uploadFilePath); n != 0 {
		t.Errorf("declared oversize reached the service %d times", n)
	}
	// Chunked, too large once streaming: refused, and the service sees a cancelled call.
	req, _ := http.NewRequest("POST", e.url+"/v1/files:upload?name=a", io.NopCloser(&patternReader{size: 400 << 10}))
	req.ContentLength = -1
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed oversize: HTTP %d %s", r2.StatusCode, b2)
	}
	select {
	case r := <-got:
		if r.complete || r.err == nil {
			t.Errorf("oversize upload looked complete to the service: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the service never saw the upload end")
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/v1/files:upload?bogus=1"},
		{"POST", "/v1/files:upload?body=x"},
		{"PUT", "/v1/uploads/u1/parts/abc"},
	} {
		resp, body := e.do(c.method, c.path, strings.NewReader("x"))
		if resp.StatusCode != http.StatusBadRequest || decodeStatus(t, body).reason() != "INVALID_REQUEST" {
			t.Errorf("%s %s: HTTP %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if resp, body := e.do("PUT", "/v1/uploads/u1/parts/7", strings.NewReader("part")); resp.StatusCode != 200 {
		t.Errorf("UploadPart: HTTP %d %s", resp.StatusCode, body)
	}
}

func TestRawDownload(t *testing.T) {
	var e *env
	const size = 300<<10 + 7
	e = start(t, options{handlers: map[string]fu.Handler{fileContentPath: contentSource(&e, size, 0)}})
	resp, body := e.do("GET", "/v1/files/f1/content?offset=100", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("HTTP %d %v", resp.StatusCode, resp.Header)
	}
	want := make([]byte, size-100)
	fill(want, 100)
	if !bytes.Equal(body, want) {
		t.Errorf("downloaded %d bytes, want %d pattern bytes from offset 100", len(body), len(want))
	}
	resp, body = e.do("GET", "/v1/files/missing/content", nil)
	if resp.StatusCode != http.StatusNotFound || decodeStatus(t, body).Code != int(codes.NotFound) {
		t.Errorf("missing file: HTTP %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/v1/files/f1/content?offset=x", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad offset: HTTP %d %s", resp.StatusCode, body)
	}
}

func TestRawDownloadFailingMidwayIsVisiblyTruncated(t *testing.T) {
	var e *env
	e = start(t, options{handlers: map[string]fu.Handler{fileContentPath: contentSource(&e, 1<<20, 256<<10)}})
	resp, err := http.Get(e.url + "/v1/files/f1/content")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil {
		t.Errorf("read %d bytes and a clean end; want an error after a mid-stream failure", n)
	}
}

// headerSource is a fake GetFileContent that sends the response metadata its file id names
// ("named", "short", "long", "failing") and then ten bytes.
func headerSource(e **env) fu.Handler {
	return func(_ context.Context, md protoreflect.MethodDescriptor, stream grpc.ServerStream) error {
		req := dynamicpb.NewMessage(md.Input())
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		hdr := metadata.Pairs("content-disposition", `attachment; filename="a_b.txt"; filename*=UTF-8''a%C3%AFb.txt`,
			"x-content-type-options", "nosniff", "set-cookie", "session=stolen", "location", "https://evil.example/")
		switch fu.Get(req, "file_id").String() {
		case "named":
			hdr.Set("x-content-length", "10")
		case "short":
			hdr.Set("x-content-length", "100")
		case "long":
			hdr.Set("x-content-length", "5")
		case "failing":
			_ = stream.SetHeader(hdr)
			return status.Error(codes.NotFound, "no such file")
		}
		if err := stream.SetHeader(hdr); err != nil {
			return err
		}
		return stream.SendMsg((*e).newMsg("google.api.HttpBody", map[string]any{"content_type": "image/png", "data": []byte("0123456789")}))
	}
}

func TestRawDownloadHeadersAreAllowListed(t *testing.T) {
	var e *env
	e = start(t, options{handlers: map[string]fu.Handler{fileContentPath: headerSource(&e)}})
	resp, body := e.do("GET", "/v1/files/named/content", nil)
	if resp.StatusCode != 200 || string(body) != "0123456789" {
		t.Fatalf("HTTP %d %q", resp.StatusCode, body)
	}
	want := map[string]string{
		"Content-Type":           "image/png",
		"Content-Length":         "10",
		"Content-Disposition":    `attachment; filename="a_b.txt"; filename*=UTF-8''a%C3%AFb.txt`,
		"X-Content-Type-Options": "nosniff",
		"Set-Cookie":             "",
		"Location":               "",
		"X-Content-Length":       "",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// A body shorter or longer than its declared length is aborted, not passed off as whole.
	for _, id := range []string{"short", "long"} {
		r, err := http.Get(e.url + "/v1/files/" + id + "/content")
		if err != nil {
			continue // refused outright is fine too
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err == nil {
			t.Errorf("%s: read %q (Content-Length %q) and a clean end", id, b, r.Header.Get("Content-Length"))
		}
	}
	// A failed call answers its error, without the headers of the download it did not start.
	resp, body = e.do("GET", "/v1/files/failing/content", nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Disposition") != "" ||
		resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("failed download: HTTP %d %v %s", resp.StatusCode, resp.Header, body)
	}
}
