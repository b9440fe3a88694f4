package filemesh

import (
	"context"
	"sync"
	"time"

	authv1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/auth/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Session is what a login gives: the tokens and who they belong to.
type Session struct {
	AccessToken  string
	RefreshToken string
	// Expiry of the access token (zero: unknown, never refreshed ahead of time).
	Expiry    time.Time
	SessionID string
	UserID    string
}

// Methods that never carry the bearer token: they create or renew it.
var tokenless = map[string]bool{
	authv1.AuthService_Register_FullMethodName: true,
	authv1.AuthService_Login_FullMethodName:    true,
	authv1.AuthService_Refresh_FullMethodName:  true,
	authv1.AuthService_GetJwks_FullMethodName:  true,
}

// tokens holds the session. Its mutex also makes refreshes single-flight: a refresh token is
// single use, and a second concurrent refresh with it would look like a replay and end the
// whole session family.
type tokens struct {
	mu     sync.Mutex
	s      *Session
	auth   authv1.AuthServiceClient
	margin time.Duration
	now    func() time.Time
}

// Register creates an account (it does not log in).
func (c *Client) Register(ctx context.Context, email, password, displayName string) (*authv1.Account, error) {
	res, err := c.Auth.Register(ctx, &authv1.RegisterRequest{Email: email, Password: password, DisplayName: displayName})
	if err != nil {
		return nil, err
	}
	return res.GetUser(), nil
}

// Login logs in and keeps the session for every later call.
func (c *Client) Login(ctx context.Context, email, password string) (Session, error) {
	res, err := c.Auth.Login(ctx, &authv1.LoginRequest{Email: email, Password: password})
	if err != nil {
		return Session{}, err
	}
	s := Session{
		AccessToken: res.GetAccessToken(), RefreshToken: res.GetRefreshToken(),
		Expiry:    c.tokens.now().Add(time.Duration(res.GetExpiresIn()) * time.Second),
		SessionID: res.GetSessionId(), UserID: res.GetUserId(),
	}
	c.SetSession(s)
	return s, nil
}

// Refresh rotates the tokens now (calls refresh by themselves when needed).
func (c *Client) Refresh(ctx context.Context) (Session, error) {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if err := c.tokens.refreshLocked(ctx); err != nil {
		return Session{}, err
	}
	return *c.tokens.s, nil
}

// Logout ends the session on the server and forgets it here.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Auth.Logout(ctx, &authv1.LogoutRequest{})
	c.SetSession(Session{})
	return err
}

// Session is the current session (zero when logged out).
func (c *Client) Session() Session {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if c.tokens.s == nil {
		return Session{}
	}
	return *c.tokens.s
}

// SetSession uses a session obtained elsewhere (a zero Session logs out locally).
func (c *Client) SetSession(s Session) {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if s.AccessToken == "" {
		c.tokens.s = nil
		return
	}
	c.tokens.s = &s
}

func (t *tokens) refreshLocked(ctx context.Context) error {
	if t.s == nil || t.s.RefreshToken == "" {
		return status.Error(codes.Unauthenticated, "filemesh: no refresh token (log in first)")
	}
	res, err := t.auth.Refresh(ctx, &authv1.RefreshRequest{RefreshToken: t.s.RefreshToken})
	if err != nil {
		return err
	}
	t.s = &Session{
		AccessToken: res.GetAccessToken(), RefreshToken: res.GetRefreshToken(),
		Expiry:    t.now().Add(time.Duration(res.GetExpiresIn()) * time.Second),
		SessionID: res.GetSessionId(), UserID: res.GetUserId(),
	}
	return nil
}

// current is the access token to send, refreshed first when it is about to expire. A failed
// early refresh keeps the old token while it is still valid.
func (t *tokens) current(ctx context.Context) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s == nil {
		return ""
	}
	if !t.s.Expiry.IsZero() && t.s.RefreshToken != "" && !t.now().Add(t.margin).Before(t.s.Expiry) {
		_ = t.refreshLocked(ctx) // on failure the call goes out with the old token and says why
	}
	return t.s.AccessToken
}

// afterReject refreshes after the server refused `used`, unless another call already did.
func (t *tokens) afterReject(ctx context.Context, used string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s == nil {
		return "", false
	}
	if t.s.AccessToken != used {
		return t.s.AccessToken, true
	}
	if t.refreshLocked(ctx) != nil {
		return "", false
	}
	return t.s.AccessToken, true
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// unary attaches the token and, after UNAUTHENTICATED, refreshes and tries once more.
func (t *tokens) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
) error {
	if tokenless[method] {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	token := t.current(ctx)
	err := invoker(withToken(ctx, token), method, req, reply, cc, opts...)
	if token == "" || status.Code(err) != codes.Unauthenticated {
		return err
	}
	fresh, ok := t.afterReject(ctx, token)
	if !ok {
		return err
	}
	return invoker(withToken(ctx, fresh), method, req, reply, cc, opts...)
}

// stream attaches the token; a stream cannot be replayed here, so Upload and ReadFile retry
// (after refreshing) themselves.
func (t *tokens) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption,
) (grpc.ClientStream, error) {
	if tokenless[method] {
		return streamer(ctx, desc, cc, method, opts...)
	}
	return streamer(withToken(ctx, t.current(ctx)), desc, cc, method, opts...)
}
