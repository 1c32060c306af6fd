package githubtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Sign is the X-Hub-Signature-256 value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Webhook sends deliveries to an App's webhook URL the way GitHub does.
type Webhook struct {
	URL    string
	Secret string
	// Client defaults to http.DefaultClient.
	Client *http.Client
}

// Delivery is one webhook delivery.
type Delivery struct {
	Event string // X-GitHub-Event
	ID    string // X-GitHub-Delivery
	Body  []byte
	// Signature overrides the X-Hub-Signature-256 header: "" signs with
	// the Webhook's secret, "-" sends none.
	Signature string
}

// Send posts d and returns the status code and body of the answer.
func (w Webhook) Send(ctx context.Context, d Delivery) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/standin")
	req.Header.Set("X-GitHub-Event", d.Event)
	req.Header.Set("X-GitHub-Delivery", d.ID)
	req.Header.Set("X-GitHub-Hook-ID", "1")
	req.Header.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	req.Header.Set("X-GitHub-Hook-Installation-Target-ID", "1")
	switch d.Signature {
	case "":
		req.Header.Set("X-Hub-Signature-256", Sign(w.Secret, d.Body))
	case "-":
	default:
		req.Header.Set("X-Hub-Signature-256", d.Signature)
	}
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), nil
}

// PullRequest describes a pull_request delivery.
type PullRequest struct {
	Action string
	// Repo is owner/name of the base repository; HeadRepo of the head
	// (a fork) when it differs.
	Repo, HeadRepo string
	Number         int
	Title          string
	HeadSHA        string
	HeadRef        string
	BaseSHA        string
	BaseRef        string
	Draft          bool
	Labels         []string
	// Label is the label added or removed (labeled, unlabeled).
	Label string
	// Before is the previous head (synchronize).
	Before       string
	Merged       bool
	User         string
	Installation int64
	// WebURL is the GitHub web URL the links start with; default
	// https://github.com.
	WebURL string
}

func (p PullRequest) web() string {
	if p.WebURL == "" {
		return "https://github.com"
	}
	return strings.TrimSuffix(p.WebURL, "/")
}

func user(login string, id int) map[string]any {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{"login": login, "id": id, "node_id": "U_" + login, "type": typ, "site_admin": false,
		"avatar_url": "https://avatars.githubusercontent.com/u/1?v=4", "html_url": "https://github.com/" + login,
		"url": "https://api.github.com/users/" + login}
}

func repository(web, full string, id int) map[string]any {
	owner, name, _ := strings.Cut(full, "/")
	return map[string]any{"id": id, "node_id": "R_" + full, "name": name, "full_name": full, "private": true,
		"owner": user(owner, id+1), "html_url": web + "/" + full, "description": nil, "fork": false,
		"url": "https://api.github.com/repos/" + full, "default_branch": "main"}
}

// withDefaults fills the fields a delivery always has.
func (p PullRequest) withDefaults() PullRequest {
	p.User = cmp.Or(p.User, "octocat")
	p.Title = cmp.Or(p.Title, "Change a model")
	return p
}

// PR is the pull request as the stand-in keeps it once the delivery
// happened (closed after a closed action), for Server.AddPR: so the App's
// look-ups find what the delivery said.
func (p PullRequest) PR() PR {
	p = p.withDefaults()
	state := "open"
	if p.Action == "closed" {
		state = "closed"
	}
	return PR{Number: p.Number, Title: p.Title, State: state, Draft: p.Draft, Labels: p.Labels, HeadSHA: p.HeadSHA,
		HeadRef: p.HeadRef, BaseSHA: p.BaseSHA, BaseRef: p.BaseRef, HeadRepo: p.HeadRepo, User: p.User}
}

// Payload is the JSON body of the delivery.
func (p PullRequest) Payload() []byte {
	web := p.web()
	p = p.withDefaults()
	base := repository(web, p.Repo, 1296269)
	headRepo := base
	if p.HeadRepo != "" && p.HeadRepo != p.Repo {
		headRepo = repository(web, p.HeadRepo, 1296300)
		headRepo["fork"] = true
	}
	labels := []any{}
	for i, l := range p.Labels {
		labels = append(labels, label(l, i+1))
	}
	state := "open"
	var closedAt, mergedAt any
	if p.Action == "closed" {
		state, closedAt = "closed", "2026-03-01T12:30:00Z"
		if p.Merged {
			mergedAt = closedAt
		}
	}
	ref := func(sha, ref string, repo map[string]any) map[string]any {
		owner := repo["owner"].(map[string]any)
		return map[string]any{"label": owner["login"].(string) + ":" + ref, "ref": ref, "sha": sha, "user": owner, "repo": repo}
	}
	pr := map[string]any{
		"url": fmt.Sprintf("https://api.github.com/repos/%s/pulls/%d", p.Repo, p.Number), "id": 100000 + p.Number,
		"node_id": fmt.Sprintf("PR_%d", p.Number), "html_url": fmt.Sprintf("%s/%s/pull/%d", web, p.Repo, p.Number),
		"number": p.Number, "state": state, "locked": false, "title": p.Title, "user": user(p.User, 583231),
		"body": nil, "created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z",
		"closed_at": closedAt, "merged_at": mergedAt, "merge_commit_sha": nil, "assignee": nil,
		"assignees": []any{}, "requested_reviewers": []any{}, "requested_teams": []any{}, "labels": labels,
		"milestone": nil, "head": ref(p.HeadSHA, p.HeadRef, headRepo), "base": ref(p.BaseSHA, p.BaseRef, base),
		"author_association": "MEMBER", "auto_merge": nil, "active_lock_reason": nil, "draft": p.Draft,
		"merged": p.Merged, "mergeable": nil, "rebaseable": nil, "mergeable_state": "unknown", "merged_by": nil,
		"comments": 0, "review_comments": 0, "maintainer_can_modify": false, "commits": 1, "additions": 1,
		"deletions": 0, "changed_files": 1,
	}
	body := map[string]any{"action": p.Action, "number": p.Number, "pull_request": pr, "repository": base,
		"installation": map[string]any{"id": p.Installation, "node_id": "I_1"}, "sender": user(p.User, 583231)}
	if p.Label != "" {
		body["label"] = label(p.Label, 99)
	}
	if p.Action == "synchronize" {
		body["before"], body["after"] = p.Before, p.HeadSHA
	}
	return mustJSON(body)
}

func label(name string, id int) map[string]any {
	return map[string]any{"id": id, "node_id": fmt.Sprintf("LA_%d", id), "url": "https://api.github.com/labels/" + name,
		"name": name, "color": "ededed", "default": false, "description": nil}
}

// CheckRunRerequested describes a check_run delivery with action
// rerequested: someone pressed "Re-run" on the App's check.
type CheckRunRerequested struct {
	Repo         string
	CheckRunID   int64
	Name         string
	HeadSHA      string
	HeadRef      string
	ExternalID   string
	AppID        int64
	Installation int64
	// PRs are the pull requests GitHub lists with the check run: empty
	// for a head in a fork.
	PRs []CheckRunPR
}

// CheckRunPR is one entry of check_run.pull_requests.
type CheckRunPR struct {
	Number           int
	HeadSHA, HeadRef string
	BaseSHA, BaseRef string
}

// Payload is the JSON body of the delivery.
func (c CheckRunRerequested) Payload() []byte {
	repo := repository("https://github.com", c.Repo, 1296269)
	prs := []any{}
	for _, p := range c.PRs {
		short := map[string]any{"id": repo["id"], "url": repo["url"], "name": repo["name"]}
		prs = append(prs, map[string]any{
			"url": fmt.Sprintf("https://api.github.com/repos/%s/pulls/%d", c.Repo, p.Number), "id": 100000 + p.Number, "number": p.Number,
			"head": map[string]any{"ref": p.HeadRef, "sha": p.HeadSHA, "repo": short},
			"base": map[string]any{"ref": p.BaseRef, "sha": p.BaseSHA, "repo": short},
		})
	}
	app := map[string]any{"id": c.AppID, "node_id": "A_1", "name": "diffgate",
		"owner": repo["owner"], "description": "", "external_url": "https://diffgate.example.com",
		"html_url": "https://github.com/apps/diffgate", "created_at": "2026-01-01T00:00:00Z",
		"updated_at": "2026-01-01T00:00:00Z"}
	cr := map[string]any{
		"id": c.CheckRunID, "head_sha": c.HeadSHA, "external_id": c.ExternalID,
		"url":      fmt.Sprintf("https://api.github.com/repos/%s/check-runs/%d", c.Repo, c.CheckRunID),
		"html_url": fmt.Sprintf("https://github.com/%s/runs/%d", c.Repo, c.CheckRunID),
		"status":   "completed", "conclusion": "success", "started_at": "2026-03-01T12:00:00Z",
		"completed_at": "2026-03-01T12:05:00Z", "name": c.Name,
		"output": map[string]any{"title": "diffgate", "summary": "done", "text": nil, "annotations_count": 0,
			"annotations_url": fmt.Sprintf("https://api.github.com/repos/%s/check-runs/%d/annotations", c.Repo, c.CheckRunID)},
		"check_suite": map[string]any{"id": 5, "head_branch": c.HeadRef, "head_sha": c.HeadSHA, "status": "completed",
			"conclusion": "success", "url": "https://api.github.com/repos/" + c.Repo + "/check-suites/5",
			"before": nil, "after": c.HeadSHA, "pull_requests": prs, "app": app,
			"created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:05:00Z"},
		"app": app, "pull_requests": prs,
	}
	return mustJSON(map[string]any{"action": "rerequested", "check_run": cr, "repository": repo,
		"installation": map[string]any{"id": c.Installation, "node_id": "I_1"}, "sender": user("octocat", 583231)})
}

// Installation is the body of an installation delivery (created,
// deleted, suspend, ...).
func Installation(action string, id int64, account string) []byte {
	return mustJSON(map[string]any{"action": action,
		"installation": map[string]any{"id": id, "account": user(account, 7), "repository_selection": "selected",
			"app_id": DefaultAppID, "target_id": 7, "target_type": "Organization",
			"permissions": map[string]any{"checks": "write", "pull_requests": "write", "contents": "read", "metadata": "read"},
			"events":      []any{"pull_request", "check_run"}, "created_at": 1772366400, "updated_at": 1772366400},
		"repositories": []any{}, "sender": user("octocat", 583231)})
}

// InstallationRepositories is the body of an installation_repositories
// delivery: repositories (owner/name) added to or removed from it.
func InstallationRepositories(action string, id int64, account string, repos ...string) []byte {
	list := []any{}
	for i, r := range repos {
		_, name, _ := strings.Cut(r, "/")
		list = append(list, map[string]any{"id": 1000 + i, "node_id": "R_" + r, "name": name, "full_name": r, "private": true})
	}
	added, removed := list, []any{}
	if action == "removed" {
		added, removed = []any{}, list
	}
	return mustJSON(map[string]any{"action": action,
		"installation":         map[string]any{"id": id, "account": user(account, 7), "app_id": DefaultAppID, "target_type": "Organization"},
		"repository_selection": "selected", "repositories_added": added, "repositories_removed": removed,
		"requester": nil, "sender": user("octocat", 583231)})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
