package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/publish/publishtest"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

const headC = "dddddddddddddddddddddddddddddddddddddddd"

// checkOf returns the check runs of one head.
func (h *harness) checkOf(head string) []githubtest.CheckRun {
	var out []githubtest.CheckRun
	for _, c := range h.checkRuns() {
		if c.HeadSHA == head {
			out = append(out, c)
		}
	}
	return out
}

// waitCheck waits until the head has exactly one check run in status
// (and conclusion, when given) and returns it.
func (h *harness) waitCheck(head, status, conclusion string) githubtest.CheckRun {
	h.t.Helper()
	var got githubtest.CheckRun
	h.waitFor(fmt.Sprintf("check run of %s %s %s", head[:7], status, conclusion), func() bool {
		cs := h.checkOf(head)
		if len(cs) != 1 {
			return false
		}
		got = cs[0]
		return got.Status == status && (conclusion == "" || got.Conclusion == conclusion)
	})
	return got
}

// requested returns the runs the gate requested.
func (h *harness) requested() []events.RunRequested {
	return bustest.Stored[events.RunRequested](h.t, h.b, events.SubjectRunRequested)
}

func (h *harness) cancelled() []events.RunCancelled {
	return bustest.Stored[events.RunCancelled](h.t, h.b, events.SubjectRunCancelled)
}

// drained waits until a consumer of the App has handled everything
// stored for it: then "nothing changed" can be asserted.
func (h *harness) drained(consumer string) {
	h.t.Helper()
	bustest.WaitFor(h.t, 20*time.Second, func() error {
		return bustest.Idle(h.t, h.b, bus.StreamOf(events.SubjectRunStatusPrefix), consumer)
	})
}

func (h *harness) status(run events.Run, state, msg string) {
	h.t.Helper()
	publishtest.Progress(h.t, h.b, run, state, msg)
}

// runOf is the run the gate requested for a head (the newest).
func (h *harness) runOf(head string) events.Run {
	h.t.Helper()
	var run events.Run
	h.waitFor("run of "+head[:7]+" requested", func() bool {
		for _, r := range h.requested() {
			if r.Run.HeadSHA == head {
				run = r.Run
			}
		}
		return run.HeadSHA != ""
	})
	return run
}

func TestOpenedToCompletedCheckAndOneComment(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	if code, _ := h.send("pull_request", h.pr("opened", headA, nil).Payload()); code != http.StatusOK {
		t.Fatalf("answer %d", code)
	}
	run := h.runOf(headA)
	cr := h.waitCheck(headA, "queued", "")
	if cr.Name != "diffgate" || cr.ExternalID != run.HeadKey() || cr.Title != "Waiting for the dbt Cloud CI run" {
		t.Errorf("queued check %+v", cr)
	}
	h.status(run, "running", "diffing 3/12")
	h.waitFor("check in progress", func() bool { c := h.checkOf(headA); return len(c) == 1 && c[0].Status == "in_progress" })

	rr := h.finish(reporttest.Diffs(run), run, false)
	cr = h.waitCheck(headA, "completed", string(rr.Conclusion))
	if cr.Title != rr.Title || !strings.HasPrefix(cr.DetailsURL, publicURL+"/details/"+run.ID()+"?t=") {
		t.Errorf("completed check %+v", cr)
	}
	h.waitFor("one comment", func() bool { return len(h.comments()) == 1 })
	body := h.comments()[0].Body
	if !strings.HasPrefix(body, report.StickyMarker) || !strings.Contains(body, events.Short(headA)) {
		t.Errorf("comment does not open with the marker or name the head:\n%.300s", body)
	}

	// The details link opens the run's page.
	resp, err := http.Get(h.srv.URL + strings.TrimPrefix(cr.DetailsURL, publicURL))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), events.Short(headA)) {
		t.Errorf("details page answered %d", resp.StatusCode)
	}

	// A status arriving late, and the report redelivered: nothing changes.
	h.status(run, "running", "diffing 12/12")
	h.drained("publish-status-github")
	h.drained("publish-report-github")
	if c := h.checkOf(headA); len(c) != 1 || c[0].Status != "completed" {
		t.Errorf("check after a late status: %+v", c)
	}
	if n := len(h.comments()); n != 1 {
		t.Errorf("%d comments; want 1", n)
	}
}

func TestNewPushSupersedesAndTheCommentIsEdited(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.send("pull_request", h.pr("opened", headA, nil).Payload())
	runA := h.runOf(headA)
	h.waitCheck(headA, "queued", "")

	h.send("pull_request", h.pr("synchronize", headB, func(p *githubtest.PullRequest) { p.Before = headA }).Payload())
	runB := h.runOf(headB)
	h.waitFor("the first run cancelled", func() bool {
		c := h.cancelled()
		return len(c) == 1 && c[0].Run.ID() == runA.ID() && c[0].Reason == events.CancelSuperseded && c[0].By == headB
	})
	h.waitCheck(headB, "queued", "")

	// The reporter ends the first run as superseded.
	in := reporttest.Clean()
	in.Cancelled = &events.RunCancelled{Run: runA, Reason: events.CancelSuperseded, By: headB}
	h.finish(in, runA, true)
	h.waitCheck(headA, "completed", "cancelled")
	h.drained("publish-report-github")
	if n := len(h.comments()); n != 0 {
		t.Fatalf("%d comments after a superseded run; it must leave the comment alone", n)
	}

	h.finish(reporttest.Diffs(runB), runB, false)
	h.waitFor("one comment on the second head", func() bool {
		c := h.comments()
		return len(c) == 1 && strings.Contains(c[0].Body, events.Short(headB))
	})

	// A third push: the same comment, edited.
	h.send("pull_request", h.pr("synchronize", headC, func(p *githubtest.PullRequest) { p.Before = headB }).Payload())
	runC := h.runOf(headC)
	h.finish(reporttest.Clean(), runC, false)
	h.waitFor("the comment edited to the third head", func() bool {
		c := h.comments()
		return len(c) == 1 && c[0].Edits == 1 && strings.Contains(c[0].Body, events.Short(headC))
	})
	if n := len(h.checkRuns()); n != 3 {
		t.Errorf("%d check runs; want one per head", n)
	}
}

func TestRerunUpdatesTheSameCheckRun(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.send("pull_request", h.pr("opened", headA, nil).Payload())
	first := h.runOf(headA)
	h.finish(reporttest.Clean(), first, false)
	cr := h.waitCheck(headA, "completed", "success")

	h.send("check_run", githubtest.CheckRunRerequested{Repo: repoName, CheckRunID: cr.ID, Name: "diffgate", HeadSHA: headA,
		HeadRef: "feature", ExternalID: cr.ExternalID, AppID: h.gh.AppID(), Installation: installID,
		PRs: []githubtest.CheckRunPR{{Number: 12, HeadSHA: headA, HeadRef: "feature", BaseSHA: baseSHA, BaseRef: "main"}}}.Payload())
	var again events.Run
	h.waitFor("a second run of the head", func() bool {
		r := h.requested()
		if len(r) == 2 {
			again = r[1].Run
		}
		return len(r) == 2
	})
	if again.ID() == first.ID() || again.HeadKey() != first.HeadKey() {
		t.Fatalf("re-run %s of %s: want a new run id with the same head key", again.ID(), first.ID())
	}
	h.waitCheck(headA, "queued", "")
	h.finish(reporttest.Diffs(again), again, false)
	cr2 := h.waitCheck(headA, "completed", "")
	if cr2.ID != cr.ID {
		t.Errorf("re-run made check run %d; want the same one (%d) updated", cr2.ID, cr.ID)
	}
	h.waitFor("the comment edited", func() bool { c := h.comments(); return len(c) == 1 && c[0].Edits == 1 })
}

func TestRerunOfAFork(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.send("pull_request", h.pr("opened", headA, func(p *githubtest.PullRequest) { p.HeadRepo = "contributor/analytics" }).Payload())
	first := h.runOf(headA)
	h.finish(reporttest.Clean(), first, false)
	cr := h.waitCheck(headA, "completed", "success")
	// GitHub names no pull request for a fork's check run.
	h.send("check_run", githubtest.CheckRunRerequested{Repo: repoName, CheckRunID: cr.ID, Name: "diffgate", HeadSHA: headA,
		ExternalID: cr.ExternalID, AppID: h.gh.AppID(), Installation: installID}.Payload())
	h.waitFor("the fork's PR run again", func() bool {
		r := h.requested()
		return len(r) == 2 && r[1].Run.PR == 12 && r[1].Run.Rerun != ""
	})
	if got := h.gh.Requests()["GET /repos/{owner}/{repo}/commits/{sha}/pulls"]; got != 1 {
		t.Errorf("looked the pull request up %d times; want once", got)
	}
}

func TestLabelFlow(t *testing.T) {
	h := newHarness(t, func(c *config.CI) { c.PRLabel = "diffgate" })
	h.start()
	h.send("pull_request", h.pr("opened", headA, nil).Payload())
	cr := h.waitCheck(headA, "completed", "neutral")
	if !strings.Contains(cr.Title+cr.Summary, "diffgate") {
		t.Errorf("neutral check does not say which label to add: %q / %q", cr.Title, cr.Summary)
	}
	h.waitFor("a comment saying which label to add", func() bool {
		c := h.comments()
		return len(c) == 1 && strings.Contains(c[0].Body, "diffgate")
	})
	if n := len(h.requested()); n != 0 {
		t.Fatalf("%d runs requested without the label", n)
	}
	h.send("pull_request", h.pr("labeled", headA, func(p *githubtest.PullRequest) {
		p.Label, p.Labels = "diffgate", []string{"diffgate"}
	}).Payload())
	h.runOf(headA)
	h.waitCheck(headA, "queued", "")
}

func TestFilesToIgnore(t *testing.T) {
	h := newHarness(t, func(c *config.CI) { c.FilesToIgnore = []string{"docs/", "*.md"} })
	h.start()
	p := h.pr("opened", headA, nil)
	files := []githubtest.File{{Filename: "README.md", Status: "modified"}}
	for i := range 150 { // two pages
		files = append(files, githubtest.File{Filename: fmt.Sprintf("docs/page%d.html", i), Status: "added"})
	}
	files = append(files, githubtest.File{Filename: "docs/new.html", PreviousFilename: "docs/old.html", Status: "renamed"})
	h.gh.SetFiles(repoName, 12, files...)
	h.send("pull_request", p.Payload())
	cr := h.waitCheck(headA, "completed", "neutral")
	h.waitFor("a comment with the reason", func() bool {
		c := h.comments()
		return len(c) == 1 && strings.Contains(c[0].Body, "docs/") && strings.Contains(c[0].Body, "153")
	})
	if !strings.Contains(cr.Summary, "docs/") {
		t.Errorf("check summary does not name the pattern: %q", cr.Summary)
	}
	if got := h.gh.Requests()["GET /repos/{owner}/{repo}/pulls/{n}/files"]; got != 2 {
		t.Errorf("listed files in %d requests; want 2 pages of 100", got)
	}
}

func TestDraftThenClosedMidRun(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.send("pull_request", h.pr("opened", headA, func(p *githubtest.PullRequest) { p.Draft = true }).Payload())
	h.waitCheck(headA, "completed", "neutral")
	h.send("pull_request", h.pr("ready_for_review", headA, nil).Payload())
	run := h.runOf(headA)
	h.waitCheck(headA, "queued", "")

	h.send("pull_request", h.pr("closed", headA, nil).Payload())
	h.waitFor("the run cancelled as closed", func() bool {
		c := h.cancelled()
		return len(c) == 1 && c[0].Run.ID() == run.ID() && c[0].Reason == events.CancelClosed
	})
	in := reporttest.Clean()
	in.Cancelled = &events.RunCancelled{Run: run, Reason: events.CancelClosed}
	h.finish(in, run, false)
	h.waitCheck(headA, "completed", "cancelled")
}

func TestRateLimitsComeBackLater(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.gh.RateLimit(githubtest.SecondaryLimit, 1)
	h.gh.RateLimit(githubtest.TooManyRequests, 1)
	h.gh.RateLimit(githubtest.PrimaryLimit, 1)
	h.send("pull_request", h.pr("opened", headA, nil).Payload())
	run := h.runOf(headA)
	h.waitCheck(headA, "queued", "")
	h.finish(reporttest.Clean(), run, false)
	h.waitCheck(headA, "completed", "success")
	h.waitFor("one comment", func() bool { return len(h.comments()) == 1 })
	if n := h.gh.Limited(); n != 3 {
		t.Errorf("%d requests answered with a rate limit; want the 3 injected", n)
	}
}

// TestTwoProcessesMakeOneCheckRun runs the App twice on one deployment
// and floods one head with statuses: still one check run.
func TestTwoProcessesMakeOneCheckRun(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	h.run(h.another()...)
	h.send("pull_request", h.pr("opened", headA, nil).Payload())
	run := h.runOf(headA)
	for i := range 12 {
		h.status(run, "running", fmt.Sprintf("diffing %d/12", i))
	}
	h.finish(reporttest.Clean(), run, false)
	h.waitCheck(headA, "completed", "success")
	h.drained("publish-status-github")
	if n := len(h.checkOf(headA)); n != 1 {
		t.Errorf("%d check runs for one head", n)
	}
	if n := len(h.comments()); n != 1 {
		t.Errorf("%d comments", n)
	}
}

// TestOnlyTheAppsOwnCommentIsEdited: a person who copied the marker and
// another diffgate App on the same repository (a staging deployment) keep
// their comments; this App writes its own, and edits only that one.
func TestOnlyTheAppsOwnCommentIsEdited(t *testing.T) {
	h := newHarness(t, nil)
	copied := report.StickyMarker + "\nlike this?"
	staging := report.StickyMarker + "\nstaging's report"
	h.gh.AddComment(repoName, 12, "maria", copied)
	h.gh.AddComment(repoName, 12, "diffgate-staging[bot]", staging)
	h.start()
	h.send("pull_request", h.pr("opened", headA, nil).Payload())
	runA := h.runOf(headA)
	h.finish(reporttest.Clean(), runA, false)
	h.waitFor("the App's own comment beside the others", func() bool { return len(h.comments()) == 3 })

	h.send("pull_request", h.pr("synchronize", headB, func(p *githubtest.PullRequest) { p.Before = headA }).Payload())
	runB := h.runOf(headB)
	h.finish(reporttest.Clean(), runB, false)
	h.waitFor("the App's comment edited to the second head", func() bool {
		for _, c := range h.comments() {
			if c.User == githubtest.BotLogin && c.Edits == 1 && strings.Contains(c.Body, events.Short(headB)) {
				return true
			}
		}
		return false
	})
	got := h.comments()
	if len(got) != 3 || got[0].Body != copied || got[0].Edits != 0 || got[1].Body != staging || got[1].Edits != 0 {
		t.Errorf("comments %+v; want maria's and staging's untouched, and the App's own", got)
	}
	if n := h.gh.Requests()["GET /app"]; n != 1 {
		t.Errorf("GET /app asked %d times; the App's login is read once", n)
	}
}
