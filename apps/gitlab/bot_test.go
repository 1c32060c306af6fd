package gitlab_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/apps/gitlab"
	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/publish/publishtest"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

func TestOpenToFailedStatusAndOneNote(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	if code := h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, nil).Payload()); code != http.StatusOK {
		t.Fatalf("answer %d; want 200", code)
	}
	run := h.runOf(headA)
	if run.PR != iid || run.ProjectID != target.ID || run.Repository != h.repo || run.BaseSHA != baseSHA {
		t.Errorf("run %+v: want MR IID %d, project %d, repository %s, base from diff_refs", run, iid, target.ID, h.repo)
	}
	st := h.waitState(headA, "pending")
	if st.Ref != "feature/orders" || st.Description != "Waiting for the dbt Cloud CI run" {
		t.Errorf("pending status %+v", st)
	}
	publishtest.Progress(t, h.b, run, "running", "diffing 3/6")
	if st := h.waitState(headA, "running"); st.Description != "Diffing 3/6" {
		t.Errorf("running status says %q", st.Description)
	}

	in := reporttest.Diffs(run)
	in.FailOnPrimaryKeyIssues = true // the customers model has NULL and duplicated keys
	rr := h.finish(in, run, false)
	if rr.Conclusion != events.ConclusionFailure {
		t.Fatalf("the report concludes %s; the test wants a failure", rr.Conclusion)
	}
	st = h.waitState(headA, "failed")
	if !strings.HasPrefix(st.TargetURL, publicURL+"/details/"+run.ID()+"?t=") || st.Description == "" {
		t.Errorf("failed status %+v: want the details link and a description", st)
	}
	notes := h.gl.WaitNotes(t, target.ID, iid, "one note", func(n []gitlabtest.Note) bool { return len(n) == 1 })
	body := notes[0].Body
	if !strings.HasPrefix(body, report.StickyMarker) {
		t.Errorf("the note does not open with the marker:\n%.300s", body)
	}
	for _, want := range []string{events.Short(headA), "13,672", "2,311", "merge request"} {
		if !strings.Contains(body, want) {
			t.Errorf("the note lacks %q:\n%.1500s", want, body)
		}
	}
	if strings.Contains(body, "pull request") {
		t.Errorf("the note speaks of a pull request on GitLab")
	}
	if n := len(h.gl.AllStatuses(target.ID)); n != 1 {
		t.Errorf("%d status records; want one moved from pending to failed", n)
	}
}

func TestTokenIsRequired(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	body := h.mr("open", headA, nil).Payload()
	for name, token := range map[string]string{"missing": "-", "wrong": "not-the-secret-at-all", "prefix": secret[:5], "longer": secret + "x"} {
		t.Run(name, func(t *testing.T) {
			code, answer, err := h.hook.Send(h.ctx, gitlabtest.Delivery{Event: gitlabtest.MergeRequestHook, Body: body,
				IdempotencyKey: "refused-" + name, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			if code != http.StatusUnauthorized {
				t.Errorf("answer %d; want 401", code)
			}
			if token != "-" && strings.Contains(answer, token) {
				t.Errorf("the answer repeats the token: %q", answer)
			}
		})
	}
	if n := len(h.prEvents()); n != 0 {
		t.Errorf("%d events stored from refused deliveries", n)
	}
	if logs := h.logs.String(); strings.Contains(logs, "not-the-secret-at-all") || strings.Contains(logs, secret) {
		t.Errorf("a token reached the log:\n%s", logs)
	}
	if !strings.Contains(h.logs.String(), "X-Gitlab-Token") {
		t.Errorf("refusals are not logged")
	}
	if n := len(h.gl.AllStatuses(target.ID)); n != 0 {
		t.Errorf("%d statuses posted for refused deliveries", n)
	}
}

func TestNewCommitsSupersedeAndTheNoteIsEdited(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, nil).Payload())
	runA := h.runOf(headA)
	h.waitState(headA, "pending")

	h.send(gitlabtest.MergeRequestHook, h.mr("update", headB, func(e *gitlabtest.MergeRequestEvent) { e.OldRev = headA }).Payload())
	runB := h.runOf(headB)
	h.waitFor("the first run cancelled", func() bool {
		c := h.cancelled()
		return len(c) == 1 && c[0].Run.ID() == runA.ID() && c[0].Reason == events.CancelSuperseded && c[0].By == headB
	})

	in := reporttest.Clean()
	in.Cancelled = &events.RunCancelled{Run: runA, Reason: events.CancelSuperseded, By: headB}
	h.finish(in, runA, true)
	h.waitState(headA, "canceled")
	h.publisherSettled()
	if n := len(h.notes()); n != 0 {
		t.Fatalf("%d notes after a superseded run; it must leave the note to the newer run", n)
	}

	h.finish(reporttest.Clean(), runB, false)
	h.waitState(headB, "success")
	h.gl.WaitNotes(t, target.ID, iid, "one note of the second head", func(n []gitlabtest.Note) bool {
		return len(n) == 1 && strings.Contains(n[0].Body, events.Short(headB))
	})

	// A third push, while someone quotes the marker in a note of their own.
	h.gl.AddNote(target.ID, iid, "maria", report.StickyMarker+"\nquoting the bot")
	h.send(gitlabtest.MergeRequestHook, h.mr("update", headC, func(e *gitlabtest.MergeRequestEvent) { e.OldRev = headB }).Payload())
	runC := h.runOf(headC)
	h.finish(reporttest.Diffs(runC), runC, false)
	h.gl.WaitNotes(t, target.ID, iid, "the note edited to the third head", func(n []gitlabtest.Note) bool {
		return len(n) == 1 && n[0].Edits == 1 && strings.Contains(n[0].Body, events.Short(headC))
	})
	if all := h.gl.Notes(target.ID, iid); len(all) != 2 || all[1].Author != "maria" || all[1].Body != report.StickyMarker+"\nquoting the bot" {
		t.Errorf("notes %+v: the person's note must stay as it was", all)
	}
}

func TestUpdatesWithoutNewCommitsStartNothing(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, nil).Payload())
	h.runOf(headA)
	h.waitState(headA, "pending")
	for _, mod := range []func(*gitlabtest.MergeRequestEvent){
		func(e *gitlabtest.MergeRequestEvent) {
			e.TitleBefore, e.Title = "Change orders", "Change orders and returns"
		},
		func(e *gitlabtest.MergeRequestEvent) { e.TargetBranch = "release" },
		func(e *gitlabtest.MergeRequestEvent) { e.LabelsBefore, e.Labels = []string{"bug"}, nil },
	} {
		if code := h.send(gitlabtest.MergeRequestHook, h.mr("update", headA, mod).Payload()); code != http.StatusOK {
			t.Errorf("answer %d", code)
		}
	}
	h.send(gitlabtest.MergeRequestHook, h.mr("approved", headA, nil).Payload())
	h.gateSettled()
	if n := len(h.prEvents()); n != 1 {
		t.Errorf("%d events stored; updates without commits, labels or readiness store none", n)
	}
	if n := len(h.requested()); n != 1 {
		t.Errorf("%d runs; want the first only", n)
	}
}

func TestLabelFlow(t *testing.T) {
	h := newBot(t, func(c *config.CI) { c.PRLabel = "diffgate" })
	h.start()
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, func(e *gitlabtest.MergeRequestEvent) { e.Labels = []string{"bug"} }).Payload())
	st := h.waitState(headA, "success")
	if !strings.HasPrefix(st.Description, "Skipped") || !strings.Contains(st.Description, "`diffgate`") {
		t.Errorf("skipped status says %q; want it to say it skipped and which label to add", st.Description)
	}
	h.gl.WaitNotes(t, target.ID, iid, "a note naming the label", func(n []gitlabtest.Note) bool {
		return len(n) == 1 && contains(n[0].Body, "diffgate", "merge request")
	})
	if n := len(h.requested()); n != 0 {
		t.Fatalf("%d runs without the label", n)
	}
	// Two labels added at once: each is its own event, and the right one
	// starts the run.
	h.send(gitlabtest.MergeRequestHook, h.mr("update", headA, func(e *gitlabtest.MergeRequestEvent) {
		e.LabelsBefore, e.Labels = []string{"bug"}, []string{"bug", "backend", "diffgate"}
	}).Payload())
	run := h.runOf(headA)
	h.waitState(headA, "pending")
	evs := h.prEvents()
	if len(evs) != 3 || evs[1].Label != "backend" || evs[2].Label != "diffgate" || evs[2].Action != "labeled" {
		t.Errorf("events %+v: want one labeled event per label added", evs)
	}
	h.finish(reporttest.Clean(), run, false)
	h.waitState(headA, "success")
	h.gl.WaitNotes(t, target.ID, iid, "the note edited", func(n []gitlabtest.Note) bool { return len(n) == 1 && n[0].Edits == 1 })
}

func TestFilesToIgnoreOverTheDiffs(t *testing.T) {
	h := newBot(t, func(c *config.CI) { c.FilesToIgnore = []string{"docs/", "*.md"} })
	h.start()
	e := h.mr("open", headA, nil)
	diffs := []gitlabtest.Diff{{NewPath: "README.md"}}
	for i := range 130 {
		diffs = append(diffs, gitlabtest.Diff{NewPath: "docs/page" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ".html", NewFile: true})
	}
	diffs = append(diffs, gitlabtest.Diff{OldPath: "docs/old.html", NewPath: "docs/new.html", RenamedFile: true})
	h.gl.SetDiffs(target.ID, iid, diffs...)
	h.send(gitlabtest.MergeRequestHook, e.Payload())
	st := h.waitState(headA, "success")
	if !strings.Contains(st.Description, "files_to_ignore") {
		t.Errorf("status says %q", st.Description)
	}
	h.gl.WaitNotes(t, target.ID, iid, "a note with the reason", func(n []gitlabtest.Note) bool {
		return len(n) == 1 && contains(n[0].Body, "docs/", "133 changed files")
	})
	if got := h.gl.Requests()[gitlabtest.RouteDiffs]; got != 2 {
		t.Errorf("listed the diffs in %d requests; want 2 pages of 100", got)
	}

	// One file outside the patterns: a run.
	h.gl.SetDiffs(target.ID, iid, append(diffs, gitlabtest.Diff{NewPath: "models/orders.sql"})...)
	h.send(gitlabtest.MergeRequestHook, h.mr("update", headB, func(e *gitlabtest.MergeRequestEvent) { e.OldRev = headA }).Payload())
	h.runOf(headB)
}

func TestDraftReadyThenClosedMidRun(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, func(e *gitlabtest.MergeRequestEvent) {
		e.Draft, e.Title = true, "Draft: Change orders"
	}).Payload())
	if st := h.waitState(headA, "success"); !contains(st.Description, "Skipped", "draft merge request", "ready") {
		t.Errorf("draft status says %q", st.Description)
	}
	h.send(gitlabtest.MergeRequestHook, h.mr("update", headA, func(e *gitlabtest.MergeRequestEvent) {
		e.DraftBefore, e.TitleBefore = gitlabtest.Bool(true), "Draft: Change orders"
	}).Payload())
	run := h.runOf(headA)
	h.waitState(headA, "pending")

	h.send(gitlabtest.MergeRequestHook, h.mr("close", headA, nil).Payload())
	h.waitFor("the run cancelled as closed", func() bool {
		c := h.cancelled()
		return len(c) == 1 && c[0].Run.ID() == run.ID() && c[0].Reason == events.CancelClosed &&
			c[0].Message == "the merge request was closed"
	})
	in := reporttest.Clean()
	in.Cancelled = &events.RunCancelled{Run: run, Reason: events.CancelClosed}
	h.finish(in, run, false)
	h.waitState(headA, "canceled")

	// Merged: the same, with the word merged.
	h.send(gitlabtest.MergeRequestHook, h.mr("reopen", headA, nil).Payload())
	again := h.nthRun(2)
	if again.ID() == run.ID() || again.HeadSHA != headA {
		t.Fatalf("reopening: run %s of %.7s; want a new run of the head", again.ID(), again.HeadSHA)
	}
	h.send(gitlabtest.MergeRequestHook, h.mr("merge", headA, nil).Payload())
	h.waitFor("the reopened run cancelled as merged", func() bool {
		c := h.cancelled()
		return len(c) == 2 && c[1].Run.ID() == again.ID() && c[1].Message == "the merge request was merged"
	})
}

func TestRerunNote(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	e := h.mr("open", headA, nil)
	h.send(gitlabtest.MergeRequestHook, e.Payload())
	first := h.runOf(headA)
	h.finish(reporttest.Clean(), first, false)
	h.waitState(headA, "success")
	h.gl.WaitNotes(t, target.ID, iid, "one note", func(n []gitlabtest.Note) bool { return len(n) == 1 })

	// Notes that are not the command, an edited command, a system note,
	// and the command from a Reporter and from someone outside the
	// project: nothing.
	h.gl.SetMember(target.ID, "lee", gitlabtest.AccessDeveloper)
	h.gl.SetMember(target.ID, "rita", gitlabtest.AccessReporter)
	for _, n := range []gitlabtest.NoteEvent{
		{MergeRequest: e.MergeRequest, Note: "looks good; /diffgate run later?", Author: "lee"},
		{MergeRequest: e.MergeRequest, Note: "/diffgate run", Action: "update", Author: "lee"},
		{MergeRequest: e.MergeRequest, Note: "/diffgate run", System: true, Author: "lee"},
		{MergeRequest: e.MergeRequest, Note: "/diffgate run", Author: "rita"},
		{MergeRequest: e.MergeRequest, Note: "/diffgate run", Author: "stranger"},
	} {
		if code := h.send(gitlabtest.NoteHook, n.Payload()); code != http.StatusOK {
			t.Errorf("answer %d", code)
		}
	}
	h.gateSettled()
	if n := len(h.requested()); n != 1 {
		t.Fatalf("%d runs requested; a Reporter's or a stranger's /diffgate run must start none", n)
	}
	if n := h.gl.Requests()[gitlabtest.RouteMember]; n != 2 {
		t.Errorf("access read %d times; want once for each command", n)
	}
	h.send(gitlabtest.NoteHook, gitlabtest.NoteEvent{MergeRequest: e.MergeRequest, Note: "  /DiffGate   run \nplease", Author: "lee"}.Payload())
	again := h.nthRun(2)
	if again.ID() == first.ID() || again.HeadKey() != first.HeadKey() || again.BaseSHA != baseSHA {
		t.Fatalf("re-run %+v of %s: want a new run id of the same head, with the base from diff_refs", again, first.ID())
	}
	h.waitState(headA, "pending")
	h.finish(reporttest.Diffs(again), again, false)
	h.waitState(headA, "success")
	h.gl.WaitNotes(t, target.ID, iid, "the note edited", func(n []gitlabtest.Note) bool { return len(n) == 1 && n[0].Edits == 1 })
	if n := len(h.gl.Statuses(target.ID, headA)); n != 2 {
		t.Errorf("%d status records on the head; want one per run (GitLab starts a new one after a finished one)", n)
	}
}

func TestTheSameHookTwiceIsOneRun(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	body := h.mr("open", headA, nil).Payload()
	for name, d := range map[string]gitlabtest.Delivery{
		"idempotency key": {IdempotencyKey: "same-key"},
		"event uuid":      {EventUUID: "2e7ae4b6-5d2f-4c34-a0d4-1d4f3e1c0b8a"},
		"no headers":      {},
	} {
		d.Event, d.Body = gitlabtest.MergeRequestHook, body
		for range 2 {
			if code := h.deliver(d); code != http.StatusOK {
				t.Errorf("%s: answer %d", name, code)
			}
		}
	}
	evs := h.prEvents()
	if len(evs) != 3 {
		t.Fatalf("%d events stored; want one per distinct delivery", len(evs))
	}
	if evs[0].DeliveryID == evs[1].DeliveryID || evs[1].DeliveryID == evs[2].DeliveryID {
		t.Errorf("delivery ids %q %q %q", evs[0].DeliveryID, evs[1].DeliveryID, evs[2].DeliveryID)
	}
	h.gateSettled()
	if n := len(h.requested()); n != 1 {
		t.Errorf("%d runs; the same merge request head runs once", n)
	}
}

func TestForkMergeRequest(t *testing.T) {
	h := newBot(t, nil)
	h.source = fork
	h.gl.AddProject(fork)
	h.start()
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, nil).Payload())
	run := h.runOf(headA)
	evs := h.prEvents()
	if !evs[0].Fork || evs[0].SourceProjectID != fork.ID || run.ProjectID != target.ID || run.Repository != h.repo {
		t.Errorf("event %+v: want a fork of project %d into %s", evs[0], fork.ID, h.repo)
	}
	st := h.waitState(headA, "pending")
	if st.Ref != "refs/merge-requests/12/head" {
		t.Errorf("status on ref %q; a fork's commits are in the target project under refs/merge-requests/12/head", st.Ref)
	}
	h.finish(reporttest.Clean(), run, false)
	h.waitState(headA, "success")
	h.gl.WaitNotes(t, target.ID, iid, "one note on the target project's MR", func(n []gitlabtest.Note) bool { return len(n) == 1 })
	if n := len(h.gl.AllStatuses(fork.ID)); n != 0 {
		t.Errorf("%d statuses on the fork; the bot's token is the target project's", n)
	}
	// A re-run asked on a fork's merge request, by a Developer.
	h.gl.SetMember(target.ID, "maria", gitlabtest.AccessMaintainer)
	h.send(gitlabtest.NoteHook, gitlabtest.NoteEvent{MergeRequest: h.mr("update", headA, nil).MergeRequest, Note: gitlab.RerunCommand}.Payload())
	h.waitFor("the fork's MR run again", func() bool { r := h.requested(); return len(r) == 2 && r[1].Run.Rerun != "" })
}

func TestStatusJoinsTheMergeRequestPipeline(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	e := h.mr("open", headA, nil)
	ci := h.gl.AddPipeline(target.ID, gitlabtest.Pipeline{SHA: headA, Ref: "refs/merge-requests/12/head", Source: "merge_request_event"})
	h.send(gitlabtest.MergeRequestHook, e.Payload())
	run := h.runOf(headA)
	st := h.waitState(headA, "pending")
	if st.PipelineID != ci {
		t.Errorf("status in pipeline %d; want the merge request pipeline %d", st.PipelineID, ci)
	}
	h.finish(reporttest.Clean(), run, false)
	h.waitState(headA, "success")
	if n := len(h.gl.Pipelines(target.ID)); n != 1 {
		t.Errorf("%d pipelines; the status must not start one beside the merge request's", n)
	}
}

func TestRateLimitsComeBackLater(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	h.gl.RateLimit(3)
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, nil).Payload())
	run := h.runOf(headA)
	h.waitState(headA, "pending")
	h.finish(reporttest.Clean(), run, false)
	h.waitState(headA, "success")
	h.gl.WaitNotes(t, target.ID, iid, "one note", func(n []gitlabtest.Note) bool { return len(n) == 1 })
	if n := h.gl.Limited(); n != 3 {
		t.Errorf("%d requests answered 429; want the 3 injected", n)
	}
}

func TestOtherEventsAndBadPayloads(t *testing.T) {
	h := newBot(t, nil)
	for _, c := range []struct {
		event string
		body  string
		want  int
	}{
		{"Push Hook", `{"object_kind":"push"}`, http.StatusAccepted},
		{gitlabtest.MergeRequestHook, `{"object_kind":`, http.StatusBadRequest},
		{gitlabtest.MergeRequestHook, `{"object_kind":"note"}`, http.StatusBadRequest},
		{gitlabtest.MergeRequestHook, `{"object_kind":"merge_request","object_attributes":{"action":"open","iid":3}}`, http.StatusBadRequest},
		{gitlabtest.NoteHook, `{"object_kind":"note","object_attributes":{"noteable_type":"Issue","note":"/diffgate run"}}`, http.StatusOK},
	} {
		code, answer, err := h.hook.Send(h.ctx, gitlabtest.Delivery{Event: c.event, Body: []byte(c.body)})
		if err != nil {
			t.Fatal(err)
		}
		if code != c.want {
			t.Errorf("%s %s: answer %d %q; want %d", c.event, c.body, code, answer, c.want)
		}
	}
	if n := len(h.prEvents()); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

func TestPublishFailureAnswers500(t *testing.T) {
	h := newBot(t, nil)
	closed := bustest.Another(t, h.b)
	closed.Close()
	log := zerolog.Nop()
	srv := httptest.NewServer(gitlab.Webhook(&log, secret, closed, h.gl.Host()))
	t.Cleanup(srv.Close)
	code, answer, err := gitlabtest.Hook{URL: srv.URL, Secret: secret}.Send(h.ctx,
		gitlabtest.Delivery{Event: gitlabtest.MergeRequestHook, Body: h.mr("open", headA, nil).Payload()})
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusInternalServerError {
		t.Errorf("answer %d %q; want 500 so GitLab shows the delivery failed", code, answer)
	}
}

func TestDetailsPageOpens(t *testing.T) {
	h := newBot(t, nil)
	h.start()
	h.send(gitlabtest.MergeRequestHook, h.mr("open", headA, nil).Payload())
	run := h.runOf(headA)
	h.finish(reporttest.Diffs(run), run, false)
	st := h.waitState(headA, "success")
	resp, err := http.Get(strings.TrimSuffix(h.hook.URL, gitlab.HookRoute) + strings.TrimPrefix(st.TargetURL, publicURL))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !contains(string(page), events.Short(headA), "!12") {
		t.Errorf("details page answered %d:\n%.300s", resp.StatusCode, page)
	}
}

func (h *bot) finish(in report.Input, run events.Run, superseded bool) events.RunReport {
	h.t.Helper()
	return publishtest.Finish(h.t, h.b, in, run, superseded)
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestHookStoredAfterTheSenderHungUp: GitLab does not send a failed hook
// again by itself, so the event is stored even when the request's context
// ended before the publish.
func TestHookStoredAfterTheSenderHungUp(t *testing.T) {
	h := newBot(t, nil)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		cancel() // the sender hung up
		h.mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer gone.Close()
	hook := gitlabtest.Hook{URL: gone.URL + gitlab.HookRoute, Secret: h.hook.Secret}
	if _, _, err := hook.Send(h.ctx, gitlabtest.Delivery{Event: gitlabtest.MergeRequestHook, Body: h.mr("open", headA, nil).Payload(),
		IdempotencyKey: "hung-up"}); err != nil {
		t.Fatal(err)
	}
	if evs := h.prEvents(); len(evs) != 1 || evs[0].DeliveryID != "hung-up" {
		t.Errorf("events %+v; want the delivery stored", evs)
	}
}
