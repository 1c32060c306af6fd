package gitlabtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Webhook event types, as X-Gitlab-Event names them.
const (
	MergeRequestHook = "Merge Request Hook"
	NoteHook         = "Note Hook"
)

// Hook sends deliveries to the bot's webhook URL the way GitLab does.
type Hook struct {
	URL    string
	Secret string // the secret token set on the webhook
	// Client defaults to http.DefaultClient.
	Client *http.Client
}

// Delivery is one webhook request.
type Delivery struct {
	Event string // X-Gitlab-Event
	Body  []byte
	// IdempotencyKey and EventUUID are the headers of that name; GitLab
	// sends the same Idempotency-Key when it sends an event again. Empty
	// means none (older GitLab).
	IdempotencyKey, EventUUID string
	// Token overrides X-Gitlab-Token: "" sends the Hook's secret, "-"
	// sends none.
	Token string
}

// Send posts d and returns the answer's status code and body.
func (h Hook) Send(ctx context.Context, d Delivery) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, "", err
	}
	hd := req.Header
	hd.Set("Content-Type", "application/json")
	hd.Set("User-Agent", "GitLab/17.6.0")
	hd.Set("X-Gitlab-Event", d.Event)
	hd.Set("X-Gitlab-Instance", strings.TrimSuffix(strings.SplitN(h.URL, "/api/", 2)[0], "/"))
	hd.Set("X-Gitlab-Webhook-UUID", "6fd4a3c1-2a0e-4a4c-9d1e-diffgatehook")
	if d.EventUUID != "" {
		hd.Set("X-Gitlab-Event-UUID", d.EventUUID)
	}
	if d.IdempotencyKey != "" {
		hd.Set("Idempotency-Key", d.IdempotencyKey)
	}
	switch d.Token {
	case "":
		hd.Set("X-Gitlab-Token", h.Secret)
	case "-":
	default:
		hd.Set("X-Gitlab-Token", d.Token)
	}
	resp, err := cmp.Or(h.Client, http.DefaultClient).Do(req)
	if err != nil {
		return 0, "", err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(answer), err
}

// MergeRequest describes a merge request as a hook shows it.
type MergeRequest struct {
	// WebURL is GitLab's URL (the stand-in's URL).
	WebURL string
	// Target is the project the merge request lives in; Source the one
	// its commits come from (zero: the same, a fork otherwise).
	Target, Source Project
	IID            int
	Title          string
	HeadSHA        string
	SourceBranch   string
	TargetBranch   string
	Draft          bool
	Labels         []string
	// State is opened, closed or merged; empty means the one the action
	// leaves (MergeRequestEvent), else opened.
	State string
	// User is who did what the hook reports.
	User string
}

// MergeRequestEvent describes a merge request hook.
type MergeRequestEvent struct {
	MergeRequest
	// Action: open, reopen, update, close, merge, approved, ...
	Action string
	// OldRev is the previous head, sent with an update that pushed
	// commits.
	OldRev string
	// LabelsBefore, when not nil, adds changes.labels (from LabelsBefore
	// to Labels).
	LabelsBefore []string
	// DraftBefore, when not nil, adds changes.draft (from *DraftBefore to
	// Draft).
	DraftBefore *bool
	// TitleBefore, when set, adds changes.title.
	TitleBefore string
}

// Bool returns a pointer to b, for DraftBefore.
func Bool(b bool) *bool { return &b }

func (m MergeRequest) source() Project {
	if m.Source.ID == 0 {
		return m.Target
	}
	return m.Source
}

func (m MergeRequest) state() string {
	if m.State == "" {
		return "opened"
	}
	return m.State
}

func (m MergeRequest) user() string {
	if m.User == "" {
		return "maria"
	}
	return m.User
}

// projectJSON is a project as hooks show it.
func projectJSON(webURL string, p Project) map[string]any {
	web := strings.TrimSuffix(webURL, "/") + "/" + p.Path
	name := p.Path[strings.LastIndexByte(p.Path, '/')+1:]
	ns := strings.TrimSuffix(strings.TrimSuffix(p.Path, name), "/")
	host := strings.TrimPrefix(strings.TrimPrefix(webURL, "http://"), "https://")
	return map[string]any{
		"id": p.ID, "name": name, "description": "", "web_url": web, "avatar_url": nil,
		"git_ssh_url": "git@" + host + ":" + p.Path + ".git", "git_http_url": web + ".git",
		"namespace": ns[strings.LastIndexByte(ns, '/')+1:], "visibility_level": 0, "path_with_namespace": p.Path,
		"default_branch": "main", "ci_config_path": nil, "homepage": web,
		"url": "git@" + host + ":" + p.Path + ".git", "ssh_url": "git@" + host + ":" + p.Path + ".git", "http_url": web + ".git",
	}
}

func labelsJSON(projectID int64, titles []string) []map[string]any {
	out := []map[string]any{}
	for i, t := range titles {
		out = append(out, map[string]any{
			"id": 300 + i, "title": t, "color": "#6699cc", "project_id": projectID,
			"created_at": "2026-02-01 09:00:00 UTC", "updated_at": "2026-02-01 09:00:00 UTC",
			"template": false, "description": nil, "type": "ProjectLabel", "group_id": nil,
		})
	}
	return out
}

func userJSON(username string) map[string]any {
	return map[string]any{"id": UserID(username), "name": username, "username": username,
		"avatar_url": "https://www.gravatar.com/avatar/0?s=80&d=identicon", "email": "[REDACTED]"}
}

// attributes is the merge request's object as hooks show it
// (object_attributes of a merge request hook, merge_request of a note
// hook).
func (m MergeRequest) attributes() map[string]any {
	src := m.source()
	web := strings.TrimSuffix(m.WebURL, "/")
	return map[string]any{
		"id": int64(m.IID) + 100000, "iid": m.IID, "title": m.Title, "description": "",
		"state": m.state(), "state_id": map[string]int{"opened": 1, "closed": 2, "merged": 3}[m.state()],
		"draft": m.Draft, "work_in_progress": m.Draft,
		"source_branch": m.SourceBranch, "target_branch": m.TargetBranch,
		"source_project_id": src.ID, "target_project_id": m.Target.ID,
		"author_id": 77, "assignee_id": nil, "assignee_ids": []int{}, "reviewer_ids": []int{},
		"created_at": "2026-03-01 12:00:00 UTC", "updated_at": "2026-03-01 12:05:00 UTC",
		"last_edited_at": nil, "last_edited_by_id": nil, "milestone_id": nil,
		"merge_status": "can_be_merged", "detailed_merge_status": "mergeable", "merge_commit_sha": nil,
		"head_pipeline_id": nil, "blocking_discussions_resolved": true, "first_contribution": false,
		"url":    fmt.Sprintf("%s/%s/-/merge_requests/%d", web, m.Target.Path, m.IID),
		"source": projectJSON(m.WebURL, src), "target": projectJSON(m.WebURL, m.Target),
		"last_commit": map[string]any{
			"id": m.HeadSHA, "message": "Change orders\n", "title": "Change orders",
			"timestamp": "2026-03-01T12:04:00+00:00",
			"url":       fmt.Sprintf("%s/%s/-/commit/%s", web, src.Path, m.HeadSHA),
			"author":    map[string]any{"name": m.user(), "email": "[REDACTED]"},
		},
		"labels":           labelsJSON(m.Target.ID, m.Labels),
		"total_time_spent": 0, "time_estimate": 0, "human_total_time_spent": nil, "human_time_estimate": nil,
	}
}

// withState sets the state the action leaves the merge request in, when
// State does not say: closed after close, merged after merge.
func (e MergeRequestEvent) withState() MergeRequestEvent {
	if e.State == "" {
		e.State = map[string]string{"close": "closed", "merge": "merged"}[e.Action]
	}
	return e
}

// MR is the merge request as the stand-in keeps it once the hook
// happened, with base as its diff base, for Server.SetMR: so the bot's
// look-ups find what the hook said.
func (e MergeRequestEvent) MR(base string) MR {
	e = e.withState()
	return MR{IID: e.IID, Title: e.Title, State: e.State, Draft: e.Draft, Labels: e.Labels, HeadSHA: e.HeadSHA,
		BaseSHA: base, SourceBranch: e.SourceBranch, TargetBranch: e.TargetBranch, Source: e.Source}
}

// Payload is the hook's JSON body.
func (e MergeRequestEvent) Payload() []byte {
	e = e.withState()
	attrs := e.attributes()
	attrs["action"] = e.Action
	if e.OldRev != "" {
		attrs["oldrev"] = e.OldRev
	}
	changes := map[string]any{
		"updated_at": map[string]any{"previous": "2026-03-01 12:00:00 UTC", "current": "2026-03-01 12:05:00 UTC"},
	}
	if e.LabelsBefore != nil {
		changes["labels"] = map[string]any{"previous": labelsJSON(e.Target.ID, e.LabelsBefore), "current": labelsJSON(e.Target.ID, e.Labels)}
	}
	if e.DraftBefore != nil {
		changes["draft"] = map[string]any{"previous": *e.DraftBefore, "current": e.Draft}
	}
	if e.TitleBefore != "" {
		changes["title"] = map[string]any{"previous": e.TitleBefore, "current": e.Title}
	}
	return mustJSON(map[string]any{
		"object_kind": "merge_request", "event_type": "merge_request",
		"user":    userJSON(e.user()),
		"project": projectJSON(e.WebURL, e.Target),
		"repository": map[string]any{"name": e.Target.Path[strings.LastIndexByte(e.Target.Path, '/')+1:],
			"url": projectJSON(e.WebURL, e.Target)["url"], "description": "", "homepage": projectJSON(e.WebURL, e.Target)["web_url"]},
		"object_attributes": attrs,
		"labels":            labelsJSON(e.Target.ID, e.Labels),
		"changes":           changes,
		"assignees":         []any{},
		"reviewers":         []any{},
	})
}

// NoteEvent describes a note hook on a merge request.
type NoteEvent struct {
	MergeRequest
	Note string
	// Author of the note (default the merge request's User).
	Author string
	System bool
	// Action is create (default) or update; "-" sends none, as GitLab
	// before 16.x did.
	Action string
}

// Payload is the hook's JSON body.
func (e NoteEvent) Payload() []byte {
	author := e.Author
	if author == "" {
		author = e.user()
	}
	action := e.Action
	if action == "" {
		action = "create"
	}
	attrs := map[string]any{
		"id": 4242, "note": e.Note, "noteable_type": "MergeRequest", "author_id": UserID(author),
		"created_at": "2026-03-01 12:10:00 UTC", "updated_at": "2026-03-01 12:10:00 UTC",
		"project_id": e.Target.ID, "attachment": nil, "line_code": nil, "commit_id": "",
		"noteable_id": int64(e.IID) + 100000, "system": e.System, "st_diff": nil,
		"url": fmt.Sprintf("%s/%s/-/merge_requests/%d#note_4242", strings.TrimSuffix(e.WebURL, "/"), e.Target.Path, e.IID),
	}
	if action != "-" {
		attrs["action"] = action
	}
	mr := e.attributes()
	// A note hook's merge request is the smaller object GitLab serialises
	// there.
	for _, k := range []string{"assignee_ids", "reviewer_ids", "blocking_discussions_resolved", "first_contribution", "state_id"} {
		delete(mr, k)
	}
	return mustJSON(map[string]any{
		"object_kind": "note", "event_type": "note",
		"user":              userJSON(author),
		"project_id":        e.Target.ID,
		"project":           projectJSON(e.WebURL, e.Target),
		"repository":        map[string]any{"name": e.Target.Path, "url": projectJSON(e.WebURL, e.Target)["url"], "description": "", "homepage": projectJSON(e.WebURL, e.Target)["web_url"]},
		"object_attributes": attrs,
		"merge_request":     mr,
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
