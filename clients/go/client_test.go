package filemesh_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	filemesh "github.com/filemesh/filemesh/clients/go"
	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	permissionv1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/permission/v1"
	userv1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/user/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRegisterLoginRefresh(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	c := dial(t, addr)
	s := newUser(t, ctx, c)
	if s.AccessToken == "" || s.RefreshToken == "" || s.UserID == "" || !s.Expiry.After(time.Now()) {
		t.Fatalf("login gave an incomplete session: %+v", s)
	}
	me, err := c.Users.GetMe(ctx, &userv1.GetMeRequest{})
	if err != nil || me.GetUser().GetId() != s.UserID {
		t.Fatalf("GetMe with the token: %v %v", me, err)
	}

	fresh, err := c.Refresh(ctx)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == s.RefreshToken || fresh.UserID != s.UserID {
		t.Fatalf("refresh did not rotate: %+v", fresh)
	}
	if _, err := c.Users.GetMe(ctx, &userv1.GetMeRequest{}); err != nil {
		t.Fatalf("GetMe after refresh: %v", err)
	}

	// A token about to expire is refreshed before the call goes out.
	soon := fresh
	soon.Expiry = time.Now().Add(time.Second) // within the 30 s margin
	c.SetSession(soon)
	if _, err := c.Users.GetMe(ctx, &userv1.GetMeRequest{}); err != nil {
		t.Fatalf("GetMe with an expiring token: %v", err)
	}
	if c.Session().RefreshToken == fresh.RefreshToken {
		t.Fatal("an expiring token was not refreshed ahead of the call")
	}

	// A refused token (UNAUTHENTICATED) is refreshed once and the call repeated.
	bad := c.Session()
	bad.AccessToken = "not-a-jwt"
	bad.Expiry = time.Time{}
	c.SetSession(bad)
	if _, err := c.Users.GetMe(ctx, &userv1.GetMeRequest{}); err != nil {
		t.Fatalf("GetMe after an UNAUTHENTICATED answer: %v", err)
	}
	if c.Session().AccessToken == "not-a-jwt" {
		t.Fatal("the refused token was kept")
	}
}

func TestDeniedCallsCarryTheirReason(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	anonymous := dial(t, addr)
	_, err := anonymous.Users.GetMe(ctx, &userv1.GetMeRequest{})
	if status.Code(err) != codes.Unauthenticated || filemesh.Reason(err) != "MISSING_TOKEN" {
		t.Fatalf("GetMe without a token: %v (reason %q)", err, filemesh.Reason(err))
	}
	if info := filemesh.ErrorInfo(err); info.GetDomain() == "" {
		t.Fatalf("ErrorInfo without a domain: %v", info)
	}

	owner, stranger := dial(t, addr), dial(t, addr)
	newUser(t, ctx, owner)
	newUser(t, ctx, stranger)
	f, err := owner.Upload(ctx, bytes.NewReader([]byte("private")), filemesh.UploadOptions{Name: "private.txt", Size: 7})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	// A stranger learns nothing, not even that the file exists.
	_, _, err = stranger.ReadFile(ctx, f.GetId(), &bytes.Buffer{}, filemesh.ReadOptions{})
	if status.Code(err) != codes.NotFound || filemesh.Reason(err) != "FILE_NOT_FOUND" {
		t.Fatalf("a stranger's read: %v (reason %q)", err, filemesh.Reason(err))
	}
}

func TestGrantLetsASecondUserRead(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	owner, reader := dial(t, addr), dial(t, addr)
	newUser(t, ctx, owner)
	r := newUser(t, ctx, reader)
	content := randomBytes(t, 100_000)
	f, err := owner.Upload(ctx, bytes.NewReader(content), filemesh.UploadOptions{Name: "shared.bin", Size: int64(len(content))})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	g, err := owner.Permissions.CreateGrant(ctx, &permissionv1.CreateGrantRequest{
		FileId: f.GetId(), Grant: &permissionv1.Grant{Subject: "user:" + r.UserID, Role: "viewer"},
	})
	if err != nil || g.GetGrant().GetRevision() == 0 {
		t.Fatalf("grant: %v %v", g, err)
	}
	var got bytes.Buffer
	if _, n, err := reader.ReadFile(ctx, f.GetId(), &got, filemesh.ReadOptions{}); err != nil || n != int64(len(content)) {
		t.Fatalf("the grantee's read: %d bytes, %v", n, err)
	}
	if !bytes.Equal(got.Bytes(), content) {
		t.Fatal("the grantee read other bytes")
	}
	// A viewer may read but not share: the denial names the missing permission.
	_, err = reader.Permissions.CreateGrant(ctx, &permissionv1.CreateGrantRequest{
		FileId: f.GetId(), Grant: &permissionv1.Grant{Subject: "user:" + r.UserID, Role: "owner"},
	})
	if status.Code(err) != codes.PermissionDenied || filemesh.Reason(err) != "ACCESS_DENIED" {
		t.Fatalf("a viewer's grant: %v (reason %q)", err, filemesh.Reason(err))
	}
}

func TestReadFileRange(t *testing.T) {
	addr := meshAddr(t)
	ctx := testCtx(t)
	c := dial(t, addr)
	newUser(t, ctx, c)
	content := randomBytes(t, 3<<20)
	sum := sha256.Sum256(content)
	f, err := c.Upload(ctx, bytes.NewReader(content), filemesh.UploadOptions{
		Name: "range.bin", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]),
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	var part bytes.Buffer
	meta, n, err := c.ReadFile(ctx, f.GetId(), &part, filemesh.ReadOptions{Offset: 1_000_000, Length: 123_457})
	if err != nil || n != 123_457 || meta.GetId() != f.GetId() {
		t.Fatalf("range read: %d bytes, %v", n, err)
	}
	if !bytes.Equal(part.Bytes(), content[1_000_000:1_123_457]) {
		t.Fatal("the range has other bytes")
	}
	_, _, err = c.ReadFile(ctx, f.GetId(), &part, filemesh.ReadOptions{Offset: int64(len(content)) + 1})
	if status.Code(err) != codes.OutOfRange || filemesh.Reason(err) != "OFFSET_OUT_OF_RANGE" {
		t.Fatalf("read past the end: %v", err)
	}

	// A download cut mid-way resumes from the next byte and pins the version it started on.
	proxy := startCutProxy(t, addr, 1<<20, false)
	viaProxy := dial(t, proxy.Addr)
	viaProxy.SetSession(c.Session())
	var all bytes.Buffer
	_, n, err = viaProxy.ReadFile(ctx, f.GetId(), &all, filemesh.ReadOptions{Offset: 10})
	if err != nil || n != int64(len(content))-10 || !proxy.Cut() {
		t.Fatalf("resumed read: %d bytes, cut %v, %v", n, proxy.Cut(), err)
	}
	if !bytes.Equal(all.Bytes(), content[10:]) {
		t.Fatal("the resumed read has other bytes")
	}
	if f.GetState() != filev1.FileState_READY {
		t.Fatalf("state %v", f.GetState())
	}
}
