package rawbody

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/filemesh/filemesh/gateway/internal/retrybody"
	"github.com/filemesh/filemesh/gateway/internal/rpcstatus"
)

// closedAddr is an address nothing listens on (a replica that is restarting).
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func echoServer(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write([]byte(r.Method + " " + r.URL.Path + " " + string(b)))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestDataPlaneMovesOnFromAnEndpointThatCannotBeReached(t *testing.T) {
	srv, hits := echoServer(t)
	live := strings.TrimPrefix(srv.URL, "http://")
	d := NewDataPlane([]string{closedAddr(t), live}, "", time.Second)
	for i := 0; i < 4; i++ { // every starting point of the round robin
		res, err := d.do(context.Background(), http.MethodPut, DataPrefix+"t1", retrybody.New(strings.NewReader("abc")), func(*http.Request) {})
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "PUT /v1/data/t1 abc" {
			t.Fatalf("attempt %d: got %q", i, b)
		}
	}
	if *hits != 4 {
		t.Fatalf("the live endpoint saw %d requests, want 4", *hits)
	}
}

func TestDataPlaneNeverResendsABodyItHasRead(t *testing.T) {
	// An endpoint that reads part of the body and drops the connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 8)
			_, _ = c.Read(buf)
			_ = c.Close()
		}
	}()
	srv, hits := echoServer(t)
	d := NewDataPlane([]string{l.Addr().String(), strings.TrimPrefix(srv.URL, "http://")}, "", time.Second)
	d.next.Store(uint32(len(d.Addrs) - 1)) // the next in turn is the one that drops
	body := retrybody.New(strings.NewReader(strings.Repeat("x", 1<<20)))
	if _, err := d.do(context.Background(), http.MethodPut, DataPrefix+"t2", body, func(*http.Request) {}); err == nil {
		t.Fatal("a body cut mid-way was answered")
	}
	if *hits != 0 {
		t.Fatalf("the body was sent again to another endpoint (%d requests)", *hits)
	}
}

func TestDataUnavailableCarriesRetryInfo(t *testing.T) {
	st := dataUnavailable("down")
	if rpcstatus.Reason(st) != "DATA_ENDPOINT_UNAVAILABLE" || rpcstatus.HTTPStatus(st) != http.StatusServiceUnavailable {
		t.Fatalf("got %s / %d", rpcstatus.Reason(st), rpcstatus.HTTPStatus(st))
	}
	if rpcstatus.RetryAfterSeconds(st) != 1 {
		t.Fatalf("Retry-After %d, want 1", rpcstatus.RetryAfterSeconds(st))
	}
}

func TestServeDataPassesAnUploadTicketsBodyAndAnswerOn(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.URL.Path + " " + r.Header.Get("X-Request-Id") + " " + string(b)
		w.Header().Set("Content-Type", "application/x-protobuf; messageType=google.rpc.Status")
		w.Header().Set("X-Filemesh-Status", "1")
		w.Header().Set("Set-Cookie", "not=passed")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte{0x08, 0x06})
	}))
	t.Cleanup(srv.Close)
	h := &Handler{MaxUploadBytes: 16, Data: NewDataPlane([]string{strings.TrimPrefix(srv.URL, "http://")}, "", time.Second)}

	req := httptest.NewRequest(http.MethodPut, DataPrefix+"T.S", strings.NewReader("twelve bytes"))
	req.Header.Set("X-Request-Id", "rid-1")
	rec := httptest.NewRecorder()
	h.ServeData(rec, req)
	if got != "PUT /v1/data/T.S rid-1 twelve bytes" {
		t.Fatalf("the data endpoint saw %q", got)
	}
	if rec.Code != http.StatusConflict || rec.Header().Get("X-Filemesh-Status") != "1" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/x-protobuf") ||
		rec.Header().Get("Set-Cookie") != "" || rec.Body.String() != "\x08\x06" {
		t.Fatalf("answer %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}

	got = ""
	rec = httptest.NewRecorder()
	h.ServeData(rec, httptest.NewRequest(http.MethodPost, DataPrefix+"T.S", strings.NewReader(strings.Repeat("x", 17))))
	if rec.Code != http.StatusRequestEntityTooLarge || got != "" {
		t.Fatalf("a body past the limit: %d, endpoint saw %q", rec.Code, got)
	}
	for _, m := range []string{http.MethodDelete, http.MethodPatch} {
		rec = httptest.NewRecorder()
		h.ServeData(rec, httptest.NewRequest(m, DataPrefix+"T.S", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, PUT, POST" || got != "" {
			t.Fatalf("%s: %d %v", m, rec.Code, rec.Header())
		}
	}
}

// cutReader gives data in small reads, then fails as a cut HTTP body does.
type cutReader struct {
	data []byte
	err  error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, c.err
	}
	n := copy(p[:min(len(p), 7000)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// writes records the size of each write.
type writes struct {
	bytes.Buffer
	sizes []int
}

func (w *writes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

func TestCopyLargeWritesBigChunksAndKeepsACutAnError(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640,000 bytes in 7,000-byte reads
	var w writes
	n, err := copyLarge(&w, &cutReader{data: data, err: io.EOF})
	if err != nil || n != int64(len(data)) || !bytes.Equal(w.Bytes(), data) {
		t.Fatalf("copied %d, %v", n, err)
	}
	for i, s := range w.sizes[:len(w.sizes)-1] {
		if s < 64<<10 {
			t.Fatalf("write %d has %d bytes: want at least 64 KiB but the last", i, s)
		}
	}
	var cut writes
	if _, err := copyLarge(&cut, &cutReader{data: data[:100_000], err: io.ErrUnexpectedEOF}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a cut body: %v", err)
	}
	if cut.Len() != 100_000 {
		t.Fatalf("wrote %d of the 100,000 bytes read before the cut", cut.Len())
	}
}
