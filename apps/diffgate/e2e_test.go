package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// The repositories of the end-to-end tests. Each subtest has pull request
// numbers of its own, so they run side by side on one pipeline.
const (
	ghPlain  = "acme/analytics" // default settings
	ghStrict = "acme/strict"    // fail_on_primary_key_issues
	ghGated  = "acme/gated"     // a trigger label and files to ignore
	label    = "diffgate"
)

// GitLab projects: the default one in a nested group, a fork of it, and
// one gated like acme/gated.
var (
	glMarts  = gitlabtest.Project{ID: 4201, Path: "data/platform/marts"}
	glFork   = gitlabtest.Project{ID: 4277, Path: "contributor/marts"}
	glGated  = gitlabtest.Project{ID: 4301, Path: "data/gated"}
	glStrict = gitlabtest.Project{ID: 4401, Path: "data/platform/strict"}
)

var ignored = []string{"*.md", "docs/**"}

func integrations() []sandbox.Integration {
	return []sandbox.Integration{
		{Name: "analytics", Provider: events.GitHub, Path: ghPlain},
		{Name: "strict", Provider: events.GitHub, Path: ghStrict, CI: sandbox.CI{FailOnPrimaryKeyIssues: true}},
		{Name: "gated", Provider: events.GitHub, Path: ghGated, CI: sandbox.CI{PRLabel: label, FilesToIgnore: ignored}},
		{Name: "marts", Provider: events.GitLab, Path: glMarts.Path},
		{Name: "gated-gitlab", Provider: events.GitLab, Path: glGated.Path, CI: sandbox.CI{PRLabel: label, FilesToIgnore: ignored}},
		{Name: "strict-gitlab", Provider: events.GitLab, Path: glStrict.Path, CI: sandbox.CI{FailOnPrimaryKeyIssues: true}},
	}
}

// TestEndToEnd drives the whole of diffgate, every component in one
// process as `diffgate serve` runs them, from webhooks to the check run or
// commit status and the one comment, through real NATS and a real
// PostgreSQL warehouse holding the sample project's builds.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	p := newPipeline(t, integrations())
	p.st.GitLab.AddProject(glMarts)
	p.st.GitLab.AddProject(glFork)
	p.st.GitLab.AddProject(glGated)
	p.st.GitLab.AddProject(glStrict)
	figures := sandbox.Sample().Expect()
	differ := 0
	for _, f := range figures {
		if f.Differs() {
			differ++
		}
	}
	title := fmt.Sprintf("%d of %d models differ", differ, len(figures))

	t.Run("github", func(t *testing.T) {
		t.Run("opened, then redelivered", func(t *testing.T) {
			t.Parallel()
			const n = 101
			sha := head(n, 1)
			p.ci(t, events.GitHub, n, sha)
			body := p.st.PullRequest("opened", ghPlain, n, sha, nil).Payload()
			code, id := p.sendGH(t, "pull_request", body)
			if code/100 != 2 {
				t.Fatalf("answer %d", code)
			}
			c := p.waitConclusion(t, ghPlain, sha, "success")
			if c.Title != title || c.Name != "diffgate" {
				t.Errorf("check %q titled %q; want diffgate, %q", c.Name, c.Title, title)
			}
			// GitHub saw the check only move forward, to completed. Statuses
			// are shown in parallel, so one that arrives after a later one
			// is dropped: the check may be created in progress.
			var states []string
			bustest.WaitFor(t, patience, func() error {
				states = states[:0]
				for _, w := range p.writes(c.ID) {
					states = append(states, w.Status)
				}
				if len(states) == 0 || states[len(states)-1] != "completed" {
					return fmt.Errorf("the check's writes so far: %v", states)
				}
				return nil
			})
			step := map[string]int{"queued": 0, "in_progress": 1, "completed": 2}
			for i := 1; i < len(states); i++ {
				if step[states[i]] < step[states[i-1]] {
					t.Errorf("the check went %v; want queued, in progress, completed, never back", states)
					break
				}
			}
			cs := p.waitComments(t, ghPlain, n, "one", func(c []githubtest.Comment) bool { return len(c) == 1 })
			checkComment(t, cs[0].Body, figures)
			if !strings.HasPrefix(cs[0].Body, report.StickyMarker) || !strings.Contains(cs[0].Body, events.Short(sha)) {
				t.Errorf("the comment lacks the marker or the head:\n%.400s", cs[0].Body)
			}
			// The details link of the check works while diffgate runs.
			if code, page := get(t, c.DetailsURL); code != http.StatusOK || !strings.Contains(page, "stg_orders") {
				t.Errorf("details page %s: %d", c.DetailsURL, code)
			}

			// GitHub delivers the same delivery again: nothing new.
			if code := p.deliverGH(t, githubtest.Delivery{Event: "pull_request", ID: id, Body: body}); code/100 != 2 {
				t.Errorf("redelivery answered %d; want 2xx", code)
			}
			if n := p.msgIDs(t, events.SubjectPREventPrefix+"github")["gh:"+id]; n != 1 {
				t.Errorf("the delivery is stored %d times; want once", n)
			}
			p.settled(t, "gate-github", events.SubjectPREventPrefix+"github")
			if rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitHub, ghPlain), n); len(rs) != 1 {
				t.Errorf("%d runs requested; want one", len(rs))
			}
			if got := p.checks(ghPlain, sha); len(got) != 1 || got[0].Updates != c.Updates {
				t.Errorf("the check was written again after the redelivery")
			}
		})

		t.Run("refused signatures", func(t *testing.T) {
			t.Parallel()
			const n = 109
			sha := head(n, 1)
			body := p.st.PullRequest("opened", ghPlain, n, sha, nil).Payload()
			for name, sig := range map[string]string{"unsigned": "-", "other secret": githubtest.Sign("not-the-secret", body),
				"garbled": "sha256=zz", "sha1": "sha1=0123456789abcdef0123456789abcdef01234567"} {
				if code := p.deliverGH(t, githubtest.Delivery{Event: "pull_request", ID: "refused-" + name, Body: body, Signature: sig}); code != http.StatusUnauthorized {
					t.Errorf("%s: answer %d; want 401", name, code)
				}
			}
			for id := range p.msgIDs(t, events.SubjectPREventPrefix+"github") {
				if strings.HasPrefix(id, "gh:refused-") {
					t.Errorf("a refused delivery was stored: %s", id)
				}
			}
			if cs := p.checks(ghPlain, sha); len(cs) != 0 {
				t.Errorf("%d check runs for refused deliveries", len(cs))
			}
		})

		t.Run("a new push while the run waits for dbt Cloud", func(t *testing.T) {
			t.Parallel()
			const n = 102
			a, b, c := head(n, 1), head(n, 2), head(n, 3)
			p.ci(t, events.GitHub, n, a)
			p.sendGH(t, "pull_request", p.st.PullRequest("opened", ghPlain, n, a, nil).Payload())
			p.waitConclusion(t, ghPlain, a, "success")
			first := p.waitComments(t, ghPlain, n, "one", func(c []githubtest.Comment) bool { return len(c) == 1 })

			p.ci(t, events.GitHub, n, b, waiting)
			p.sendGH(t, "pull_request", p.st.PullRequest("synchronize", ghPlain, n, b, func(pr *githubtest.PullRequest) { pr.Before = a }).Payload())
			p.waitCheck(t, ghPlain, b, "waiting for dbt Cloud", func(c githubtest.CheckRun) bool {
				return c.Status != "completed" && strings.Contains(c.Title, "dbt Cloud run #")
			})
			p.ci(t, events.GitHub, n, c)
			p.sendGH(t, "pull_request", p.st.PullRequest("synchronize", ghPlain, n, c, func(pr *githubtest.PullRequest) { pr.Before = b }).Payload())

			p.waitConclusion(t, ghPlain, b, "cancelled")
			p.waitConclusion(t, ghPlain, c, "success")
			cs := p.waitComments(t, ghPlain, n, "one comment showing the new head", func(cs []githubtest.Comment) bool {
				return len(cs) == 1 && strings.Contains(cs[0].Body, events.Short(c))
			})
			if cs[0].ID != first[0].ID || cs[0].Edits < 1 {
				t.Errorf("comment %d edited %d times; want comment %d edited", cs[0].ID, cs[0].Edits, first[0].ID)
			}
			if strings.Contains(cs[0].Body, events.Short(a)) || strings.Contains(cs[0].Body, events.Short(b)) {
				t.Errorf("the comment still names an older head")
			}
			checkComment(t, cs[0].Body, figures)
			if got := p.waitConclusion(t, ghPlain, a, "success"); got.Title != title {
				t.Errorf("the first head's check now says %q", got.Title)
			}
			var why []string
			for _, c := range stored[events.RunCancelled](t, p, events.SubjectRunCancelled, p.repo(events.GitHub, ghPlain), n) {
				why = append(why, fmt.Sprintf("%.7s:%s:%.7s", c.Run.HeadSHA, c.Reason, c.By))
			}
			// The gate also cancels the first head's run, which had ended:
			// that changes nothing (its check stays as it was, above).
			if want := fmt.Sprintf("%.7s:superseded:%.7s", b, c); !slices.Contains(why, want) {
				t.Errorf("cancellations %v; want %v among them", why, want)
			}
		})

		t.Run("closed mid-run", func(t *testing.T) {
			t.Parallel()
			const n = 103
			sha := head(n, 1)
			p.ci(t, events.GitHub, n, sha, waiting)
			p.sendGH(t, "pull_request", p.st.PullRequest("opened", ghPlain, n, sha, nil).Payload())
			p.waitCheck(t, ghPlain, sha, "waiting for dbt Cloud", func(c githubtest.CheckRun) bool {
				return c.Status != "completed" && strings.Contains(c.Title, "dbt Cloud run #")
			})
			p.sendGH(t, "pull_request", p.st.PullRequest("closed", ghPlain, n, sha, nil).Payload())
			p.waitConclusion(t, ghPlain, sha, "cancelled")
			cs := stored[events.RunCancelled](t, p, events.SubjectRunCancelled, p.repo(events.GitHub, ghPlain), n)
			if len(cs) != 1 || cs[0].Reason != events.CancelClosed {
				t.Errorf("cancellations %+v; want one, closed", cs)
			}
			p.settled(t, "publish-report-github", events.SubjectRunReportPrefix+"github")
			if c := p.st.GitHub.Comments(ghPlain, n); len(c) > 1 {
				t.Errorf("%d comments", len(c))
			}
		})

		t.Run("the re-run button", func(t *testing.T) {
			t.Parallel()
			const n = 104
			sha := head(n, 1)
			p.ci(t, events.GitHub, n, sha)
			pr := p.st.PullRequest("opened", ghPlain, n, sha, nil)
			p.sendGH(t, "pull_request", pr.Payload())
			c := p.waitConclusion(t, ghPlain, sha, "success")
			first := p.waitComments(t, ghPlain, n, "one", func(c []githubtest.Comment) bool { return len(c) == 1 })

			rerun := githubtest.CheckRunRerequested{Repo: ghPlain, CheckRunID: c.ID, Name: c.Name, HeadSHA: sha, HeadRef: pr.HeadRef,
				ExternalID: c.ExternalID, AppID: p.st.GitHub.AppID(), Installation: sandbox.Installation,
				PRs: []githubtest.CheckRunPR{{Number: n, HeadSHA: sha, HeadRef: pr.HeadRef, BaseSHA: pr.BaseSHA, BaseRef: pr.BaseRef}}}
			if code, _ := p.sendGH(t, "check_run", rerun.Payload()); code/100 != 2 {
				t.Fatalf("answer %d", code)
			}
			bustest.WaitFor(t, patience, func() error {
				done := 0
				for _, w := range p.writes(c.ID) {
					if w.Status == "completed" {
						done++
					}
				}
				if done < 2 {
					return fmt.Errorf("the check completed %d times; want twice", done)
				}
				return nil
			})
			again := p.waitConclusion(t, ghPlain, sha, "success")
			if again.ID != c.ID {
				t.Errorf("the re-run made check run %d; want %d updated", again.ID, c.ID)
			}
			rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitHub, ghPlain), n)
			if len(rs) != 2 || rs[1].Run.Rerun == "" || rs[1].Run.HeadSHA != sha {
				t.Errorf("runs %+v; want the first and a re-run of the same head", rs)
			}
			cs := p.waitComments(t, ghPlain, n, "the comment edited", func(c []githubtest.Comment) bool { return len(c) == 1 && c[0].Edits >= 1 })
			if cs[0].ID != first[0].ID {
				t.Errorf("a new comment")
			}
			checkComment(t, cs[0].Body, figures)
		})

		t.Run("a draft, then ready for review", func(t *testing.T) {
			t.Parallel()
			const n = 105
			sha := head(n, 1)
			p.ci(t, events.GitHub, n, sha)
			p.sendGH(t, "pull_request", p.st.PullRequest("opened", ghPlain, n, sha, func(pr *githubtest.PullRequest) { pr.Draft = true }).Payload())
			c := p.waitConclusion(t, ghPlain, sha, "neutral")
			if !strings.Contains(c.Title, "draft") {
				t.Errorf("the draft's check says %q", c.Title)
			}
			p.settled(t, "gate-github", events.SubjectPREventPrefix+"github")
			if rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitHub, ghPlain), n); len(rs) != 0 {
				t.Errorf("a draft was diffed")
			}
			p.sendGH(t, "pull_request", p.st.PullRequest("ready_for_review", ghPlain, n, sha, nil).Payload())
			if got := p.waitConclusion(t, ghPlain, sha, "success"); got.ID != c.ID || got.Title != title {
				t.Errorf("check %d %q; want check %d with the diff", got.ID, got.Title, c.ID)
			}
			cs := p.waitComments(t, ghPlain, n, "one with the diff", func(c []githubtest.Comment) bool {
				return len(c) == 1 && strings.Contains(c[0].Body, title)
			})
			checkComment(t, cs[0].Body, figures)
		})

		t.Run("the trigger label", func(t *testing.T) {
			t.Parallel()
			const n = 106
			sha := head(n, 1)
			p.ci(t, events.GitHub, n, sha)
			p.sendGH(t, "pull_request", p.st.PullRequest("opened", ghGated, n, sha, nil).Payload())
			c := p.waitConclusion(t, ghGated, sha, "neutral")
			if !strings.Contains(c.Title, "`"+label+"`") {
				t.Errorf("the unlabelled check says %q; want the label to add", c.Title)
			}
			p.sendGH(t, "pull_request", p.st.PullRequest("labeled", ghGated, n, sha, func(pr *githubtest.PullRequest) {
				pr.Labels, pr.Label = []string{"backend", label}, label
			}).Payload())
			if got := p.waitConclusion(t, ghGated, sha, "success"); got.Title != title {
				t.Errorf("labelled check says %q", got.Title)
			}
			cs := p.waitComments(t, ghGated, n, "one with the diff", func(c []githubtest.Comment) bool {
				return len(c) == 1 && strings.Contains(c[0].Body, title)
			})
			checkComment(t, cs[0].Body, figures)
		})

		t.Run("files to ignore", func(t *testing.T) {
			t.Parallel()
			const n = 107
			sha := head(n, 1)
			p.st.SetFiles(ghGated, n, githubtest.File{Filename: "README.md", Status: "modified"},
				githubtest.File{Filename: "docs/setup.html", Status: "added"}, githubtest.File{Filename: "docs/guide.html", Status: "modified"})
			p.sendGH(t, "pull_request", p.st.PullRequest("opened", ghGated, n, sha, func(pr *githubtest.PullRequest) { pr.Labels = []string{label} }).Payload())
			c := p.waitConclusion(t, ghGated, sha, "neutral")
			if !strings.Contains(c.Title, "files_to_ignore") || !containsAll(c.Summary, "3 changed files", `<code>\*.md</code> (1)`, `<code>docs/\*\*</code> (2)`) {
				t.Errorf("check %q:\n%s\nwant the reason and the patterns that matched", c.Title, c.Summary)
			}
			cs := p.waitComments(t, ghGated, n, "one", func(c []githubtest.Comment) bool { return len(c) == 1 })
			if !strings.Contains(cs[0].Body, "3 changed files") {
				t.Errorf("the comment does not say why:\n%s", cs[0].Body)
			}
			p.settled(t, "gate-github", events.SubjectPREventPrefix+"github")
			if rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitHub, ghGated), n); len(rs) != 0 {
				t.Errorf("a run was requested for ignored files")
			}
		})

		t.Run("primary key issues fail the check when asked", func(t *testing.T) {
			t.Parallel()
			const n = 108
			sha := head(n, 1)
			p.ci(t, events.GitHub, n, sha)
			p.sendGH(t, "pull_request", p.st.PullRequest("opened", ghStrict, n, sha, nil).Payload())
			c := p.waitConclusion(t, ghStrict, sha, "failure")
			if !strings.Contains(c.Title, "Primary key issues") {
				t.Errorf("the check says %q", c.Title)
			}
			cs := p.waitComments(t, ghStrict, n, "one", func(c []githubtest.Comment) bool { return len(c) == 1 })
			if !containsAll(cs[0].Body, "fail\\_on\\_primary\\_key\\_issues", "<code>stg\\_orders</code>",
				fmt.Sprintf("%d PR rows have a duplicated key", figures[0].PRDuplicateRows)) {
				t.Errorf("the comment does not say why it fails:\n%s", cs[0].Body)
			}
		})
	})

	t.Run("gitlab", func(t *testing.T) {
		t.Run("open", func(t *testing.T) {
			t.Parallel()
			const iid = 201
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha)
			if code, _ := p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "open", sha, nil).Payload()); code != http.StatusOK {
				t.Fatalf("answer %d", code)
			}
			st := p.st.GitLab.WaitStatus(t, glMarts.ID, sha, "success")
			if !strings.HasPrefix(st.TargetURL, p.proc.URL+"/details/") || !strings.Contains(st.Description, title) {
				t.Errorf("status %+v: want the details link and %q", st, title)
			}
			if all := p.st.GitLab.Statuses(glMarts.ID, sha); len(all) != 1 || all[0].Posts < 2 {
				t.Errorf("status records %+v; want one, moved from pending to success", all)
			}
			notes := p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "one", func(n []gitlabtest.Note) bool { return len(n) == 1 })
			checkComment(t, notes[0].Body, figures)
			if words := strings.ToLower(notes[0].Body); !strings.Contains(words, "merge request") || strings.Contains(words, "pull request") {
				t.Errorf("the note does not speak GitLab's words:\n%s", notes[0].Body)
			}
		})

		t.Run("primary key issues fail the status when asked", func(t *testing.T) {
			t.Parallel()
			const iid = 211
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glStrict, iid, "open", sha, nil).Payload())
			if st := p.st.GitLab.WaitStatus(t, glStrict.ID, sha, "failed"); !strings.Contains(st.Description, "Primary key issues") {
				t.Errorf("the failed status says %q", st.Description)
			}
			notes := p.st.GitLab.WaitNotes(t, glStrict.ID, iid, "one", func(n []gitlabtest.Note) bool { return len(n) == 1 })
			if !containsAll(notes[0].Body, "fail\\_on\\_primary\\_key\\_issues", fmt.Sprintf("%d MR rows have a duplicated key", figures[0].PRDuplicateRows)) {
				t.Errorf("the note does not say why it fails:\n%s", notes[0].Body)
			}
		})

		t.Run("refused tokens", func(t *testing.T) {
			t.Parallel()
			const iid = 210
			body := p.mr(glMarts, iid, "open", head(iid, 1), nil).Payload()
			for name, token := range map[string]string{"missing": "-", "wrong": "not-the-token"} {
				if code := p.deliverGL(t, gitlabtest.Delivery{Event: gitlabtest.MergeRequestHook, Body: body, IdempotencyKey: "refused-" + name, Token: token}); code != http.StatusUnauthorized {
					t.Errorf("%s token: answer %d; want 401", name, code)
				}
			}
			for id := range p.msgIDs(t, events.SubjectPREventPrefix+"gitlab") {
				if strings.HasPrefix(id, "gl:refused-") {
					t.Errorf("a refused hook was stored: %s", id)
				}
			}
			if n := len(p.st.GitLab.Statuses(glMarts.ID, head(iid, 1))); n != 0 {
				t.Errorf("%d statuses for refused hooks", n)
			}
		})

		t.Run("new commits mid-run, then a title edit", func(t *testing.T) {
			t.Parallel()
			const iid = 202
			a, b, c := head(iid, 1), head(iid, 2), head(iid, 3)
			p.ci(t, events.GitLab, iid, a)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "open", a, nil).Payload())
			p.st.GitLab.WaitStatus(t, glMarts.ID, a, "success")
			first := p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "one", func(n []gitlabtest.Note) bool { return len(n) == 1 })

			p.ci(t, events.GitLab, iid, b, waiting)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "update", b, func(e *gitlabtest.MergeRequestEvent) { e.OldRev = a }).Payload())
			p.waitGLRun(t, glMarts, iid, b)
			p.ci(t, events.GitLab, iid, c)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "update", c, func(e *gitlabtest.MergeRequestEvent) { e.OldRev = b }).Payload())
			p.st.GitLab.WaitStatus(t, glMarts.ID, b, "canceled")
			p.st.GitLab.WaitStatus(t, glMarts.ID, c, "success")
			notes := p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "one note showing the new head", func(n []gitlabtest.Note) bool {
				return len(n) == 1 && strings.Contains(n[0].Body, events.Short(c))
			})
			if notes[0].ID != first[0].ID || notes[0].Edits < 1 || strings.Contains(notes[0].Body, events.Short(a)) {
				t.Errorf("note %d edited %d times; want note %d edited to the new head", notes[0].ID, notes[0].Edits, first[0].ID)
			}
			checkComment(t, notes[0].Body, figures)

			// A title edit: no new commits, nothing new.
			before := len(stored[events.PREvent](t, p, events.SubjectPREventPrefix+"gitlab", p.repo(events.GitLab, glMarts.Path), iid))
			code, key := p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "update", c, func(e *gitlabtest.MergeRequestEvent) {
				e.TitleBefore, e.Title = e.Title, "Apply coupon discounts (and say so)"
			}).Payload())
			if code != http.StatusOK {
				t.Errorf("title edit answered %d", code)
			}
			p.settled(t, "gate-gitlab", events.SubjectPREventPrefix+"gitlab")
			after := stored[events.PREvent](t, p, events.SubjectPREventPrefix+"gitlab", p.repo(events.GitLab, glMarts.Path), iid)
			runs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitLab, glMarts.Path), iid)
			if len(after) != before || len(runs) != 3 {
				t.Errorf("after the title edit (%s): %d events (was %d), %d runs; want nothing new", key, len(after), before, len(runs))
			}
		})

		t.Run("the same hook twice", func(t *testing.T) {
			t.Parallel()
			const iid = 204
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha)
			d := gitlabtest.Delivery{Event: gitlabtest.MergeRequestHook, Body: p.mr(glMarts, iid, "open", sha, nil).Payload(), IdempotencyKey: p.delivery()}
			for i := range 2 {
				if code := p.deliverGL(t, d); code != http.StatusOK {
					t.Errorf("delivery %d answered %d", i+1, code)
				}
			}
			if n := p.msgIDs(t, events.SubjectPREventPrefix+"gitlab")["gl:"+d.IdempotencyKey]; n != 1 {
				t.Errorf("the hook is stored %d times; want once", n)
			}
			p.st.GitLab.WaitStatus(t, glMarts.ID, sha, "success")
			p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "one", func(n []gitlabtest.Note) bool { return len(n) == 1 })
			p.settled(t, "gate-gitlab", events.SubjectPREventPrefix+"gitlab")
			if rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitLab, glMarts.Path), iid); len(rs) != 1 {
				t.Errorf("%d runs; want one", len(rs))
			}
			if all := p.st.GitLab.Statuses(glMarts.ID, sha); len(all) != 1 {
				t.Errorf("%d status records; want one", len(all))
			}
		})

		t.Run("the trigger label", func(t *testing.T) {
			t.Parallel()
			const iid = 205
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glGated, iid, "open", sha, nil).Payload())
			st := p.st.GitLab.WaitStatus(t, glGated.ID, sha, "success")
			if !containsAll(st.Description, "Skipped", "`"+label+"`") {
				t.Errorf("the unlabelled status says %q", st.Description)
			}
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glGated, iid, "update", sha, func(e *gitlabtest.MergeRequestEvent) {
				e.LabelsBefore, e.Labels = []string{}, []string{label}
			}).Payload())
			st = p.waitGLStatus(t, glGated, sha, "the diff's success", func(st gitlabtest.Status) bool {
				return st.State == "success" && strings.Contains(st.Description, title)
			})
			notes := p.st.GitLab.WaitNotes(t, glGated.ID, iid, "one with the diff", func(n []gitlabtest.Note) bool {
				return len(n) == 1 && strings.Contains(n[0].Body, title)
			})
			checkComment(t, notes[0].Body, figures)
		})

		t.Run("files to ignore", func(t *testing.T) {
			t.Parallel()
			const iid = 206
			sha := head(iid, 1)
			p.mr(glGated, iid, "open", sha, nil)
			p.st.GitLab.SetDiffs(glGated.ID, iid, gitlabtest.Diff{OldPath: "README.md", NewPath: "README.md"},
				gitlabtest.Diff{OldPath: "docs/a.html", NewPath: "docs/b.html", RenamedFile: true})
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glGated, iid, "open", sha, func(e *gitlabtest.MergeRequestEvent) { e.Labels = []string{label} }).Payload())
			st := p.st.GitLab.WaitStatus(t, glGated.ID, sha, "success")
			if !containsAll(st.Description, "Skipped", "files_to_ignore") {
				t.Errorf("status says %q", st.Description)
			}
			p.settled(t, "gate-gitlab", events.SubjectPREventPrefix+"gitlab")
			if rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitLab, glGated.Path), iid); len(rs) != 0 {
				t.Errorf("a run was requested for ignored files")
			}
		})

		t.Run("a draft, marked ready, then closed mid-run", func(t *testing.T) {
			t.Parallel()
			const iid = 207
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha, waiting)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "open", sha, func(e *gitlabtest.MergeRequestEvent) {
				e.Draft, e.Title = true, "Draft: Apply coupon discounts"
			}).Payload())
			if st := p.st.GitLab.WaitStatus(t, glMarts.ID, sha, "success"); !containsAll(st.Description, "Skipped", "draft") {
				t.Errorf("the draft's status says %q", st.Description)
			}
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "update", sha, func(e *gitlabtest.MergeRequestEvent) {
				e.DraftBefore, e.TitleBefore = gitlabtest.Bool(true), "Draft: Apply coupon discounts"
			}).Payload())
			p.waitGLRun(t, glMarts, iid, sha)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "close", sha, nil).Payload())
			p.st.GitLab.WaitStatus(t, glMarts.ID, sha, "canceled")
			cs := stored[events.RunCancelled](t, p, events.SubjectRunCancelled, p.repo(events.GitLab, glMarts.Path), iid)
			if len(cs) != 1 || cs[0].Reason != events.CancelClosed {
				t.Errorf("cancellations %+v; want one, closed", cs)
			}
		})

		t.Run("/diffgate run", func(t *testing.T) {
			t.Parallel()
			const iid = 208
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha)
			e := p.mr(glMarts, iid, "open", sha, nil)
			p.sendGL(t, gitlabtest.MergeRequestHook, e.Payload())
			p.st.GitLab.WaitStatus(t, glMarts.ID, sha, "success")
			first := p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "one", func(n []gitlabtest.Note) bool { return len(n) == 1 })
			p.st.GitLab.SetMember(glMarts.ID, "lee", gitlabtest.AccessDeveloper)
			p.sendGL(t, gitlabtest.NoteHook, gitlabtest.NoteEvent{MergeRequest: e.MergeRequest, Note: "/diffgate run", Author: "lee"}.Payload())
			bustest.WaitFor(t, patience, func() error {
				all := p.st.GitLab.Statuses(glMarts.ID, sha)
				if len(all) != 2 || all[1].State != "success" {
					return fmt.Errorf("status records %d; want a second one, finished", len(all))
				}
				return nil
			})
			notes := p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "the note edited", func(n []gitlabtest.Note) bool { return len(n) == 1 && n[0].Edits >= 1 })
			if notes[0].ID != first[0].ID {
				t.Errorf("a new note")
			}
			rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitLab, glMarts.Path), iid)
			if len(rs) != 2 || rs[1].Run.Rerun == "" {
				t.Errorf("runs %+v; want the first and a re-run", rs)
			}
			checkComment(t, notes[0].Body, figures)
		})

		t.Run("a fork's merge request", func(t *testing.T) {
			t.Parallel()
			const iid = 209
			sha := head(iid, 1)
			p.ci(t, events.GitLab, iid, sha)
			p.sendGL(t, gitlabtest.MergeRequestHook, p.mr(glMarts, iid, "open", sha, func(e *gitlabtest.MergeRequestEvent) { e.Source = glFork }).Payload())
			st := p.st.GitLab.WaitStatus(t, glMarts.ID, sha, "success")
			if st.Ref != fmt.Sprintf("refs/merge-requests/%d/head", iid) {
				t.Errorf("status on ref %q", st.Ref)
			}
			notes := p.st.GitLab.WaitNotes(t, glMarts.ID, iid, "one on the target's MR", func(n []gitlabtest.Note) bool { return len(n) == 1 })
			checkComment(t, notes[0].Body, figures)
			if n := len(p.st.GitLab.AllStatuses(glFork.ID)); n != 0 {
				t.Errorf("%d statuses on the fork", n)
			}
			rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitLab, glMarts.Path), iid)
			if len(rs) != 1 || rs[0].Run.ProjectID != glMarts.ID {
				t.Errorf("runs %+v; want one on the target project", rs)
			}
		})
	})
}
