package server

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
)

// heapPeak samples the heap's object bytes until stopped and reports the peak.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// TestRawBodiesStreamWithFlatMemory sends a 256 MiB upload and a 256 MiB download through
// the gateway (client, gateway and fake service all in this process): the heap must stay
// far below the body size, which it could not if any layer held a whole body.
func TestRawBodiesStreamWithFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	const size = 256 << 20
	const budget = 64 << 20
	var e *env
	got := make(chan received, 1)
	e = start(t, options{handlers: map[string]fu.Handler{
		uploadFilePath:  uploadSink(&e, got),
		fileContentPath: contentSource(&e, size, 0),
	}})
	want := patternSHA(size)
	runtime.GC()
	base := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(base)
	stop := heapPeak()

	req, _ := http.NewRequest("POST", e.url+"/v1/files:upload?name=big.bin", io.NopCloser(&patternReader{size: size}))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload: HTTP %d", resp.StatusCode)
	}
	if r := <-got; r.size != size || r.sha256 != want {
		t.Fatalf("upload arrived as %d bytes, sha %s", r.size, r.sha256)
	}

	resp, err = http.Get(e.url + "/v1/files/f1/content")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatalf("download: %d bytes, err %v", n, err)
	}

	peak := stop()
	growth := int64(peak) - int64(base[0].Value.Uint64())
	t.Logf("heap: base %d MiB, peak %d MiB over 2 × %d MiB bodies", base[0].Value.Uint64()>>20, peak>>20, size>>20)
	if growth > budget {
		t.Errorf("heap grew by %d MiB moving %d MiB bodies; budget %d MiB", growth>>20, size>>20, budget>>20)
	}
}
