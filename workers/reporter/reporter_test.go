package reporter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// sampleCounts is what the sample project's report must count: every
// result gathered, none missing.
var sampleCounts = report.Counts{Total: 6, Compared: 4, Differs: 3, Unchanged: 1, New: 1, NotBuilt: 1, KeyIssues: 1, Downstream: 3}

func TestPlanThenResults(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	in := sample(101)

	h.plan(in)
	h.waitStatus(in.Run, "diffing 0/6")
	for i, dr := range in.Results[:5] {
		h.publish(dr)
		h.waitStatus(in.Run, fmt.Sprintf("diffing %d/6", i+1))
	}
	if got := h.reports(in.Run); len(got) != 0 {
		t.Fatalf("a report before the last result: %+v", got)
	}
	h.publish(in.Results[5])

	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionSuccess || rr.Superseded {
		t.Errorf("conclusion %s (superseded %v), want success", rr.Conclusion, rr.Superseded)
	}
	if diff := cmp.Diff(sampleCounts, rep.Count()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if rr.Title != "3 of 4 models differ" {
		t.Errorf("title %q", rr.Title)
	}
	if rep.Plan == nil || rep.Plan.ProjectName != "jaffle" || rep.Integration != "analytics" {
		t.Errorf("the report lacks the plan or the integration: %+v", rep.Plan)
	}
	want := []string{"diffing 0/6", "diffing 1/6", "diffing 2/6", "diffing 3/6", "diffing 4/6", "diffing 5/6"}
	if diff := cmp.Diff(want, h.statuses(in.Run)); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}

func TestResultsBeforePlan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	in := sample(102)

	for _, dr := range in.Results {
		h.publish(dr)
		h.again(dr) // a differ that ran the task twice
	}
	h.settle(ConsumerResult)
	if got := h.reports(in.Run); len(got) != 0 {
		t.Fatalf("a report without a plan: %+v", got)
	}
	if got := h.statuses(in.Run); len(got) != 0 {
		t.Errorf("progress without a plan (no total to count to): %q", got)
	}

	h.plan(in)
	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionSuccess {
		t.Errorf("conclusion %s, want success", rr.Conclusion)
	}
	if diff := cmp.Diff(sampleCounts, rep.Count()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got := h.statuses(in.Run); len(got) != 0 {
		t.Errorf("progress for a run that was complete when planned: %q", got)
	}
}

func TestDuplicatesAndTwoProcesses(t *testing.T) {
	t.Parallel()
	servers := map[string]func(testing.TB) *harness{"nats 2.9": newHarness, "current nats": newEmbeddedHarness}
	for name, server := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			duplicatesAndTwoProcesses(t, server(t))
		})
	}
}

func duplicatesAndTwoProcesses(t *testing.T, h *harness) {
	cfg := loadConfig(t, false)
	h.start(cfg, Options{})
	h.start(cfg, Options{})
	in, _ := reporttest.Split(reporttest.Big(40))

	for i, dr := range in.Results {
		if i == 17 {
			h.plan(in)
		}
		h.publish(dr)
		h.again(dr)
	}

	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	c := rep.Count()
	if c.Total != 40 || c.Errors != 0 || len(rep.Results) != 40 {
		t.Errorf("counts %+v with %d results, want 40 models, none missing", c, len(rep.Results))
	}
	if rr.Conclusion != events.ConclusionSuccess {
		t.Errorf("conclusion %s", rr.Conclusion)
	}
	if s := h.state(in.Run); len(s.Done) != 40 || !s.Reported {
		t.Errorf("state counts %d results (reported %v), want 40", len(s.Done), s.Reported)
	}
	// Progress only ever counts up to 39/40, each count once at most.
	seen := map[string]bool{}
	for _, st := range h.statuses(in.Run) {
		var done, total int
		if _, err := fmt.Sscanf(st, "diffing %d/%d", &done, &total); err != nil || total != 40 || done >= 40 || seen[st] {
			t.Errorf("progress %q", st)
		}
		seen[st] = true
	}
}

func TestCancelledMidRun(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		reason     string
		by         string
		superseded bool
		title      string
	}{
		"superseded": {events.CancelSuperseded, strings.Repeat("ab", 20), true, "Cancelled: superseded by abababa"},
		"closed":     {events.CancelClosed, "", false, "Cancelled: closed"},
		"ci":         {events.CancelCI, "", false, "Cancelled: the dbt Cloud CI run was cancelled"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.start(loadConfig(t, false), Options{})
			in := sample(103)
			h.plan(in)
			h.publish(in.Results[0])
			h.publish(in.Results[1])
			h.waitStatus(in.Run, "diffing 2/6")

			h.publish(events.RunCancelled{Version: events.Version, Run: in.Run, Reason: tc.reason, By: tc.by, At: time.Now()})
			rr, rep := h.waitReport(in.Run)
			for _, dr := range in.Results[2:] {
				h.publish(dr)
			}
			h.publish(events.RunFailed{Version: events.Version, Run: in.Run, Stage: events.StageDiff, Code: events.FailInternal, Message: "late"})

			got := h.exactlyOne(in.Run)
			if got.Conclusion != events.ConclusionCancelled || rr.Superseded != tc.superseded || rr.Title != tc.title {
				t.Errorf("report %s %q (superseded %v), want cancelled %q (superseded %v)", got.Conclusion, got.Title, rr.Superseded, tc.title, tc.superseded)
			}
			if rep.Cancel == nil || rep.Cancel.Reason != tc.reason {
				t.Errorf("stored report's cancel: %+v", rep.Cancel)
			}
			if s := h.state(in.Run); len(s.Done) != 2 {
				t.Errorf("%d results counted after the cancel, want the 2 from before", len(s.Done))
			}
			// Progress of concurrent handlers may land out of order; none
			// may count a result that came after the cancel.
			for _, st := range h.statuses(in.Run) {
				var done int
				if _, err := fmt.Sscanf(st, "diffing %d/6", &done); err != nil || done > 2 {
					t.Errorf("progress after the cancel: %q", st)
				}
			}
		})
	}
}

func TestNoLongerCurrentWhenFinishing(t *testing.T) {
	t.Parallel()
	newer := sampleRun(104)
	newer.HeadSHA = "c0ffee0000000000000000000000000000000000"
	tests := map[string]struct {
		head       func(run events.Run) events.PRHead
		conclusion events.Conclusion
		superseded bool
		title      string
	}{
		"superseded by a newer head": {
			head:       func(events.Run) events.PRHead { return events.PRHead{RunID: newer.ID(), Run: newer, Seq: 9} },
			conclusion: events.ConclusionCancelled, superseded: true, title: "Cancelled: superseded by c0ffee0",
		},
		"closed": {
			head: func(run events.Run) events.PRHead {
				return events.PRHead{RunID: run.ID(), Run: run, Closed: true, Seq: 9}
			},
			conclusion: events.ConclusionCancelled, title: "Cancelled: closed",
		},
		"still current": {
			head:       func(run events.Run) events.PRHead { return events.PRHead{RunID: run.ID(), Run: run, Seq: 9} },
			conclusion: events.ConclusionSuccess, title: "3 of 4 models differ",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.start(loadConfig(t, false), Options{})
			in := sample(104)
			prs, err := h.b.KV(h.ctx, events.BucketPRs)
			if err != nil {
				t.Fatal(err)
			}
			head, _ := json.Marshal(tc.head(in.Run))
			if _, err := prs.Put(h.ctx, in.Run.PRKey(), head); err != nil {
				t.Fatal(err)
			}
			h.plan(in)
			for _, dr := range in.Results {
				h.publish(dr)
			}
			rr, _ := h.waitReport(in.Run)
			h.exactlyOne(in.Run)
			if rr.Conclusion != tc.conclusion || rr.Superseded != tc.superseded || rr.Title != tc.title {
				t.Errorf("report %s %q (superseded %v), want %s %q (superseded %v)", rr.Conclusion, rr.Title, rr.Superseded, tc.conclusion, tc.title, tc.superseded)
			}
		})
	}
}

func TestRunFailed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	f := *reporttest.CIFailure().Failure
	f.Run = sampleRun(105)

	h.publish(f)
	rr, rep := h.waitReport(f.Run)
	h.exactlyOne(f.Run)
	if rr.Conclusion != events.ConclusionFailure || rr.Title != "dbt Cloud CI run #4421 failed" {
		t.Errorf("report %s %q", rr.Conclusion, rr.Title)
	}
	want := &report.Failure{Stage: f.Stage, Code: f.Code, Message: f.Message, Hint: f.Hint, Link: f.Link}
	if diff := cmp.Diff(want, rep.Failure); diff != "" {
		t.Errorf("failure (-want +got):\n%s", diff)
	}
	if rep.Integration != "analytics" {
		t.Errorf("integration %q, want the repository's", rep.Integration)
	}
}

func TestDeadLetterOfATask(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	// A differ that can never read the orders table.
	h.failing("differ-warehouse", events.SubjectDiffTaskPrefix+"warehouse", 2, errors.New("permission denied for table orders"))
	in := sample(106)
	orders := reporttest.ByName(in.Plan, "orders")

	h.plan(in)
	h.publish(events.DiffTask{Version: events.Version, Run: in.Run, Integration: "analytics", DataSource: "warehouse",
		ModelID: orders.ID, ModelName: orders.Name, Kind: events.KindDBT, PR: events.DiffSide{Relation: orders.PR}, Key: orders.PrimaryKey})
	for _, dr := range in.Results {
		if dr.ModelID != orders.ID {
			h.publish(dr)
		}
	}

	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionFailure || rr.Title != "1 of 6 models could not be diffed" {
		t.Errorf("report %s %q", rr.Conclusion, rr.Title)
	}
	m, ok := rep.Model(orders.ID)
	if !ok || m.Err() == nil {
		t.Fatalf("orders has no error: %+v", m)
	}
	if want := "the diff of `orders` failed after 2 attempts: permission denied for table orders"; m.Err().Message != want {
		t.Errorf("orders error %q, want %q", m.Err().Message, want)
	}
	if !strings.Contains(m.Err().Hint, "differ-warehouse") {
		t.Errorf("hint %q does not name the consumer", m.Err().Hint)
	}
	if c := rep.Count(); c.Errors != 1 || c.Total != 6 {
		t.Errorf("counts %+v, want 6 models, 1 error", c)
	}
}

func TestDeadLetterOfAnotherStage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	h.failing("impact", events.SubjectManifestsResolved, 1, errors.New("manifest digest mismatch"))
	run := sampleRun(107)

	h.publish(events.ManifestsResolved{Version: events.Version, Run: run, Integration: "analytics",
		PRManifest: events.ObjectRef{Name: "manifests/aa"}, ProdManifest: events.ObjectRef{Name: "manifests/bb"}})

	rr, rep := h.waitReport(run)
	h.exactlyOne(run)
	if rr.Conclusion != events.ConclusionFailure || rr.Title != "Could not finish: the impact stage failed" {
		t.Errorf("report %s %q", rr.Conclusion, rr.Title)
	}
	if rep.Failure == nil || rep.Failure.Stage != events.StageImpact || !strings.Contains(rep.Failure.Message, "manifest digest mismatch") {
		t.Errorf("failure %+v", rep.Failure)
	}
}

func TestPoisonResultFailsTheRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	in := sample(108)
	h.plan(in)
	bad := in.Results[0]
	bad.ModelID = "" // a differ breaking the contract

	h.publish(bad)
	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionFailure || rep.Failure == nil || rep.Failure.Stage != events.StageReport ||
		!strings.Contains(rep.Failure.Message, "no model_id") {
		t.Errorf("report %s %q, failure %+v", rr.Conclusion, rr.Title, rep.Failure)
	}
}

// deadLetter is a dead letter as the bus writes it.
func deadLetter(consumer string, orig events.Message, why string) events.DeadLetter {
	data, _ := json.Marshal(orig)
	return events.DeadLetter{Version: events.Version, Stream: "DIFFGATE_PIPELINE", Consumer: consumer,
		OrigSubject: orig.Subject(), StreamSeq: uint64(len(data)), Deliveries: 10, Error: why, Data: data, At: time.Now().UTC()}
}

// wrap is the dead letter of a dead letter: the reporter gave up on dl.
func wrap(dl events.DeadLetter, seq uint64) events.DeadLetter {
	data, _ := json.Marshal(dl)
	return events.DeadLetter{Version: events.Version, Stream: "DIFFGATE_DEADLETTER", Consumer: ConsumerDeadLetter,
		OrigSubject: dl.Subject(), StreamSeq: seq, Deliveries: 10, Error: "reporter: write the state: timeout", Data: data, At: dl.At}
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		// send publishes what happens to the run; it returns the run.
		send  func(h *harness) events.Run
		check func(t *testing.T, rr events.RunReport, rep *report.Report) // nil: no report at all
	}{
		"a dead letter of a dead letter of a task is that model's error": {
			send: func(h *harness) events.Run {
				in := sample(110)
				h.plan(in)
				for _, dr := range in.Results[1:] {
					h.publish(dr)
				}
				task := events.DiffTask{Version: events.Version, Run: in.Run, DataSource: "warehouse",
					ModelID: in.Results[0].ModelID, ModelName: in.Results[0].ModelName}
				h.publish(wrap(deadLetter("differ-warehouse", task, "statement timeout"), 1))
				return in.Run
			},
			check: func(t *testing.T, rr events.RunReport, rep *report.Report) {
				m, _ := rep.Model(reporttest.ByName(rep.Plan, "customers").ID)
				if m.Err() == nil || m.Err().Message != "the diff of `customers` failed after 10 attempts: statement timeout" {
					t.Errorf("customers: %+v", m.Err())
				}
			},
		},
		"a credential in a stage's error never reaches the report": {
			send: func(h *harness) events.Run {
				run := sampleRun(115)
				h.publish(deadLetter("manifests", events.CICompleted{Version: events.Version, Run: run, Integration: "analytics"},
					"connect postgres://diffgate:s3cr3t-pw@db.internal/analytics: connection refused"))
				return run
			},
			check: func(t *testing.T, rr events.RunReport, rep *report.Report) {
				data, _ := rep.Encode()
				if strings.Contains(string(data), "s3cr3t") || strings.Contains(rr.Summary, "s3cr3t") {
					t.Errorf("the report quotes the DSN: %s", rep.Failure.Message)
				}
				if rep.Failure == nil || !strings.Contains(rep.Failure.Message, "connection refused") {
					t.Errorf("failure %+v", rep.Failure)
				}
			},
		},
		"a result the reporter could not record is that model's error": {
			send: func(h *harness) events.Run {
				in := sample(111)
				h.plan(in)
				for _, dr := range in.Results[1:] {
					h.publish(dr)
				}
				h.publish(deadLetter(ConsumerResult, in.Results[0], "reporter: store the result: timeout"))
				return in.Run
			},
			check: func(t *testing.T, rr events.RunReport, rep *report.Report) {
				m, _ := rep.Model(reporttest.ByName(rep.Plan, "customers").ID)
				if m.Err() == nil || !strings.HasPrefix(m.Err().Message, "the result of `customers` could not be recorded after 10 attempts") {
					t.Errorf("customers: %+v", m.Err())
				}
			},
		},
		"a body that is not JSON ends the run its header names": {
			send: func(h *harness) events.Run {
				in := sample(112)
				h.publish(in.Results[0]) // the reporter knows the run
				h.settle(ConsumerResult)
				dl := events.DeadLetter{Version: events.Version, Stream: "DIFFGATE_PIPELINE", Consumer: "manifests",
					OrigSubject: events.SubjectCICompleted, StreamSeq: 77, Deliveries: 1, Error: "poison: decode",
					Headers: map[string]string{events.HeaderRunID: in.Run.ID()}, Raw: []byte("\x00garbage")}
				h.publish(dl)
				return in.Run
			},
			check: func(t *testing.T, rr events.RunReport, rep *report.Report) {
				if rr.Conclusion != events.ConclusionFailure || rep.Failure == nil || rep.Failure.Stage != events.StageManifests {
					t.Errorf("report %s, failure %+v", rr.Conclusion, rep.Failure)
				}
			},
		},
		"an app that gave up on a status changes nothing": {
			send: func(h *harness) events.Run {
				run := sampleRun(113)
				h.publish(deadLetter("github-status", events.RunStatus{Version: events.Version, Run: run, Stage: events.StageDiff,
					State: "running", Message: "diffing 1/2", Done: 1, Total: 2}, "GitHub answered 422"))
				return run
			},
		},
		"a dead letter with no run is only logged": {
			send: func(h *harness) events.Run {
				h.publish(deadLetter("ciwait-dbtcloud", events.DBTCloudEvent{Version: events.Version, EventID: "ev1", JobID: 22, RunID: 9}, "boom"))
				return sampleRun(114)
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.start(loadConfig(t, false), Options{})
			run := tc.send(h)
			if tc.check == nil {
				h.settle(ConsumerDeadLetter, ConsumerResult, ConsumerPlan)
				if got := bustest.Stored[events.RunReport](h.t, h.b, events.SubjectRunReportPrefix+"github"); len(got) != 0 {
					t.Errorf("reports published: %+v", got)
				}
				return
			}
			rr, rep := h.waitReport(run)
			h.exactlyOne(run)
			tc.check(t, rr, rep)
		})
	}
}

func TestRestartMidRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := loadConfig(t, false)
	first := h.start(cfg, Options{})
	in := sample(120)
	h.plan(in)
	for _, dr := range in.Results[:3] {
		h.publish(dr)
	}
	h.waitStatus(in.Run, "diffing 3/6")
	first.stop(t)
	h.noPulls(ConsumerResult)

	for _, dr := range in.Results[3:] {
		h.publish(dr)
	}
	h.again(in.Results[0])
	h.start(cfg, Options{})

	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionSuccess {
		t.Errorf("conclusion %s", rr.Conclusion)
	}
	if diff := cmp.Diff(sampleCounts, rep.Count()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// TestKilledBetweenSteps starts from what a reporter killed while ending
// a run leaves behind: the run decided but not reported, or the report
// published but the run not marked; the plan message comes back.
func TestKilledBetweenSteps(t *testing.T) {
	t.Parallel()
	for _, published := range []bool{false, true} {
		t.Run(fmt.Sprintf("published=%v", published), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			cfg := loadConfig(t, false)
			in := sample(121)
			p := h.plan(in) // nobody consumed it: it is "redelivered" to the next reporter

			dead := New(h.b, cfg, Options{})
			if err := dead.open(h.ctx); err != nil {
				t.Fatal(err)
			}
			var done []string
			for _, dr := range in.Results {
				data, _ := json.Marshal(dr)
				if _, err := dead.runs.Put(h.ctx, resultKey(in.Run.ID(), modelHash(dr.ModelID)), data); err != nil {
					t.Fatal(err)
				}
				done = append(done, modelHash(dr.ModelID))
			}
			slices.Sort(done)
			at := time.Date(2026, 3, 2, 9, 31, 0, 0, time.UTC)
			s := &runState{Version: stateVersion, Run: in.Run, Integration: "analytics", Planned: true, Plan: p.Plan,
				Tasks: 6, PlannedAt: at, Done: done, ProgressAt: at, FirstSeen: at,
				End: &ending{Outcome: endDiffed, Integration: "analytics", At: at.Add(time.Second)}}
			data, _ := json.Marshal(s)
			if _, err := dead.runs.Create(h.ctx, in.Run.ID(), data); err != nil {
				t.Fatal(err)
			}
			if published {
				if err := dead.complete(h.ctx, s); err != nil {
					t.Fatal(err)
				}
				// ...and killed before the mark stuck.
				if _, err := dead.update(h.ctx, in.Run, func(s *runState) bool { s.Reported = false; return true }); err != nil {
					t.Fatal(err)
				}
			}

			h.start(cfg, Options{})
			rr, rep := h.waitReport(in.Run)
			h.exactlyOne(in.Run)
			if !rr.At.Equal(at.Add(time.Second)) || rr.Conclusion != events.ConclusionSuccess {
				t.Errorf("report at %v (%s), want the decision's time %v", rr.At, rr.Conclusion, at.Add(time.Second))
			}
			if diff := cmp.Diff(sampleCounts, rep.Count()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			h.waitReported(in.Run)
		})
	}
}

// TestFirstResultOfAModelStays: a result stored by a reporter killed
// before it counted it is the one reported, though another result for the
// model (here a failure) arrives after.
func TestFirstResultOfAModelStays(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := loadConfig(t, false)
	in := sample(122)
	orders := reporttest.ByName(in.Plan, "orders")
	var first events.DiffResult
	for _, dr := range in.Results {
		if dr.ModelID == orders.ID {
			first = dr
		}
	}
	dead := New(h.b, cfg, Options{})
	if err := dead.open(h.ctx); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(first)
	if _, err := dead.runs.Create(h.ctx, resultKey(in.Run.ID(), modelHash(orders.ID)), data); err != nil {
		t.Fatal(err)
	}

	h.start(cfg, Options{})
	h.plan(in)
	late := first
	late.Result, late.Full, late.Error = nil, nil, &events.Error{Code: "unavailable", Message: "the warehouse went away"}
	h.again(late)
	for _, dr := range in.Results {
		if dr.ModelID != orders.ID {
			h.publish(dr)
		}
	}
	_, rep := h.waitReport(in.Run)
	if m, ok := rep.Model(orders.ID); !ok || m.Err() != nil {
		t.Errorf("orders reported as %+v; want the first result, which has no error", m)
	}
	if diff := cmp.Diff(sampleCounts, rep.Count()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestFailOnPrimaryKeyIssues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		failOnPK   bool
		conclusion events.Conclusion
		title      string
	}{
		{false, events.ConclusionSuccess, "3 of 4 models differ"},
		{true, events.ConclusionFailure, "Primary key issues in 1 of 6 models"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("fail_on_primary_key_issues=%v", tc.failOnPK), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.start(loadConfig(t, tc.failOnPK), Options{})
			in := sample(130)
			h.plan(in)
			for _, dr := range in.Results {
				h.publish(dr)
			}
			rr, rep := h.waitReport(in.Run)
			if rr.Conclusion != tc.conclusion || rr.Title != tc.title || rep.FailOnPrimaryKeyIssues != tc.failOnPK {
				t.Errorf("report %s %q (setting %v), want %s %q", rr.Conclusion, rr.Title, rep.FailOnPrimaryKeyIssues, tc.conclusion, tc.title)
			}
		})
	}
}

func TestNoModelsToDiff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})

	withPlan := reporttest.Clean()
	withPlan.Run = sampleRun(140)
	for i := range withPlan.Plan.Models {
		withPlan.Plan.Models[i].Diff = false
		withPlan.Plan.Models[i].SkipReason = "unchanged body"
	}
	h.plan(withPlan)
	noPlan := sampleRun(141)
	h.publish(events.DiffPlanned{Version: events.Version, Run: noPlan, Integration: "analytics", Tasks: 0})

	for _, run := range []events.Run{withPlan.Run, noPlan} {
		rr, _ := h.waitReport(run)
		h.exactlyOne(run)
		if rr.Conclusion != events.ConclusionSuccess {
			t.Errorf("%s: conclusion %s", run, rr.Conclusion)
		}
		if got := h.statuses(run); len(got) != 0 {
			t.Errorf("%s: progress %q for a run with nothing to diff", run, got)
		}
	}
	if rr, _ := h.waitReport(noPlan); rr.Title != "No models to diff" {
		t.Errorf("title %q", rr.Title)
	}
}

func TestStalledRunEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{StallTimeout: time.Second})
	in := sample(150)
	h.plan(in)
	for _, dr := range in.Results[:4] {
		h.publish(dr)
	}

	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionFailure || rr.Title != "2 of 6 models could not be diffed" {
		t.Errorf("report %s %q", rr.Conclusion, rr.Title)
	}
	for _, dr := range in.Results[4:] {
		m, _ := rep.Model(dr.ModelID)
		if m.Err() == nil || m.Err().Code != "no_result" || !strings.Contains(m.Err().Hint, "data source `warehouse`") {
			t.Errorf("%s: %+v", dr.ModelName, m.Err())
		}
	}
	for _, dr := range in.Results[:4] {
		if m, _ := rep.Model(dr.ModelID); m.Err() != nil {
			t.Errorf("%s got an error though its result arrived: %+v", dr.ModelName, m.Err())
		}
	}
}

func TestUnreadablePlan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	in := sample(160)
	h.publish(events.DiffPlanned{Version: events.Version, Run: in.Run, Integration: "analytics",
		Plan: events.ObjectRef{Name: events.PlanObject(in.Run.ID())}, Tasks: 1})
	h.publish(in.Results[0])

	rr, rep := h.waitReport(in.Run)
	h.exactlyOne(in.Run)
	if rr.Conclusion != events.ConclusionFailure || rep.Failure == nil || !strings.Contains(rep.Failure.Message, "plans/"+in.Run.ID()) {
		t.Errorf("report %s, failure %+v", rr.Conclusion, rep.Failure)
	}
}

func TestProgressOfALargeRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(loadConfig(t, false), Options{})
	big := reporttest.Big(120)
	big.Run = sampleRun(170)
	in, _ := reporttest.Split(big)
	for i := range in.Results {
		in.Results[i].Run = in.Run
	}
	h.plan(in)
	h.waitStatus(in.Run, "diffing 0/120")
	for _, dr := range in.Results {
		h.publish(dr)
	}
	h.waitReport(in.Run)
	h.exactlyOne(in.Run)

	// Every third count: 40 updates of the check, not 120.
	var want []string
	for done := 0; done < 120; done += 3 {
		want = append(want, fmt.Sprintf("diffing %d/120", done))
	}
	got := h.statuses(in.Run)
	sortByCount := func(s []string) {
		slices.SortFunc(s, func(a, b string) int {
			var x, y int
			fmt.Sscanf(a, "diffing %d/", &x)
			fmt.Sscanf(b, "diffing %d/", &y)
			return x - y
		})
	}
	sortByCount(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}
