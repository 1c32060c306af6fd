package app_test

import (
	"encoding/json"
	"net/url"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/palantir/go-githubapp/githubapp"
)

// TestManifest keeps the App manifest minimal and pointed at the route
// the App serves.
func TestManifest(t *testing.T) {
	raw, err := os.ReadFile("../manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name           string            `json:"name"`
		URL            string            `json:"url"`
		RedirectURL    string            `json:"redirect_url"`
		Public         bool              `json:"public"`
		Permissions    map[string]string `json:"default_permissions"`
		Events         []string          `json:"default_events"`
		HookAttributes struct {
			URL    string `json:"url"`
			Active bool   `json:"active"`
		} `json:"hook_attributes"`
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		switch k {
		case "name", "description", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url",
			"public", "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update":
		default:
			t.Errorf("%q is not a key of GitHub's App manifest", k)
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"checks": "write", "pull_requests": "write", "contents": "read", "metadata": "read"}
	if d := cmp.Diff(want, m.Permissions); d != "" {
		t.Errorf("permissions (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"pull_request", "check_run"}, m.Events); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	hook, err := url.Parse(m.HookAttributes.URL)
	if err != nil || hook.Path != githubapp.DefaultWebhookRoute || !m.HookAttributes.Active {
		t.Errorf("hook %+v: want an active hook at %s", m.HookAttributes, githubapp.DefaultWebhookRoute)
	}
	if m.URL == "" || m.RedirectURL == "" || m.Name == "" || m.Public {
		t.Errorf("manifest %+v: url, redirect_url and name are needed; the App is private", m)
	}
}
