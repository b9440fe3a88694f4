package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "127.0.0.1:8080" || c.DescriptorPath != "gen/filemesh.binpb" || c.MaxBodyBytes != 1<<20 ||
		c.MaxUploadBytes != 5<<30 || c.UpstreamTimeout != 30*time.Second || c.CORSOrigins != nil {
		t.Errorf("defaults %+v", c)
	}
	want := map[string][]string{"auth": {"127.0.0.1:50051"}, "user": {"127.0.0.1:50052"},
		"permission": {"127.0.0.1:50053"}, "file": {"127.0.0.1:50054"}, "processor": {"127.0.0.1:50055"}}
	if !reflect.DeepEqual(c.Upstreams, want) {
		t.Errorf("upstreams %v", c.Upstreams)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"GATEWAY_HOST": "0.0.0.0", "GATEWAY_PORT": "9000", "DESCRIPTOR_PATH": "/x.binpb",
		"AUTH_ADDRS":             "127.0.0.1:50051, 127.0.0.1:50061",
		"GATEWAY_MAX_BODY_BYTES": "64KiB", "GATEWAY_MAX_UPLOAD_BYTES": "1GiB",
		"CORS_ALLOWED_ORIGINS": "https://a.example, http://localhost:5173/", "GATEWAY_UPSTREAM_TIMEOUT": "1500ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "0.0.0.0:9000" || c.DescriptorPath != "/x.binpb" || c.MaxBodyBytes != 64<<10 || c.MaxUploadBytes != 1<<30 ||
		c.UpstreamTimeout != 1500*time.Millisecond ||
		!reflect.DeepEqual(c.CORSOrigins, []string{"https://a.example", "http://localhost:5173"}) ||
		!reflect.DeepEqual(c.Upstreams["auth"], []string{"127.0.0.1:50051", "127.0.0.1:50061"}) {
		t.Errorf("parsed %+v", c)
	}
	if c, _ := Load(env(map[string]string{"GATEWAY_UPSTREAM_TIMEOUT": "0"})); c.UpstreamTimeout != 0 {
		t.Errorf("0 must disable the timeout, got %v", c.UpstreamTimeout)
	}
}

func TestEveryInvalidVariableIsReported(t *testing.T) {
	_, err := Load(env(map[string]string{
		"GATEWAY_PORT": "80000", "FILE_ADDRS": "127.0.0.1:50054,nohost", "USER_ADDRS": "h:0",
		"GATEWAY_MAX_BODY_BYTES": "1MB", "GATEWAY_MAX_UPLOAD_BYTES": "0", "CORS_ALLOWED_ORIGINS": "app.example.com",
		"GATEWAY_UPSTREAM_TIMEOUT": "30",
	}))
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load = %v, want *Error", err)
	}
	for _, v := range []string{"GATEWAY_PORT", "FILE_ADDRS", "USER_ADDRS", "GATEWAY_MAX_BODY_BYTES",
		"GATEWAY_MAX_UPLOAD_BYTES", "CORS_ALLOWED_ORIGINS", "GATEWAY_UPSTREAM_TIMEOUT"} {
		if !strings.Contains(err.Error(), v+" ") {
			t.Errorf("error does not name %s:\n%v", v, err)
		}
	}
	if len(cerr.Problems) != 7 {
		t.Errorf("%d problems, want 7: %v", len(cerr.Problems), cerr.Problems)
	}
}
