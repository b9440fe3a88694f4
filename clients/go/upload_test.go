package filemesh_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	filemesh "github.com/filemesh/filemesh/clients/go"
	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
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
	sum := sha256.Sum256(content)
	proxy := startCutProxy(t, addr, 6<<20, true)
	c := dial(t, proxy.Addr)
	c.SetSession(owner.Session())

	var resumedAt []int64
	var sent int64
	// Only a plain io.Reader: the client may not seek, so it must replay from its window.
	r := io.MultiReader(bytes.NewReader(content))
	f, err := c.Upload(ctx, r, filemesh.UploadOptions{
		Name: "eight.bin", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
		WriteOptions: filemesh.WriteOptions{
			ChunkSize: 32 << 10,
			Progress:  func(s, total int64) { sent = max(sent, s) },
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
	if sent != int64(len(content)) {
		t.Fatalf("progress ended at %d", sent)
	}
	if f.GetSizeBytes() != int64(len(content)) || f.GetSha256() != hex.EncodeToString(sum[:]) ||
		f.GetState() != filev1.FileState_READY {
		t.Fatalf("file: %v", f)
	}
	var back bytes.Buffer
	if _, _, err := owner.ReadFile(ctx, f.GetId(), &back, filemesh.ReadOptions{}); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if got := sha256.Sum256(back.Bytes()); got != sum {
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
