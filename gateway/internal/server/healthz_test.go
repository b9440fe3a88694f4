package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

func TestHealthz(t *testing.T) {
	e := start(t, options{replicas: map[string]int{"user": 2}})
	get := func() (int, map[string]any) {
		resp, body := e.do("GET", "/healthz", nil)
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("healthz body %s: %v", body, err)
		}
		return resp.StatusCode, out
	}
	if code, body := get(); code != http.StatusOK || body["status"] != "SERVING" {
		t.Fatalf("all serving: %d %v", code, body)
	}

	e.fakes["user"][0].SetServing(false) // the other user replica still serves
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("one of two user replicas down: %d %v", code, body)
	}

	e.fakes["file"][0].SetServing(false)
	e.fakes["user"][1].SetServing(false)
	code, body := get()
	if code != http.StatusServiceUnavailable || body["status"] != "NOT_SERVING" {
		t.Fatalf("file and user down: %d %v", code, body)
	}
	if got := body["notServing"]; !reflect.DeepEqual(got, []any{"file", "user"}) {
		t.Errorf("notServing %v, want [file user]", got)
	}
	file := body["services"].(map[string]any)["file"].(map[string]any)
	if r := file["replicas"].([]any)[0].(map[string]any); r["status"] != "NOT_SERVING" || r["addr"] != e.fakes["file"][0].Addr {
		t.Errorf("file replica %v", r)
	}

	e.fakes["file"][0].SetServing(true)
	e.fakes["user"][1].SetServing(true)
	if code, _ := get(); code != http.StatusOK {
		t.Errorf("recovered: %d", code)
	}
	if resp, _ := e.do("POST", "/healthz", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d", resp.StatusCode)
	}
}
