package docs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
	"github.com/filemesh/filemesh/gateway/internal/schema"
)

func serve(h *Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil), func(w http.ResponseWriter, code int, reason, msg string) {
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"reason":%q}`, reason)
	})
	return rec
}

func TestServesDocumentAndPage(t *testing.T) {
	docPath := fu.RepoFile(t, "gen/openapi.json")
	h := Load(docPath, filepath.Dir(fu.RepoFile(t, "gen/docs/swagger-ui-bundle.js")))
	if h.Err() != nil {
		t.Fatal(h.Err())
	}
	want, _ := os.ReadFile(docPath)
	rec := serve(h, http.MethodGet, "/openapi.json")
	if rec.Code != 200 || rec.Body.String() != string(want) || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := serve(h, http.MethodGet, "/docs"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/docs/" {
		t.Fatalf("/docs: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = serve(h, http.MethodGet, "/docs/")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `src="/docs/swagger-ui-bundle.js"`) ||
		!strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("/docs/: %d %q", rec.Code, rec.Header())
	}
	for _, p := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"} {
		if rec := serve(h, http.MethodGet, p); rec.Code != 200 || rec.Body.Len() == 0 {
			t.Fatalf("%s: %d", p, rec.Code)
		}
	}
	// Nothing but the listed assets reaches the disk.
	for _, p := range []string{"/docs/../openapi.json", "/docs/index.css", "/docs/%2e%2e/filemesh.binpb", "/docs/swagger-ui-bundle.js.map"} {
		if rec := serve(h, http.MethodGet, p); rec.Code != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", p, rec.Code)
		}
	}
	if rec := serve(h, http.MethodPost, "/openapi.json"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestMatch(t *testing.T) {
	for path, want := range map[string]bool{"/openapi.json": true, "/docs": true, "/docs/": true, "/docs/init.js": true,
		"/docsx": false, "/v1/openapi.json": false, "/openapi.json/": false} {
		if Match(path) != want {
			t.Errorf("Match(%q) = %v", path, !want)
		}
	}
}

func TestMissingDocumentAnswers503(t *testing.T) {
	h := Load(filepath.Join(t.TempDir(), "none.json"), t.TempDir())
	if h.Err() == nil {
		t.Fatal("no error for a missing document")
	}
	for _, p := range []string{"/openapi.json", "/docs/"} {
		if rec := serve(h, http.MethodGet, p); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "OPENAPI_DOCUMENT_MISSING") {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// The document the gateway serves describes exactly the REST routes of the image it routes
// by: every binding of a non-internal RPC, at its path and verb, bearer unless public; no
// internal RPC.
func TestDocumentMatchesTheImage(t *testing.T) {
	s, err := schema.Load(fu.RepoFile(t, "gen/filemesh.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fu.RepoFile(t, "gen/openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{} // operationId → "VERB path"
	secured := map[string]bool{}
	for path, item := range doc.Paths {
		for verb, rawOp := range item {
			var op map[string]json.RawMessage
			if err := json.Unmarshal(rawOp, &op); err != nil {
				continue // path-level fields
			}
			var id string
			_ = json.Unmarshal(op["operationId"], &id)
			ops[id] = strings.ToUpper(verb) + " " + path
			sec, has := op["security"]
			secured[id] = !has || string(sec) != "[]"
		}
	}
	seen := 0
	for _, svc := range s.Services {
		for i := 0; i < svc.Desc.Methods().Len(); i++ {
			md := svc.Desc.Methods().Get(i)
			rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
			if rule == nil {
				continue
			}
			policy := s.PolicyOf(md)
			for j, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				id := fmt.Sprintf("%s_%s", svc.Desc.Name(), md.Name())
				if j > 0 {
					id = fmt.Sprintf("%s_%d", id, j+1)
				}
				got, ok := ops[id]
				if policy.Internal() {
					if ok {
						t.Errorf("internal RPC %s is in the document at %s", md.FullName(), got)
					}
					continue
				}
				if want := verbAndPath(b, md.Input()); got != want {
					t.Errorf("%s: document has %q, image %q", id, got, want)
				}
				if secured[id] == policy.Public {
					t.Errorf("%s: bearer security %v, but public=%v", id, secured[id], policy.Public)
				}
				seen++
			}
		}
	}
	if seen != len(ops) {
		t.Errorf("document has %d operations, image %d bindings", len(ops), seen)
	}
}

var variable = regexp.MustCompile(`\{([^}=]+)(=[^}]*)?\}`)

func verbAndPath(b *annotations.HttpRule, input protoreflect.MessageDescriptor) string {
	verb, path := "", ""
	switch p := b.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		verb, path = "GET", p.Get
	case *annotations.HttpRule_Post:
		verb, path = "POST", p.Post
	case *annotations.HttpRule_Put:
		verb, path = "PUT", p.Put
	case *annotations.HttpRule_Patch:
		verb, path = "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		verb, path = "DELETE", p.Delete
	}
	path = variable.ReplaceAllStringFunc(path, func(v string) string {
		name := variable.FindStringSubmatch(v)[1]
		var json []string
		msg := input
		for _, part := range strings.Split(name, ".") {
			fd := msg.Fields().ByName(protoreflect.Name(part))
			json = append(json, fd.JSONName())
			msg = fd.Message()
		}
		return "{" + strings.Join(json, ".") + "}"
	})
	return verb + " " + path
}
