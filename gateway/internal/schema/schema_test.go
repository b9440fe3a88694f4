package schema_test

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"testing"

	fu "github.com/filemesh/filemesh/gateway/internal/fakeupstream"
	"github.com/filemesh/filemesh/gateway/internal/schema"
)

// methodsJSON is the part of gen/methods.json the gateway relies on.
type methodsJSON []struct {
	ServiceName string `json:"serviceName"`
	Path        string `json:"path"`
	Policy      struct {
		Public          bool     `json:"public"`
		Idempotent      bool     `json:"idempotent"`
		Admin           bool     `json:"admin"`
		InternalCallers []string `json:"internalCallers"`
		RateClass       string   `json:"rateClass"`
	} `json:"policy"`
}

// The policy read from the descriptor image must equal the catalog that scripts/generate.mjs
// wrote from the same image, for every method.
func TestPolicyMatchesMethodCatalog(t *testing.T) {
	s := fu.LoadSchema(t)
	raw, err := os.ReadFile(fu.RepoFile(t, "gen/methods.json"))
	if err != nil {
		t.Fatal(err)
	}
	var catalog methodsJSON
	if err := json.Unmarshal(raw, &catalog); err != nil {
		t.Fatal(err)
	}
	if len(catalog) == 0 {
		t.Fatal("empty catalog")
	}
	publics := 0
	for _, m := range catalog {
		md, ok := s.Method(m.Path)
		if !ok {
			t.Errorf("%s is in methods.json but not in the image", m.Path)
			continue
		}
		up, _ := schema.UpstreamOfPath(m.Path)
		if up != m.ServiceName {
			t.Errorf("%s: upstream %q, catalog says %q", m.Path, up, m.ServiceName)
		}
		got := s.PolicyOf(md)
		want := schema.Policy{Public: m.Policy.Public, Idempotent: m.Policy.Idempotent, Admin: m.Policy.Admin,
			InternalCallers: m.Policy.InternalCallers, RateClass: m.Policy.RateClass}
		if len(want.InternalCallers) == 0 {
			want.InternalCallers = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: policy %+v, catalog %+v", m.Path, got, want)
		}
		if got.Public {
			publics++
		}
	}
	if publics == 0 {
		t.Error("no public method found: the policy extension was not read")
	}
	names := s.UpstreamNames()
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"auth", "file", "permission", "processor", "user"}) {
		t.Errorf("upstreams %v", names)
	}
}
