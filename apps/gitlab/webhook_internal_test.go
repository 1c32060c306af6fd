package gitlab

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/fixtures"
)

// fixture reads a payload captured from a real GitLab instance.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	return fixtures.Read(t, "gitlab", name)
}

// got is what a test compares of one normalised event.
type got struct {
	Action, Label, Repository, Head, BaseRef, HeadRef string
	PR                                                int
	ProjectID                                         int64
	Draft, Fork, Merged                               bool
	Labels                                            []string
}

func TestRealPayloads(t *testing.T) {
	tests := []struct {
		file, event string
		want        []got
	}{
		{"atlantis/gitlab-merge-request-event.json", EventMergeRequest, []got{{Action: "opened",
			Repository: "gitlab.com/lkysow/atlantis-example", PR: 12, ProjectID: 4580910,
			Head: "d2eae324ca26242abca45d7b49d582cddb2a4f15", BaseRef: "main", HeadRef: "patch-1"}}},
		{"atlantis/gitlab-merge-request-event-subgroup.json", EventMergeRequest, []got{{Action: "opened",
			Repository: "gitlab.com/lkysow-test/subgroup/sub-subgroup/atlantis-example", PR: 2, ProjectID: 7804027,
			Head: "901d9770ef1a6862e2a73ec1bacc73590abb9aff", BaseRef: "main", HeadRef: "patch"}}},
		{"atlantis/gitlab-merge-request-event-update-new-commit.json", EventMergeRequest, []got{{Action: "synchronize",
			Repository: "gitlab.com/quan.hoang/atlantis-example", PR: 3, ProjectID: 910, Labels: []string{"aaaa"},
			Head: "5ff66a1f7404deee915b50998c340e96d995f048", BaseRef: "main", HeadRef: "get-event-payload"}}},
		{"atlantis/gitlab-merge-request-event-update-labels.json", EventMergeRequest, []got{{Action: "labeled", Label: "aaaa",
			Repository: "gitlab.com/quan.hoang/atlantis-example", PR: 3, ProjectID: 910, Labels: []string{"aaaa"},
			Head: "1ca7e340460796fe3eb17e2ea1b383ac4a1c95b7", BaseRef: "main", HeadRef: "get-event-payload"}}},
		{"atlantis/gitlab-merge-request-event-mark-as-ready.json", EventMergeRequest, []got{{Action: "ready_for_review",
			Repository: "gitlab.com/sheather/test", PR: 3, ProjectID: 2,
			Head: "386f281f2c9b1a3b659fc7a244ca6781174e1836", BaseRef: "cloudfront", HeadRef: "sheather-cloudfront-patch-92417"}}},
		{"atlantis/gitlab-merge-request-event-update-title.json", EventMergeRequest, nil},
		{"atlantis/gitlab-merge-request-event-update-description.json", EventMergeRequest, nil},
		{"atlantis/gitlab-merge-request-event-update-assignee.json", EventMergeRequest, nil},
		{"atlantis/gitlab-merge-request-event-update-milestone.json", EventMergeRequest, nil},
		{"atlantis/gitlab-merge-request-event-update-mixed.json", EventMergeRequest, nil},
		{"atlantis/gitlab-merge-request-event-update-reviewer.json", EventMergeRequest, nil},
		{"atlantis/gitlab-merge-request-event-update-target-branch.json", EventMergeRequest, nil},
		{"go-gitlab/webhooks_merge_request.json", EventMergeRequest, []got{{Action: "opened",
			Repository: "gitlab.com/awesome_space/awesome_project", PR: 1, ProjectID: 14, Labels: []string{"API"},
			Head: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", BaseRef: "master", HeadRef: "ms-viewport"}}},
		{"go-gitlab/webhooks_service_merge_request.json", EventMergeRequest, []got{{Action: "synchronize",
			Repository: "gitlab.com/test/woodpecker", PR: 2, ProjectID: 2,
			Head: "0ab96a10266b95b4b533dcfd98738015fbe70889", BaseRef: "master", HeadRef: "next-feature"}}},
		// Notes that are not the command.
		{"go-gitlab/webhooks_note_merge_request.json", EventNote, nil},
		{"atlantis/gitlab-merge-request-comment-event.json", EventNote, nil},
		{"atlantis/gitlab-merge-request-comment-event-subgroup.json", EventNote, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := fixture(t, tt.file)
			var evs []got
			decode := mergeRequestEvents
			if tt.event == EventNote {
				decode = noteEvents
			}
			out, err := decode("gitlab.com", "d1", time.Now(), body)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out {
				evs = append(evs, got{Action: e.Action, Label: e.Label, Repository: e.Run.Repository, Head: e.Run.HeadSHA,
					BaseRef: e.Run.BaseRef, HeadRef: e.Run.HeadRef, PR: e.Run.PR, ProjectID: e.Run.ProjectID,
					Draft: e.Draft, Fork: e.Fork, Merged: e.Merged, Labels: e.Labels})
				if e.DeliveryID != "d1" || e.Run.Validate() != nil {
					t.Errorf("event %+v: delivery id or run identity", e)
				}
			}
			if d := cmp.Diff(tt.want, evs); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestRealNoteAsCommand turns a captured note hook into the command: the
// merge request part of a real note payload is read.
func TestRealNoteAsCommand(t *testing.T) {
	body := fixture(t, "atlantis/gitlab-merge-request-comment-event-subgroup.json")
	body = []byte(replaceNote(t, string(body), "/diffgate run"))
	out, err := noteEvents("gitlab.com", "d2", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Action != "rerun" || out[0].Run.PR == 0 || out[0].Run.HeadSHA == "" ||
		out[0].Run.Repository != "gitlab.com/lkysow-test/subgroup/sub-subgroup/atlantis-example" {
		t.Errorf("events %+v: want one rerun of the nested group's merge request", out)
	}
	// Whose access the gate checks: the note's author.
	if len(out) == 1 && (out[0].RequestedBy != "lkysow" || out[0].RequestedByID != 1755902) {
		t.Errorf("requested by %q (%d); want lkysow (1755902)", out[0].RequestedBy, out[0].RequestedByID)
	}
}

func TestDraftTitles(t *testing.T) {
	for title, want := range map[string]bool{
		"Draft: x": true, "draft:x": true, "[Draft] x": true, "(Draft) x": true, "WIP: x": true, "[WIP] x": true,
		"x": false, "Drafting the model": false, "A draft: x": false,
	} {
		if got := isDraftTitle(title); got != want {
			t.Errorf("isDraftTitle(%q) = %t", title, got)
		}
	}
}

func TestDeliveryIDPrefersTheIdempotencyKey(t *testing.T) {
	h := map[string][]string{}
	body := []byte(`{"a":1}`)
	byBody := deliveryID(h, body)
	if byBody != deliveryID(h, body) || byBody == deliveryID(h, []byte(`{"a":2}`)) {
		t.Errorf("a body's id must be the same for the same body only")
	}
	h["X-Gitlab-Event-Uuid"] = []string{"uuid-1"}
	if got := deliveryID(h, body); got != "uuid-1" {
		t.Errorf("with an event UUID: %q", got)
	}
	h["Idempotency-Key"] = []string{"key-1"}
	if got := deliveryID(h, body); got != "key-1" {
		t.Errorf("with an Idempotency-Key: %q", got)
	}
}

// replaceNote sets the note text of a note payload.
func replaceNote(t *testing.T, payload, note string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Fatal(err)
	}
	m["object_attributes"].(map[string]any)["note"] = note
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
