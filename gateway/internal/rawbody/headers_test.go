package rawbody

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

const goodDisposition = `attachment; filename="na_ve.txt"; filename*=UTF-8''na%C3%AFve.txt`

func TestDownloadHeadersAreAllowListedAndChecked(t *testing.T) {
	cases := []struct {
		name        string
		md          metadata.MD
		contentType string
		want        map[string]string // "" = absent
	}{
		{
			name:        "a well-formed download",
			md:          metadata.Pairs(dispositionKey, goodDisposition, lengthKey, "1234", "x-content-type-options", "nosniff"),
			contentType: "image/png",
			want:        map[string]string{"Content-Type": "image/png", "Content-Disposition": goodDisposition, "Content-Length": "1234"},
		},
		{
			name: "nothing declared",
			md:   metadata.MD{},
			want: map[string]string{"Content-Type": "application/octet-stream", "Content-Disposition": "attachment", "Content-Length": ""},
		},
		{
			name:        "CR/LF and control characters never pass",
			md:          metadata.Pairs(dispositionKey, "attachment; filename=\"a\"\r\nSet-Cookie: s=1", lengthKey, "5\r\nX-Evil: 1"),
			contentType: "text/plain\r\nSet-Cookie: s=1",
			want:        map[string]string{"Content-Type": "application/octet-stream", "Content-Disposition": "attachment", "Content-Length": "", "Set-Cookie": ""},
		},
		{
			name:        "non-ASCII bytes, tabs and NUL",
			md:          metadata.Pairs(dispositionKey, "attachment; filename=\"naïve.txt\"", lengthKey, "1\x00"),
			contentType: "text/plain;\tcharset=utf-8",
			want:        map[string]string{"Content-Type": "application/octet-stream", "Content-Disposition": "attachment", "Content-Length": ""},
		},
		{
			name:        "inline or malformed dispositions become a bare attachment",
			md:          metadata.Pairs(dispositionKey, `inline; filename="x.html"`),
			contentType: "not a media type",
			want:        map[string]string{"Content-Type": "application/octet-stream", "Content-Disposition": "attachment"},
		},
		{
			name: "unterminated quotes",
			md:   metadata.Pairs(dispositionKey, `attachment; filename="x`),
			want: map[string]string{"Content-Disposition": "attachment"},
		},
		{
			name: "two values of one header are ambiguous: neither is used",
			md:   metadata.MD{dispositionKey: {goodDisposition, "attachment; filename=b"}, lengthKey: {"1", "2"}},
			want: map[string]string{"Content-Disposition": "attachment", "Content-Length": ""},
		},
		{
			name: "lengths that are not plain decimal",
			md:   metadata.Pairs(lengthKey, "-1"),
			want: map[string]string{"Content-Length": ""},
		},
		{
			name: "lengths past int64",
			md:   metadata.Pairs(lengthKey, strings.Repeat("9", 30)),
			want: map[string]string{"Content-Length": ""},
		},
		{
			name: "an empty file",
			md:   metadata.Pairs(lengthKey, "0"),
			want: map[string]string{"Content-Length": "0"},
		},
		{
			name: "other service metadata stays out",
			md:   metadata.Pairs("set-cookie", "s=1", "location", "https://evil.example", "content-security-policy", "none", "x-custom", "1"),
			want: map[string]string{"Set-Cookie": "", "Location": "", "Content-Security-Policy": "", "X-Custom": ""},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			n := setDownloadHeaders(h, c.md, c.contentType)
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			for k, want := range c.want {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			wantLen := int64(-1)
			if v := c.want["Content-Length"]; v != "" {
				wantLen, _ = strconv.ParseInt(v, 10, 64)
			}
			if n != wantLen {
				t.Errorf("declared length %d, want %d", n, wantLen)
			}
			for k, vs := range h {
				for _, v := range vs {
					if !printable(v) {
						t.Errorf("%s: %q is not printable ASCII", k, v)
					}
				}
			}
		})
	}
}
