package report_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

func TestConclusion(t *testing.T) {
	withPK := func(in report.Input) report.Input { in.FailOnPrimaryKeyIssues = true; return in }
	notBuilt := func(fail bool) report.Input {
		in := reporttest.Clean()
		in.FailOnPrimaryKeyIssues = fail
		in.Results[1].Result = &datadiff.Result{Version: 1, Status: datadiff.StatusNotBuilt}
		return in
	}
	errored := func() report.Input {
		in := reporttest.Clean()
		in.Results[0].Result = nil
		in.Results[0].Error = &events.Error{Code: "relation_missing", Message: "relation analytics.prod.customers does not exist"}
		return in
	}
	missing := func() report.Input {
		in := reporttest.Clean()
		in.Results = in.Results[:1]
		return in
	}
	noKeyDiffed := func(fail bool) report.Input {
		in := reporttest.Clean()
		in.FailOnPrimaryKeyIssues = fail
		in.Plan.Models[1].PrimaryKey = nil
		in.Results[1].Result.Key = nil
		return in
	}
	newWithoutKey := func() report.Input {
		in := withPK(reporttest.Clean())
		in.Plan.Models[1].PrimaryKey = nil
		in.Plan.Models[1].Change = events.ChangeNew
		in.Results[1].Result = &datadiff.Result{Version: 1, Status: datadiff.StatusNew, PR: datadiff.SideStats{Rows: 4}}
		return in
	}
	soundKeys := func() report.Input {
		in := reporttest.Diffs(reporttest.GitHubRun())
		in.FailOnPrimaryKeyIssues = true
		for _, dr := range in.Results {
			if res := dr.Result; res != nil {
				res.Prod.KeyNulls, res.Prod.DuplicateRows, res.PR.KeyNulls, res.PR.DuplicateRows = 0, 0, 0, 0
			}
		}
		return in
	}
	cancelled := func(reason string) report.Input {
		return report.Input{Run: reporttest.GitHubRun(), Cancelled: &events.RunCancelled{Run: reporttest.GitHubRun(), Reason: reason}}
	}
	dead := report.Input{Run: reporttest.GitHubRun(), DeadLetter: &events.DeadLetter{
		Stream: "DIFFGATE_TASKS", Consumer: "differ-warehouse", OrigSubject: events.SubjectDiffTaskPrefix + "warehouse",
		Deliveries: 5, Error: "context deadline exceeded"}}
	timeout := report.Input{Run: reporttest.GitHubRun(), Failure: &events.RunFailed{Run: reporttest.GitHubRun(), Stage: events.StageCIWait,
		Code: events.FailCITimeout, Message: "no dbt Cloud CI run for 9f8e7d6 finished within 2h"}}

	for _, tc := range []struct {
		name    string
		in      report.Input
		want    events.Conclusion
		outcome report.Outcome
	}{
		{"clean run", reporttest.Clean(), events.ConclusionSuccess, report.OutcomeDiffed},
		{"differences alone do not fail, even with fail_on_primary_key_issues", soundKeys(), events.ConclusionSuccess, report.OutcomeDiffed},
		{"key issues without the setting", reporttest.Diffs(reporttest.GitHubRun()), events.ConclusionSuccess, report.OutcomeDiffed},
		{"key issues with fail_on_primary_key_issues", withPK(reporttest.Diffs(reporttest.GitHubRun())), events.ConclusionFailure, report.OutcomeDiffed},
		{"no primary key with the setting", noKeyDiffed(true), events.ConclusionFailure, report.OutcomeDiffed},
		{"no primary key without the setting", noKeyDiffed(false), events.ConclusionSuccess, report.OutcomeDiffed},
		{"new model without a key is not a key issue", newWithoutKey(), events.ConclusionSuccess, report.OutcomeDiffed},
		{"not built in this PR is not an error", notBuilt(false), events.ConclusionSuccess, report.OutcomeDiffed},
		{"not built is not a key issue either", notBuilt(true), events.ConclusionSuccess, report.OutcomeDiffed},
		{"a model errored", errored(), events.ConclusionFailure, report.OutcomeDiffed},
		{"a planned model has no result", missing(), events.ConclusionFailure, report.OutcomeDiffed},
		{"nothing to diff", report.Input{Run: reporttest.GitHubRun(), Plan: &events.Plan{Version: 1}}, events.ConclusionSuccess, report.OutcomeDiffed},
		{"dbt Cloud CI run failed", reporttest.CIFailure(), events.ConclusionFailure, report.OutcomeFailed},
		{"CI timed out", timeout, events.ConclusionFailure, report.OutcomeFailed},
		{"dead letter", dead, events.ConclusionFailure, report.OutcomeFailed},
		{"skipped by a gate", reporttest.Skipped(), events.ConclusionNeutral, report.OutcomeSkipped},
		{"skipped with key issues configured", withPK(reporttest.Skipped()), events.ConclusionNeutral, report.OutcomeSkipped},
		{"superseded", cancelled(events.CancelSuperseded), events.ConclusionCancelled, report.OutcomeCancelled},
		{"closed", cancelled(events.CancelClosed), events.ConclusionCancelled, report.OutcomeCancelled},
		{"CI run cancelled", cancelled(events.CancelCI), events.ConclusionCancelled, report.OutcomeCancelled},
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
	in := reporttest.Clean()
	in.Results = in.Results[:1]
	r := build(t, in)
	m, ok := r.Model("model.jaffle.orders")
	if !ok || m.Err() == nil {
		t.Fatalf("the model without a result has no error: %+v", m)
	}
	if md := report.Markdown(r, report.Options{}); !strings.Contains(md, "No diff result was recorded for this model") {
		t.Errorf("the comment does not say a result is missing")
	}
}

func TestBuildDeadLetterNamesTheStage(t *testing.T) {
	r := build(t, report.Input{Run: reporttest.GitHubRun(), DeadLetter: &events.DeadLetter{
		Consumer: "impact", OrigSubject: events.SubjectManifestsResolved, Deliveries: 5, Error: "manifest: unexpected EOF"}})
	if r.Failure.Stage != events.StageImpact || !strings.Contains(r.Failure.Message, "5 attempts") ||
		!strings.Contains(r.Failure.Message, "unexpected EOF") {
		t.Errorf("failure = %+v", r.Failure)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	for name, in := range map[string]report.Input{
		"no run identity":           {Run: events.Run{Provider: events.GitHub}},
		"two endings":               {Run: reporttest.GitHubRun(), Skip: &report.Skip{Reason: "draft"}, Cancelled: &events.RunCancelled{Reason: events.CancelClosed}},
		"result without a model id": {Run: reporttest.GitHubRun(), Results: []events.DiffResult{{ModelName: "orders"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := report.Build(in); !errors.Is(err, report.ErrInvalid) {
				t.Errorf("Build = %v, want report.ErrInvalid", err)
			}
		})
	}
}

func TestKeyIssuesAreCountedPerSide(t *testing.T) {
	r := build(t, withKeyIssues())
	m, _ := r.Model("model.jaffle.orders")
	w := report.WordsFor(events.GitLab)
	var got []string
	for _, k := range m.KeyIssues {
		got = append(got, k.Text(w))
	}
	want := "1 production row has a NULL key; 2 production rows have a duplicated key; 5 MR rows have a NULL key"
	if s := strings.Join(got, "; "); s != want {
		t.Errorf("key issues = %q, want %q", s, want)
	}
}

func withKeyIssues() report.Input {
	in := reporttest.Clean()
	res := in.Results[1].Result
	res.Prod.KeyNulls, res.Prod.DuplicateRows, res.PR.KeyNulls = 1, 2, 5
	return in
}

// Titles and sentences start with a capital, except where the name that
// starts them is written in lower case: dbt.
func TestUpperFirst(t *testing.T) {
	for in, want := range map[string]string{
		"pull request":                     "Pull request",
		"ändern":                           "Ändern",
		"dbt Cloud run #12 failed":         "dbt Cloud run #12 failed",
		"dbt's manifest could not be read": "dbt's manifest could not be read",
		"dbtx is not dbt":                  "Dbtx is not dbt",
		"":                                 "",
	} {
		if got := report.UpperFirst(in); got != want {
			t.Errorf("UpperFirst(%q) = %q, want %q", in, got, want)
		}
	}
}
