// Package config builds the gateway's typed configuration once, from the environment.
// Load reports every invalid variable at once, so a bad deployment fails at start with
// the whole list rather than one problem per restart.
package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Services are the upstream services, by the <svc> of their proto package filemesh.<svc>.v1,
// with the default base port of each (docs/architecture.md §8).
var Services = []struct {
	Name string
	Env  string
	Port int
}{
	{"auth", "AUTH_ADDRS", 50051},
	{"user", "USER_ADDRS", 50052},
	{"permission", "PERMISSION_ADDRS", 50053},
	{"file", "FILE_ADDRS", 50054},
	{"processor", "PROCESSOR_ADDRS", 50055},
}

// Config is the gateway's whole configuration.
type Config struct {
	Host            string
	Port            int
	DescriptorPath  string
	OpenAPIPath     string              // the OpenAPI document served at /openapi.json
	DocsDir         string              // Swagger UI assets served under /docs/
	ConsoleDir      string              // the built web console served at / (console/dist)
	Upstreams       map[string][]string // service name → replica host:port list
	FileHTTP        []string            // the file service's HTTP listeners (tus at /v1/tus/)
	MaxBodyBytes    int64               // JSON request bodies
	MaxUploadBytes  int64               // raw google.api.HttpBody request bodies
	CORSOrigins     []string            // "*" allows any origin; empty allows none
	UpstreamTimeout time.Duration       // unary calls; 0 = only the caller's deadline
	// BlobDir: the fs driver's BLOB_DIR when the gateway shares the disk with the file
	// service; downloads are then served straight from it (sendfile) after the ticket call.
	BlobDir string
	// DataPlane off: raw downloads stream over gRPC as before (GATEWAY_DATA_PLANE=off).
	DataPlane bool
}

// Addr is the listen address.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Error lists every problem found in the environment.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Load reads the configuration through getenv (os.Getenv in main, a map in tests).
func Load(getenv func(string) string) (Config, error) {
	p := &parser{getenv: getenv}
	cfg := Config{
		Host:            p.str("GATEWAY_HOST", "127.0.0.1"),
		Port:            int(p.integer("GATEWAY_PORT", 8080, 0, 65535)),
		DescriptorPath:  p.str("DESCRIPTOR_PATH", "gen/filemesh.binpb"),
		OpenAPIPath:     p.str("OPENAPI_PATH", "gen/openapi.json"),
		DocsDir:         p.str("DOCS_DIR", "gen/docs"),
		ConsoleDir:      p.str("CONSOLE_DIR", "console/dist"),
		MaxBodyBytes:    p.size("GATEWAY_MAX_BODY_BYTES", 1<<20),
		MaxUploadBytes:  p.size("GATEWAY_MAX_UPLOAD_BYTES", 5<<30),
		CORSOrigins:     p.origins("CORS_ALLOWED_ORIGINS"),
		UpstreamTimeout: p.duration("GATEWAY_UPSTREAM_TIMEOUT", 30*time.Second),
		Upstreams:       map[string][]string{},
		FileHTTP:        p.addrs("FILE_HTTP_ADDRS", "127.0.0.1:52054"),
	}
	for _, s := range Services {
		cfg.Upstreams[s.Name] = p.addrs(s.Env, fmt.Sprintf("127.0.0.1:%d", s.Port))
	}
	cfg.BlobDir = p.str("GATEWAY_BLOB_DIR", "")
	switch v := p.str("GATEWAY_DATA_PLANE", "on"); v {
	case "on":
		cfg.DataPlane = true
	case "off":
	default:
		p.fail("GATEWAY_DATA_PLANE", `must be "on" or "off", got %q`, v)
	}
	if len(p.problems) > 0 {
		return Config{}, &Error{Problems: p.problems}
	}
	return cfg, nil
}

type parser struct {
	getenv   func(string) string
	problems []string
}

func (p *parser) fail(env, format string, args ...any) {
	p.problems = append(p.problems, env+" "+fmt.Sprintf(format, args...))
}

func (p *parser) raw(env string) (string, bool) {
	v := strings.TrimSpace(p.getenv(env))
	return v, v != ""
}

func (p *parser) str(env, def string) string {
	if v, ok := p.raw(env); ok {
		return v
	}
	return def
}

func (p *parser) integer(env string, def, lo, hi int64) int64 {
	v, ok := p.raw(env)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(env, "must be an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

var sizeRe = regexp.MustCompile(`^(\d+)\s*(|B|KiB|MiB|GiB)$`)

// size accepts a byte count, optionally with a KiB, MiB or GiB suffix.
func (p *parser) size(env string, def int64) int64 {
	v, ok := p.raw(env)
	if !ok {
		return def
	}
	m := sizeRe.FindStringSubmatch(v)
	if m == nil {
		p.fail(env, "must be a positive byte count like 1048576, 512KiB, 1MiB or 5GiB, got %q", v)
		return def
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	mult := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2]]
	if err != nil || n <= 0 || n > (1<<62)/mult {
		p.fail(env, "must be a positive byte count below 4 EiB, got %q", v)
		return def
	}
	return n * mult
}

var durationRe = regexp.MustCompile(`^(\d+)(ms|s|m|h)$`)

// duration accepts the services' format ("500ms", "30s", "15m", "2h"); "0" disables.
func (p *parser) duration(env string, def time.Duration) time.Duration {
	v, ok := p.raw(env)
	if !ok {
		return def
	}
	if v == "0" {
		return 0
	}
	m := durationRe.FindStringSubmatch(v)
	if m == nil {
		p.fail(env, `must be a duration like "500ms", "30s", "15m" or "2h" (or "0" for none), got %q`, v)
		return def
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}[m[2]]
	return time.Duration(n) * unit
}

func (p *parser) addrs(env, def string) []string {
	v, ok := p.raw(env)
	if !ok {
		return []string{def}
	}
	var out []string
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		host, port, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			p.fail(env, "must be a comma-separated list of host:port, got %q", a)
			continue
		}
		out = append(out, a)
	}
	return out
}

func (p *parser) origins(env string) []string {
	v, ok := p.raw(env)
	if !ok {
		return nil
	}
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		switch {
		case o == "":
			continue
		case o == "*" || strings.HasPrefix(o, "http://") || strings.HasPrefix(o, "https://"):
			out = append(out, o)
		default:
			p.fail(env, `entries must be "*" or origins like https://app.example.com, got %q`, o)
		}
	}
	return out
}
