package ciwait_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

func phases(final dbtcloud.RunStatus) []dbtcloudtest.Phase {
	return []dbtcloudtest.Phase{
		{Status: dbtcloud.StatusQueued, Polls: 2},
		{Status: dbtcloud.StatusRunning, Polls: 2},
		{Status: final},
	}
}

func TestTheCIRunsOutcomeEndsTheWait(t *testing.T) {
	tests := []struct {
		name  string
		final dbtcloud.RunStatus
		check func(t *testing.T, o outcome, ci *dbtcloudtest.RunHandle)
	}{
		{"success", dbtcloud.StatusSuccess, func(t *testing.T, o outcome, ci *dbtcloudtest.RunHandle) {
			if len(o.completed) != 1 || o.count() != 1 {
				t.Fatalf("outcome %+v, want one CICompleted", o)
			}
			c := o.completed[0]
			if c.CIRun.RunID != ci.ID() || c.CIRun.Status != int(dbtcloud.StatusSuccess) || c.Integration != integration || c.CIRun.URL == "" {
				t.Errorf("CICompleted %+v does not describe dbt Cloud run #%d", c, ci.ID())
			}
		}},
		{"error", dbtcloud.StatusError, func(t *testing.T, o outcome, ci *dbtcloudtest.RunHandle) {
			if len(o.failed) != 1 || o.count() != 1 {
				t.Fatalf("outcome %+v, want one RunFailed", o)
			}
			f := o.failed[0]
			want := fmt.Sprintf("dbt Cloud run #%d failed", ci.ID())
			if f.Code != events.FailCIError || !strings.HasPrefix(f.Message, want) || f.Link == "" || f.CIRun == nil || f.CIRun.Status != int(dbtcloud.StatusError) {
				t.Errorf("RunFailed %+v, want code %s, a message starting %q, the run's link and status", f, events.FailCIError, want)
			}
		}},
		{"cancelled", dbtcloud.StatusCancelled, func(t *testing.T, o outcome, ci *dbtcloudtest.RunHandle) {
			if len(o.cancelled) != 1 || o.count() != 1 {
				t.Fatalf("outcome %+v, want one RunCancelled", o)
			}
			if c := o.cancelled[0]; c.Reason != events.CancelCI || !strings.Contains(c.Message, fmt.Sprint(ci.ID())) {
				t.Errorf("RunCancelled %+v, want reason %s naming the dbt Cloud run", c, events.CancelCI)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 100*time.Millisecond, time.Hour)
			head := workertest.SHA(1)
			ci := w.ciRun(12, head, phases(tt.final)...)
			w.ciRun(12, workertest.SHA(99), dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess}) // an older head of the same PR
			w.ciRun(13, head, dbtcloudtest.Phase{Status: dbtcloud.StatusError})                 // another PR at the same commit
			w.start()
			req := w.request(12, head, time.Now())

			o := ended(t, w.bus, req.Run)
			tt.check(t, o, ci)

			// Progress said queued, then running, with the run's link.
			var states []string
			for _, s := range statuses(t, w.bus, req.Run) {
				if s.Link != "" && !strings.Contains(s.Message, fmt.Sprint(ci.ID())) {
					t.Errorf("status %q links to %s but does not name run #%d", s.Message, s.Link, ci.ID())
				}
				states = append(states, s.State)
			}
			if !slices.Contains(states, "queued") || !slices.Contains(states, "running") {
				t.Errorf("progress states %v, want queued and running", states)
			}
			bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
		})
	}
}

func TestARunThatDoesNotFinishInTimeTimesOut(t *testing.T) {
	t.Run("no CI run at all", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, 100*time.Millisecond, time.Hour)
		w.start()
		// Requested just under an hour ago: it times out after a look or two.
		req := w.request(21, workertest.SHA(1), time.Now().Add(-time.Hour+300*time.Millisecond))
		o := ended(t, w.bus, req.Run)
		if len(o.failed) != 1 || o.count() != 1 {
			t.Fatalf("outcome %+v, want one RunFailed", o)
		}
		f := o.failed[0]
		for _, want := range []string{"within 1h", "job 22", "PR #21", req.Run.ShortSHA()} {
			if !strings.Contains(f.Message, want) {
				t.Errorf("message %q does not say %q", f.Message, want)
			}
		}
		if f.Code != events.FailCITimeout || f.Hint == "" {
			t.Errorf("RunFailed %+v, want code %s and a hint", f, events.FailCITimeout)
		}
	})
	t.Run("CI run still queued", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, 100*time.Millisecond, time.Hour)
		ci := w.ciRun(22, workertest.SHA(2), dbtcloudtest.Phase{Status: dbtcloud.StatusQueued})
		w.start()
		req := w.request(22, workertest.SHA(2), time.Now().Add(-time.Hour+500*time.Millisecond))
		o := ended(t, w.bus, req.Run)
		if len(o.failed) != 1 || o.count() != 1 {
			t.Fatalf("outcome %+v, want one RunFailed", o)
		}
		f := o.failed[0]
		want := fmt.Sprintf("dbt Cloud run #%d for commit %s was still queued after 1h", ci.ID(), req.Run.ShortSHA())
		if f.Code != events.FailCITimeout || !strings.HasPrefix(f.Message, want) || f.Link == "" {
			t.Errorf("RunFailed %+v, want code %s, message %q and the run's link", f, events.FailCITimeout, want)
		}
	})
}

func TestAnUnknownIntegrationFailsTheRun(t *testing.T) {
	w := newWorld(t, 100*time.Millisecond, time.Hour)
	w.start()
	req := events.RunRequested{Version: events.Version, Integration: "nope", RequestedAt: time.Now().UTC(),
		Run: events.Run{Provider: events.GitHub, Repository: repo, PR: 5, HeadSHA: workertest.SHA(5)}}
	if _, err := w.bus.Publish(bustest.Context(t), req); err != nil {
		t.Fatal(err)
	}
	o := ended(t, w.bus, req.Run)
	if len(o.failed) != 1 || o.failed[0].Code != events.FailConfig || !strings.Contains(o.failed[0].Message, `"nope"`) {
		t.Fatalf("outcome %+v, want a config failure naming the integration", o)
	}
	if n := w.dbt.Count(dbtcloudtest.EndpointListRuns); n != 0 {
		t.Errorf("%d list-runs requests for a run with no integration", n)
	}
}

func TestAnOldCIRunIsFoundForARunRequestedLater(t *testing.T) {
	// A PR labelled days after its CI run finished: the run is older than
	// the shared list reaches, so the wait looks it up once.
	w := newWorld(t, 100*time.Millisecond, time.Hour)
	for i := range 150 { // newer runs, older than the shared list reaches
		w.dbt.AddRun(dbtcloudtest.Run{AccountID: account, JobID: ciJob, GitSHA: workertest.SHA(1000 + i), GitHubPR: int64(1000 + i),
			CreatedAt: time.Now().Add(-2 * time.Hour)})
	}
	ci := w.dbt.AddRun(dbtcloudtest.Run{AccountID: account, JobID: ciJob, ID: 100, GitSHA: workertest.SHA(3), GitHubPR: 31,
		CreatedAt: time.Now().Add(-72 * time.Hour)})
	w.start()
	req := w.request(31, workertest.SHA(3), time.Now())
	o := ended(t, w.bus, req.Run)
	if len(o.completed) != 1 || o.completed[0].CIRun.RunID != ci.ID() {
		t.Fatalf("outcome %+v, want CICompleted with dbt Cloud run #%d", o, ci.ID())
	}
	lookups := 0
	for _, r := range w.dbt.Requests() {
		if r.Endpoint == dbtcloudtest.EndpointListRuns && r.Query.Get("pull_request_id") == "31" {
			lookups++
		}
	}
	if lookups != 1 {
		t.Errorf("%d list-runs requests for PR #31, want the one lookup", lookups)
	}
}
