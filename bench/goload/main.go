// Load for the file scenarios from Go, with the contract of bench/lib/file-loop.mjs (its flags,
// its seed JSON, one segment record on stdout) but the project's own Go client (clients/go)
// for the file service and minio-go for MinIO straight, so a scenario's ratio is not capped by
// what the Node client costs per MiB:
//
//	--op go-read     ReadFile of a seeded file into io.Discard ((*filemesh.Client).ReadFile)
//	     go-write    an upload of --size bytes through (*filemesh.Client).Upload: CreateUpload
//	                 STREAM, then one WriteUpload from 0 with finish_write in --chunk-byte
//	                 messages, into the user's bench folder (as file-loop's grpc-write)
//	     go-fetch    the same file over the data plane ((*filemesh.Client).Download:
//	                 CreateDownloadTicket, then one HTTP GET of its URL — with the s3 driver a
//	                 presigned URL straight to MinIO)
//	     go-put      an upload of --size bytes over the data plane ((*filemesh.Client).Put:
//	                 CreateUploadTicket, then one HTTP PUT to /v1/data/{ticket} through the
//	                 gateway at --http, stored, hashed and committed by the file service)
//	     go-parts    an upload of --size bytes as a PARTS session ((*filemesh.Client).UploadParts:
//	                 --part-bytes parts, 2 in flight, each PUT straight to MinIO by presigned
//	                 URL; CompleteUpload reads the object back to check it)
//	     go-rest-get the same file as REST, GET /v1/files/{id}/content from the gateway at --http
//	                 with the seeded user's bearer token (net/http): what a browser or curl does
//	     go-s3-get   GET of the same object straight from MinIO (minio-go Core.GetObject)
//	     go-s3-put   PUT of --size bytes straight to MinIO (minio-go PutObject: multipart in
//	                 --part-bytes parts, 2 in flight, as lib-storage's Upload in s3-put)
//
// The rest is file-loop's: --seconds (closed loop; ops still running at the end are not
// counted) or --count, --concurrency, --channels (gRPC connections), --window (the client's
// HTTP/2 receive window; 0: grpc-go's own, which grows it by BDP estimation), --cleanup (what
// the segment uploaded is deleted after it, untimed), --pids (the servers' CPU over the load
// alone). Bodies are cut from one 16 MiB random block. Connections are opened before the clock
// starts. The record carries bytes moved by answered calls and this process's CPU time.
// --http is the gateway (the data plane's paths); --root is accepted (the runner passes
// file-loop's argv) and not used.
//
//	dist/bench-goload --op go-read --seed bench/results/<stamp>/<name>.seed.json \
//	     --addr 127.0.0.1:50054 --concurrency 1 --count 1
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	filemesh "github.com/filemesh/filemesh/clients/go"
	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The seed JSON of bench/lib/seed-files.mjs.
type seedFile struct {
	ID        string `json:"id"`
	ObjectKey string `json:"objectKey"`
}

type seedUser struct {
	Token    string     `json:"token"`
	FolderID string     `json:"folderId"`
	Files    []seedFile `json:"files"`
}

type seedS3 struct {
	Endpoint        string `json:"endpoint"`
	Bucket          string `json:"bucket"`
	Region          string `json:"region"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

type seed struct {
	Users []seedUser `json:"users"`
	S3    seedS3     `json:"s3"`
}

// callTimeout is file-loop's deadline of every call.
const callTimeout = 300 * time.Second

type options struct {
	op, seedPath, addr, pids      string
	concurrency, channels, window int
	seconds                       float64
	count, size, chunk            int64
	partBytes, uploadWindow       int64
	http                          string
	cleanup                       bool
	hasSeconds, hasCount          bool
	secondsText, countText        string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.op, "op", "", "go-read | go-write | go-fetch | go-put | go-parts | go-rest-get | go-s3-get | go-s3-put")
	flag.StringVar(&o.seedPath, "seed", "", "seed JSON (bench/lib/seed-files.mjs)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:50054", "file service gRPC address")
	flag.StringVar(&o.http, "http", "", "the gateway's HTTP address: the data plane's paths (go-fetch, go-put)")
	flag.String("root", "", "accepted for file-loop's argv, not used")
	flag.IntVar(&o.concurrency, "concurrency", 16, "ops in flight")
	flag.StringVar(&o.secondsText, "seconds", "", "closed loop for S seconds")
	flag.StringVar(&o.countText, "count", "", "N ops in all")
	flag.Int64Var(&o.size, "size", 65536, "upload size in bytes")
	flag.Int64Var(&o.chunk, "chunk", 262144, "bytes per WriteUpload message")
	flag.Int64Var(&o.partBytes, "part-bytes", 8<<20, "go-s3-put's multipart part size")
	flag.IntVar(&o.channels, "channels", 1, "gRPC connections")
	flag.IntVar(&o.window, "window", 0, "HTTP/2 receive window (0: grpc-go's default)")
	flag.Int64Var(&o.uploadWindow, "upload-window", 0,
		"go-write: bytes per WriteUpload stream (the client's WriteOptions.Window, the body's Seek hidden); 0: the whole "+
			"file in one stream, as grpc-write, which the service hashes on the way")
	flag.BoolVar(&o.cleanup, "cleanup", false, "delete what the segment uploaded after it (untimed)")
	flag.StringVar(&o.pids, "pids", "", `{"file": pid, …}: serving processes whose CPU the record reports`)
	flag.Parse()
	if o.secondsText != "" {
		o.hasSeconds = true
		_, err := fmt.Sscan(o.secondsText, &o.seconds)
		must(err, "--seconds")
	}
	if o.countText != "" {
		o.hasCount = true
		_, err := fmt.Sscan(o.countText, &o.count)
		must(err, "--count")
	}
	return o
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "goload: %s: %v\n", what, err)
		os.Exit(2)
	}
}

type upload struct {
	user int
	id   string // a file (through the service)
	key  string // or an object (straight to MinIO)
}

type loader struct {
	o        options
	users    []seedUser
	clients  []*filemesh.Client
	perCall  bool // several users: each call carries its user's token in its metadata
	s3cfg    seedS3
	s3       *minio.Client
	bucket   string
	block    []byte
	tag      string
	mu       sync.Mutex
	uploaded []upload
	// go-rest-get's client: HTTP/1.1, 256 KiB buffers, as the Go client's data plane.
	httpClient *http.Client
}

// as is ctx for a call as user u. With one user its token is the clients' session (SetSession:
// the client's interceptor attaches it); with several, the clients have no session and each
// call carries its user's bearer token itself, so all users share the --channels connections
// as in file-loop.
func (l *loader) as(ctx context.Context, u int) context.Context {
	if !l.perCall {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+l.users[u].Token)
}

// fileOf is op i's seeded file: user i mod U, then that user's files in turn.
func (l *loader) fileOf(i int) (int, *seedFile) {
	u := i % len(l.users)
	files := l.users[u].Files
	if len(files) == 0 {
		return u, nil
	}
	return u, &files[(i/len(l.users))%len(files)]
}

func (l *loader) dial() error {
	opts := []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20))}
	if l.o.window > 0 {
		opts = append(opts, grpc.WithInitialWindowSize(int32(l.o.window)),
			grpc.WithInitialConnWindowSize(int32(l.o.window)))
	}
	// grpc.NewClient shares nothing between clients: one connection each.
	for range max(l.o.channels, 1) {
		c, err := filemesh.Dial(l.o.addr, filemesh.Plaintext(), filemesh.WithDialOptions(opts...),
			filemesh.WithHTTPBase(l.o.http))
		if err != nil {
			return err
		}
		if !l.perCall {
			// No expiry and no refresh token: the access token is sent as it is, never refreshed.
			c.SetSession(filemesh.Session{AccessToken: l.users[0].Token})
		}
		l.clients = append(l.clients, c)
	}
	return nil
}

func (l *loader) dialS3() error {
	s := l.s3cfg
	ep, err := url.Parse(s.Endpoint)
	if err != nil {
		return fmt.Errorf("seed s3.endpoint: %w", err)
	}
	l.s3, err = minio.New(ep.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKeyID, s.SecretAccessKey, ""),
		Secure:       ep.Scheme == "https",
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath, // forcePathStyle, as the service's s3 driver
		MaxRetries:   3,                      // attempts, as the AWS SDK's default maxAttempts
	})
	l.bucket = s.Bucket
	return err
}

// body is `size` bytes cut from the block (reused, never copied as a whole), readable in order
// (the Go client's Upload) and at any offset (minio-go's parallel multipart upload reads each
// part through an io.SectionReader, no part buffered).
type body struct {
	block []byte
	size  int64
	off   int64
}

func (b *body) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), b.size-off))
	n := 0
	for n < want {
		at := (off + int64(n)) % int64(len(b.block))
		n += copy(p[n:want], b.block[at:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Seek makes the body re-readable: the Go client's Upload then sends it in one stream and
// resumes a broken one by seeking (clients/go: no window buffered).
func (b *body) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, fmt.Errorf("seek: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek: negative position %d", offset)
	}
	b.off = offset
	return offset, nil
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadAt(p, b.off)
	b.off += int64(n)
	if n > 0 {
		return n, nil
	}
	return n, err
}

// drain reads r to its end with buf, counting the bytes.
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (l *loader) s3Get(ctx context.Context, key string) (int64, error) {
	obj, _, _, err := minio.Core{Client: l.s3}.GetObject(ctx, l.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer obj.Close()
	buf := bufs.Get().(*[]byte)
	defer bufs.Put(buf)
	return drain(obj, *buf)
}

func (l *loader) ops() map[string]func(context.Context, int) (int64, error) {
	return map[string]func(context.Context, int) (int64, error){
		"go-read": func(ctx context.Context, i int) (int64, error) {
			u, f := l.fileOf(i)
			if f == nil {
				return 0, errors.New("no seeded file")
			}
			_, n, err := l.clients[i%len(l.clients)].ReadFile(l.as(ctx, u), f.ID, io.Discard, filemesh.ReadOptions{})
			return n, err
		},
		"go-write": func(ctx context.Context, i int) (int64, error) {
			u := i % len(l.users)
			// A re-readable body goes in one stream from 0 with finish_write (the client's
			// default, as grpc-write's); with --upload-window its Seek is hidden, so the client
			// sends windows of whole parts, one stream each.
			var r io.Reader = &body{block: l.block, size: l.o.size}
			if l.o.uploadWindow > 0 {
				r = struct{ io.Reader }{r}
			}
			f, err := l.clients[i%len(l.clients)].Upload(l.as(ctx, u), r,
				filemesh.UploadOptions{
					ParentID: l.users[u].FolderID, Name: fmt.Sprintf("f-%s-%d", l.tag, i), Size: l.o.size,
					WriteOptions: filemesh.WriteOptions{ChunkSize: int(l.o.chunk), Window: l.o.uploadWindow},
				})
			return l.stored(u, f, err)
		},
		"go-fetch": func(ctx context.Context, i int) (int64, error) {
			u, f := l.fileOf(i)
			if f == nil {
				return 0, errors.New("no seeded file")
			}
			_, n, err := l.clients[i%len(l.clients)].Download(l.as(ctx, u), f.ID, io.Discard, filemesh.ReadOptions{})
			if err == nil && n != l.o.size {
				return n, fmt.Errorf("downloaded %d bytes, expected %d", n, l.o.size)
			}
			return n, err
		},
		"go-put": func(ctx context.Context, i int) (int64, error) {
			u := i % len(l.users)
			f, err := l.clients[i%len(l.clients)].Put(l.as(ctx, u), &body{block: l.block, size: l.o.size},
				filemesh.UploadOptions{ParentID: l.users[u].FolderID, Name: fmt.Sprintf("f-%s-%d", l.tag, i), Size: l.o.size})
			return l.stored(u, f, err)
		},
		"go-parts": func(ctx context.Context, i int) (int64, error) {
			u := i % len(l.users)
			f, err := l.clients[i%len(l.clients)].UploadParts(l.as(ctx, u), &body{block: l.block, size: l.o.size},
				filemesh.PartsOptions{ParentID: l.users[u].FolderID, Name: fmt.Sprintf("f-%s-%d", l.tag, i), Size: l.o.size,
					PartSize: l.o.partBytes, Parallel: 2})
			return l.stored(u, f, err)
		},
		"go-rest-get": func(ctx context.Context, i int) (int64, error) {
			u, f := l.fileOf(i)
			if f == nil {
				return 0, errors.New("no seeded file")
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.http+"/v1/files/"+url.PathEscape(f.ID)+"/content", nil)
			if err != nil {
				return 0, err
			}
			req.Header.Set("Authorization", "Bearer "+l.users[u].Token)
			res, err := l.httpClient.Do(req)
			if err != nil {
				return 0, err
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("HTTP %d", res.StatusCode)
			}
			buf := bufs.Get().(*[]byte)
			defer bufs.Put(buf)
			n, err := drain(res.Body, *buf)
			if err == nil && n != l.o.size {
				return n, fmt.Errorf("downloaded %d bytes, expected %d", n, l.o.size)
			}
			return n, err
		},
		"go-s3-get": func(ctx context.Context, i int) (int64, error) {
			_, f := l.fileOf(i)
			if f == nil {
				return 0, errors.New("no seeded file")
			}
			return l.s3Get(ctx, f.ObjectKey)
		},
		"go-s3-put": func(ctx context.Context, i int) (int64, error) {
			key := fmt.Sprintf("bench/%s/%d", l.tag, i)
			_, err := l.s3.PutObject(ctx, l.bucket, key, &body{block: l.block, size: l.o.size}, l.o.size,
				minio.PutObjectOptions{PartSize: uint64(l.o.partBytes), NumThreads: 2})
			if err != nil {
				return 0, err
			}
			l.remember(upload{key: key})
			return l.o.size, nil
		},
	}
}

// stored is an upload's outcome: its file remembered for the cleanup, its size checked.
func (l *loader) stored(u int, f *filev1.File, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	l.remember(upload{user: u, id: f.GetId()})
	if f.GetSizeBytes() != l.o.size {
		return 0, fmt.Errorf("stored %d bytes, expected %d", f.GetSizeBytes(), l.o.size)
	}
	return l.o.size, nil
}

func (l *loader) remember(u upload) {
	l.mu.Lock()
	l.uploaded = append(l.uploaded, u)
	l.mu.Unlock()
}

// codeOf names err's status as file-loop does (grpc-go's names are ghz's: "Canceled", …);
// anything that is not a gRPC status is "error".
func codeOf(err error) (code, msg string) {
	if st, ok := status.FromError(err); ok {
		return st.Code().String(), st.Message()
	}
	return "error", err.Error()
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

type record struct {
	Seconds     float64              `json:"seconds"`
	StatusCodes map[string]int       `json:"statusCodes"`
	Errors      map[string]int       `json:"errors"`
	Lat         map[string][]float64 `json:"lat"`
	Bytes       int64                `json:"bytes"`
	CPUMs       map[string]int64     `json:"cpuMs"`
}

func main() {
	o := parseFlags()
	raw, err := os.ReadFile(o.seedPath)
	must(err, "--seed")
	var sd seed
	must(json.Unmarshal(raw, &sd), "--seed")
	if len(sd.Users) == 0 {
		must(errors.New("no users"), "--seed")
	}
	l := &loader{o: o, users: sd.Users, s3cfg: sd.S3, perCall: len(sd.Users) > 1,
		httpClient: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, DisableCompression: true, ReadBufferSize: 256 << 10, WriteBufferSize: 256 << 10,
		}}}
	tag := make([]byte, 4)
	_, _ = rand.Read(tag)
	l.tag = hex.EncodeToString(tag)
	call := l.ops()[o.op]
	if call == nil {
		fmt.Fprintf(os.Stderr, "goload: unknown --op %s\n", o.op)
		os.Exit(2)
	}
	if o.op == "go-write" || o.op == "go-put" || o.op == "go-parts" || o.op == "go-s3-put" {
		l.block = make([]byte, 16<<20)
		_, _ = rand.Read(l.block)
	}
	isS3 := o.op == "go-s3-get" || o.op == "go-s3-put"
	if isS3 {
		must(l.dialS3(), "s3")
	} else {
		must(l.dial(), "dial")
	}

	// Open the connections outside the window.
	for _, c := range l.clients {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.Files.GetUsage(l.as(ctx, 0), &filev1.GetUsageRequest{})
		cancel()
		must(err, "GetUsage before the load")
	}
	if isS3 {
		key := "missing"
		if _, f := l.fileOf(0); f != nil {
			key = f.ObjectKey
		}
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		_, _ = l.s3Get(ctx, key)
		cancel()
	}

	count := int64(math.MaxInt64)
	if o.hasCount {
		count = o.count
	}
	statusCodes := map[string]int{}
	errs := map[string]int{}
	lat := map[string][]float64{}
	var bytes int64
	var mu sync.Mutex
	servers := parsePids(o.pids)
	// GOLOAD_CPUPROFILE=<prefix>: a pprof CPU profile of the timed loop in <prefix>.<op>.<pid>
	// (diagnostics: it costs CPU of its own).
	if prefix := os.Getenv("GOLOAD_CPUPROFILE"); prefix != "" {
		f, err := os.Create(fmt.Sprintf("%s.%s.%d", prefix, o.op, os.Getpid()))
		must(err, "GOLOAD_CPUPROFILE")
		must(pprof.StartCPUProfile(f), "GOLOAD_CPUPROFILE")
	}
	serversBefore := snapshot(servers)
	cpuBefore := cpuTime()
	start := time.Now()
	end := start.Add(time.Duration(o.seconds * float64(time.Second)))
	last := start
	var next atomic.Int64
	worker := func() {
		for !o.hasSeconds || time.Now().Before(end) {
			i := next.Add(1) - 1
			if i >= count {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			t := time.Now()
			got, err := call(ctx, int(i))
			done := time.Now()
			cancel()
			code := "OK"
			mu.Lock()
			if err != nil {
				var msg string
				code, msg = codeOf(err)
				errs[truncate(code+": "+msg, 300)]++
			}
			if o.hasSeconds && done.After(end) {
				mu.Unlock()
				return
			}
			if done.After(last) {
				last = done
			}
			statusCodes[code]++
			lat[code] = append(lat[code], math.Round(float64(done.Sub(t).Nanoseconds())/1e3)/1e3)
			if code == "OK" {
				bytes += got
			}
			mu.Unlock()
		}
	}
	workers := int64(max(o.concurrency, 1))
	if o.hasCount {
		workers = min(workers, count)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(worker)
	}
	wg.Wait()
	cpu := cpuTime() - cpuBefore
	serversCPU := since(serversBefore, snapshot(servers))
	pprof.StopCPUProfile()
	wall := last.Sub(start).Seconds()
	if o.hasSeconds {
		wall = o.seconds
	}

	if o.cleanup {
		l.removeUploaded()
	}
	serversCPU["client"] = cpu.Milliseconds()
	out, err := json.Marshal(record{
		Seconds: math.Round(wall*1000) / 1000, StatusCodes: statusCodes, Errors: errs, Lat: lat,
		Bytes: bytes, CPUMs: serversCPU,
	})
	must(err, "record")
	fmt.Println(string(out))
}

// removeUploaded deletes what the segment uploaded, 8 at a time: files through the file
// service (--addr) for good, objects straight from MinIO; failures are ignored.
func (l *loader) removeUploaded() {
	if len(l.clients) == 0 && len(l.uploaded) > 0 && l.uploaded[0].key == "" {
		must(l.dial(), "dial")
	}
	var k atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := k.Add(1) - 1
				if i >= int64(len(l.uploaded)) {
					return
				}
				x := l.uploaded[i]
				ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
				if x.key != "" {
					_ = l.s3.RemoveObject(ctx, l.bucket, x.key, minio.RemoveObjectOptions{})
				} else {
					_, _ = l.clients[0].Files.DeleteFile(l.as(ctx, x.user),
						&filev1.DeleteFileRequest{FileId: x.id, Permanent: true})
				}
				cancel()
			}
		})
	}
	wg.Wait()
}

// cpuTime is this process's user + system CPU time (all threads), as Node's process.cpuUsage.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
