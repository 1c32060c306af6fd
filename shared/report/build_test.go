package report

import (
	"errors"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
)

func TestConclusion(t *testing.T) {
	withPK := func(in Input) Input { in.FailOnPrimaryKeyIssues = true; return in }
	notBuilt := func(fail bool) Input {
		in := cleanInput()
		in.FailOnPrimaryKeyIssues = fail
		in.Results[1].Result = &datadiff.Result{Version: 1, Status: datadiff.StatusNotBuilt}
		return in
	}
	errored := func() Input {
		in := cleanInput()
		in.Results[0].Result = nil
		in.Results[0].Error = &events.Error{Code: "relation_missing", Message: "relation analytics.prod.customers does not exist"}
		return in
	}
	missing := func() Input {
		in := cleanInput()
		in.Results = in.Results[:1]
		return in
	}
	noKeyDiffed := func(fail bool) Input {
		in := cleanInput()
		in.FailOnPrimaryKeyIssues = fail
		in.Plan.Models[1].PrimaryKey = nil
		in.Results[1].Result.Key = nil
		return in
	}
	newWithoutKey := func() Input {
		in := withPK(cleanInput())
		in.Plan.Models[1].PrimaryKey = nil
		in.Plan.Models[1].Change = events.ChangeNew
		in.Results[1].Result = &datadiff.Result{Version: 1, Status: datadiff.StatusNew, PR: datadiff.SideStats{Rows: 4}}
		return in
	}
	cancelled := func(reason string) Input {
		return Input{Run: ghRun(), Cancelled: &events.RunCancelled{Run: ghRun(), Reason: reason}}
	}
	dead := Input{Run: ghRun(), DeadLetter: &events.DeadLetter{
		Stream: "DIFFGATE_TASKS", Consumer: "differ-warehouse", OrigSubject: events.SubjectDiffTaskPrefix + "warehouse",
		Deliveries: 5, Error: "context deadline exceeded"}}
	timeout := Input{Run: ghRun(), Failure: &events.RunFailed{Run: ghRun(), Stage: events.StageCIWait,
		Code: events.FailCITimeout, Message: "no dbt Cloud CI run for 9f8e7d6 finished within 2h"}}

	for _, tc := range []struct {
		name    string
		in      Input
		want    events.Conclusion
		outcome Outcome
	}{
		{"clean run", cleanInput(), events.ConclusionSuccess, OutcomeDiffed},
		{"differences alone do not fail", diffsInput(ghRun()), events.ConclusionSuccess, OutcomeDiffed},
		{"key issues without the setting", diffsInput(ghRun()), events.ConclusionSuccess, OutcomeDiffed},
		{"key issues with fail_on_primary_key_issues", withPK(diffsInput(ghRun())), events.ConclusionFailure, OutcomeDiffed},
		{"no primary key with the setting", noKeyDiffed(true), events.ConclusionFailure, OutcomeDiffed},
		{"no primary key without the setting", noKeyDiffed(false), events.ConclusionSuccess, OutcomeDiffed},
		{"new model without a key is not a key issue", newWithoutKey(), events.ConclusionSuccess, OutcomeDiffed},
		{"not built in this PR is not an error", notBuilt(false), events.ConclusionSuccess, OutcomeDiffed},
		{"not built is not a key issue either", notBuilt(true), events.ConclusionSuccess, OutcomeDiffed},
		{"a model errored", errored(), events.ConclusionFailure, OutcomeDiffed},
		{"a planned model has no result", missing(), events.ConclusionFailure, OutcomeDiffed},
		{"nothing to diff", Input{Run: ghRun(), Plan: &events.Plan{Version: 1}}, events.ConclusionSuccess, OutcomeDiffed},
		{"dbt Cloud CI run failed", ciFailureInput(), events.ConclusionFailure, OutcomeFailed},
		{"CI timed out", timeout, events.ConclusionFailure, OutcomeFailed},
		{"dead letter", dead, events.ConclusionFailure, OutcomeFailed},
		{"skipped by a gate", skippedInput(), events.ConclusionNeutral, OutcomeSkipped},
		{"skipped with key issues configured", withPK(skippedInput()), events.ConclusionNeutral, OutcomeSkipped},
		{"superseded", cancelled(events.CancelSuperseded), events.ConclusionCancelled, OutcomeCancelled},
		{"closed", cancelled(events.CancelClosed), events.ConclusionCancelled, OutcomeCancelled},
		{"CI run cancelled", cancelled(events.CancelCI), events.ConclusionCancelled, OutcomeCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.in)
			if r.Conclusion != tc.want || r.Outcome != tc.outcome {
				t.Errorf("conclusion %s, outcome %s; want %s, %s (title %q)", r.Conclusion, r.Outcome, tc.want, tc.outcome, r.Title)
			}
			if r.Title == "" || r.Summary == "" {
				t.Errorf("empty title %q or summary %q", r.Title, r.Summary)
			}
		})
	}
}

func TestBuildMissingResultIsReported(t *testing.T) {
	in := cleanInput()
	in.Results = in.Results[:1]
	r := build(t, in)
	m, ok := r.Model("model.jaffle.orders")
	if !ok || m.Err() == nil {
		t.Fatalf("the model without a result has no error: %+v", m)
	}
	if md := Markdown(r, Options{}); !strings.Contains(md, "No diff result was recorded for this model") {
		t.Errorf("the comment does not say a result is missing")
	}
}

func TestBuildDeadLetterNamesTheStage(t *testing.T) {
	r := build(t, Input{Run: ghRun(), DeadLetter: &events.DeadLetter{
		Consumer: "impact", OrigSubject: events.SubjectManifestsResolved, Deliveries: 5, Error: "manifest: unexpected EOF"}})
	if r.Failure.Stage != events.StageImpact || !strings.Contains(r.Failure.Message, "5 attempts") ||
		!strings.Contains(r.Failure.Message, "unexpected EOF") {
		t.Errorf("failure = %+v", r.Failure)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	for name, in := range map[string]Input{
		"no run identity": {Run: events.Run{Provider: events.GitHub}},
		"two endings":     {Run: ghRun(), Skip: &Skip{Reason: "draft"}, Cancelled: &events.RunCancelled{Reason: events.CancelClosed}},
		"result without a model id": {Run: ghRun(), Results: []events.DiffResult{{ModelName: "orders"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Build(in); !errors.Is(err, ErrInvalid) {
				t.Errorf("Build = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestKeyIssuesAreCountedPerSide(t *testing.T) {
	r := build(t, withKeyIssues())
	m, _ := r.Model("model.jaffle.orders")
	w := WordsFor(events.GitLab)
	var got []string
	for _, k := range m.KeyIssues {
		got = append(got, k.Text(w))
	}
	want := "1 production row has a NULL key; 2 production rows have a duplicated key; 5 MR rows have a NULL key"
	if s := strings.Join(got, "; "); s != want {
		t.Errorf("key issues = %q, want %q", s, want)
	}
}

func withKeyIssues() Input {
	in := cleanInput()
	res := in.Results[1].Result
	res.Prod.KeyNulls, res.Prod.DuplicateRows, res.PR.KeyNulls = 1, 2, 5
	return in
}
