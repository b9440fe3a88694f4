// Package filemesh is a thin Go client for filemesh's native gRPC API.
//
// The generated stubs live in the pb/ packages (authv1, userv1, permissionv1, filev1, …) and
// are exposed as fields of Client, so every RPC is one call away. The wrapper adds what raw
// stubs make tedious: dialing with TLS or plaintext, a bearer token attached to every call
// and refreshed before it expires (and once after an UNAUTHENTICATED answer), resumable
// uploads from an io.Reader, resumable ranged downloads into an io.Writer, and the
// google.rpc.ErrorInfo reason of an error (Reason).
package filemesh

import (
	"crypto/tls"
	"net/http"
	"time"

	authv1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/auth/v1"
	filev1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/file/v1"
	permissionv1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/permission/v1"
	userv1 "github.com/filemesh/filemesh/clients/go/pb/filemesh/user/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Client is one connection to a gateway (the local gateway or Envoy), which routes every
// service; it is safe for concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	tokens *tokens
	data   dataPlane

	Auth        authv1.AuthServiceClient
	Users       userv1.UserServiceClient
	Permissions permissionv1.PermissionServiceClient
	Files       filev1.FileServiceClient
}

type config struct {
	tls           *tls.Config
	plaintext     bool
	refreshMargin time.Duration
	dialOptions   []grpc.DialOption
	httpBase      string
	httpClient    *http.Client
}

// Option configures Dial.
type Option func(*config)

// WithTLS dials with TLS using cfg (nil: the system's roots). TLS is the default.
func WithTLS(cfg *tls.Config) Option { return func(c *config) { c.tls, c.plaintext = cfg, false } }

// Plaintext dials without TLS (h2c), as the local gateway on 127.0.0.1 serves.
func Plaintext() Option { return func(c *config) { c.plaintext = true } }

// WithRefreshMargin refreshes the access token this long before it expires (default 30s).
func WithRefreshMargin(d time.Duration) Option { return func(c *config) { c.refreshMargin = d } }

// WithDialOptions adds raw grpc dial options (interceptors, keepalive, …).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOptions = append(c.dialOptions, opts...) }
}

// WithHTTPBase is where the data plane's URLs that are paths (/v1/data/{ticket}) go: the
// gateway's HTTP address, "https://files.example.com" (default: the dial target, over http://
// with Plaintext and https:// otherwise).
func WithHTTPBase(base string) Option { return func(c *config) { c.httpBase = base } }

// WithHTTPClient sends the data plane's requests (Download, Put) with hc instead of the
// client's own (HTTP/1.1 with the dial's TLS configuration, 256 KiB buffers, no compression).
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// Dial connects lazily to target ("host:port"); the first call opens the connection.
func Dial(target string, opts ...Option) (*Client, error) {
	cfg := config{refreshMargin: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	creds := insecure.NewCredentials()
	if !cfg.plaintext {
		t := cfg.tls
		if t == nil {
			t = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(t)
	}
	c := &Client{tokens: &tokens{margin: cfg.refreshMargin, now: time.Now}}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithChainUnaryInterceptor(c.tokens.unary),
		grpc.WithChainStreamInterceptor(c.tokens.stream),
	}, cfg.dialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	c.Auth = authv1.NewAuthServiceClient(conn)
	c.Users = userv1.NewUserServiceClient(conn)
	c.Permissions = permissionv1.NewPermissionServiceClient(conn)
	c.Files = filev1.NewFileServiceClient(conn)
	c.tokens.auth = c.Auth
	c.data = newDataPlane(target, cfg)
	return c, nil
}

// Conn is the underlying connection (for stubs of other services, e.g. health).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection and the data plane's idle HTTP connections.
func (c *Client) Close() error {
	c.data.client.CloseIdleConnections()
	return c.conn.Close()
}
