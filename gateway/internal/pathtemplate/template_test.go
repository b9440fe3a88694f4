package pathtemplate

import (
	"reflect"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		tmpl, path string
		want       map[string]string // nil = no match
	}{
		{"/v1/files:upload", "/v1/files:upload", map[string]string{}},
		{"/v1/files:upload", "/v1/files", nil},
		{"/v1/files:upload", "/v1/files:download", nil},
		{"/v1/uploads/{upload_id}/parts/{part_number}", "/v1/uploads/u1/parts/3",
			map[string]string{"upload_id": "u1", "part_number": "3"}},
		{"/v1/uploads/{upload_id}/parts/{part_number}", "/v1/uploads/u1/parts", nil},
		{"/v1/uploads/{upload_id}/parts/{part_number}", "/v1/uploads//parts/3", nil},
		{"/v1/files/{file_id}/content", "/v1/files/a%20b/content", map[string]string{"file_id": "a b"}},
		{"/v1/files/{file_id}/content", "/v1/files/a/content:copy", nil},
		{"/v1/files/{file_id}/content", "/v1/files/a/b/content", nil},
		{"/v1/{name=files/*}/content", "/v1/files/x/content", map[string]string{"name": "files/x"}},
		{"/v1/blobs/{path=**}", "/v1/blobs/a/b/c", map[string]string{"path": "a/b/c"}},
		{"/v1/files/{file_id}:downloadUrl", "/v1/files/abc:downloadUrl", map[string]string{"file_id": "abc"}},
	}
	for _, c := range cases {
		tp, err := Parse(c.tmpl)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.tmpl, err)
		}
		got, ok := tp.Match(c.path)
		if c.want == nil {
			if ok {
				t.Errorf("%q matched %q with %v, want no match", c.tmpl, c.path, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q on %q = %v, %v; want %v", c.tmpl, c.path, got, ok, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"v1/x", "/v1/{x", "/v1/**/x", "/v1//x", "/v1/x:", "/v1/{=*}"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}
