package gitlabtest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/fixtures"
)

// shapes maps each key path of a JSON document ("object_attributes.
// last_commit.id"; array elements as "[]") to the kinds of value seen
// there: string, number, bool, object, array, null.
func shapes(t *testing.T, into map[string]map[string]bool, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		kind := "null"
		switch x := v.(type) {
		case string:
			kind = "string"
		case float64:
			kind = "number"
		case bool:
			kind = "bool"
		case []any:
			kind = "array"
			for _, e := range x {
				walk(path+"[]", e)
			}
		case map[string]any:
			kind = "object"
			for k, e := range x {
				walk(strings.TrimPrefix(path+"."+k, "."), e)
			}
		}
		if into[path] == nil {
			into[path] = map[string]bool{}
		}
		into[path][kind] = true
	}
	walk("", v)
}

// real returns the shapes of every captured payload of one kind.
func real(t *testing.T, kind string) map[string]map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtures.Dir(t, "gitlab"), "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ObjectKind string `json:"object_kind"`
		}
		if json.Unmarshal(body, &head) == nil && head.ObjectKind == kind && !strings.Contains(f, "systemhooks") {
			shapes(t, out, body)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no captured %s payloads", kind)
	}
	return out
}

// newer are keys GitLab added after the captured payloads were taken:
// draft beside work_in_progress, and its change (GitLab 16.2).
var newer = map[string]bool{
	"object_attributes.draft": true, "merge_request.draft": true,
	"changes.draft": true, "changes.draft.previous": true, "changes.draft.current": true,
}

// conform checks that every key of a built payload is one real payloads
// have, with a kind of value they have there (null goes anywhere).
func conform(t *testing.T, kind string, built []byte) {
	t.Helper()
	want := real(t, kind)
	got := map[string]map[string]bool{}
	shapes(t, got, built)
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		seen, ok := want[p]
		if !ok && newer[p] {
			continue
		}
		if !ok {
			t.Errorf("%s: no real payload has %q", kind, p)
			continue
		}
		for k := range got[p] {
			if k != "null" && !seen[k] && !seen["null"] {
				t.Errorf("%s: %q is a %s here, never in real payloads", kind, p, k)
			}
		}
	}
}

var mr = gitlabtest.MergeRequest{WebURL: "https://gitlab.example.com", IID: 12, Title: "Change orders",
	Target: gitlabtest.Project{ID: 42, Path: "data/platform/marts"}, Source: gitlabtest.Project{ID: 77, Path: "contributor/marts"},
	HeadSHA: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1", SourceBranch: "feature", TargetBranch: "main", Labels: []string{"diffgate"}}

func TestMergeRequestHooksHaveTheRealShape(t *testing.T) {
	for _, e := range []gitlabtest.MergeRequestEvent{
		{MergeRequest: mr, Action: "open"},
		{MergeRequest: mr, Action: "update", OldRev: "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"},
		{MergeRequest: mr, Action: "update", LabelsBefore: []string{}, DraftBefore: gitlabtest.Bool(true), TitleBefore: "Draft: Change orders"},
	} {
		conform(t, "merge_request", e.Payload())
	}
}

func TestNoteHooksHaveTheRealShape(t *testing.T) {
	conform(t, "note", gitlabtest.NoteEvent{MergeRequest: mr, Note: "/diffgate run"}.Payload())
}
