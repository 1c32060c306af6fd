package ciwait_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

func TestWaitingRunsShareOneListRequestPerPollInterval(t *testing.T) {
	const n = 200
	interval := 300 * time.Millisecond
	w := newWorld(t, interval, time.Hour)
	for i := range n {
		w.ciRun(100+i, workertest.SHA(100+i),
			dbtcloudtest.Phase{Status: dbtcloud.StatusQueued, Polls: 2},
			dbtcloudtest.Phase{Status: dbtcloud.StatusRunning, Polls: 2},
			dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})
	}
	start := time.Now()
	w.start()
	for i := range n {
		w.request(100+i, workertest.SHA(100+i), time.Now())
	}
	bustest.WaitFor(t, 60*time.Second, func() error {
		if got := count(t, w.bus, events.SubjectCICompleted); got < n {
			return fmt.Errorf("%d of %d runs completed", got, n)
		}
		return nil
	})
	elapsed := time.Since(start)

	// A refresh lists the job's runs once: one request per 100 runs (dbt
	// Cloud's page size), here 2, however many diffgate runs wait.
	const pages = (n + 99) / 100
	intervals := int(elapsed/interval) + 1
	lists := w.dbt.ListRunsCount(ciJob)
	t.Logf("%d runs waited %s (%d poll intervals): %d list-runs requests, %d per refresh", n, elapsed.Round(time.Millisecond), intervals, lists, pages)
	if lists > pages*intervals {
		t.Errorf("%d list-runs requests in %d poll intervals, want at most %d per interval", lists, intervals, pages)
	}
	if lists%pages != 0 {
		t.Errorf("%d list-runs requests is not a whole number of %d-page refreshes", lists, pages)
	}
	if others := w.dbt.Count(dbtcloudtest.EndpointGetRun); others != 0 {
		t.Errorf("%d get-run requests: runs looked on their own", others)
	}
	for _, r := range w.dbt.Requests() {
		if r.Query.Get("pull_request_id") != "" {
			t.Fatalf("a run looked for its CI run on its own: %s?%s", r.Path, r.Query.Encode())
		}
	}
	if got := len(bustest.Stored[events.CICompleted](t, w.bus, events.SubjectCICompleted)); got != n {
		t.Errorf("%d CICompleted stored, want %d", got, n)
	}
}

func TestAWorkerRestartedMidWaitLosesNothing(t *testing.T) {
	const n = 30
	w := newWorld(t, 100*time.Millisecond, time.Hour)
	// A delivery the stopping process had in flight comes back to the new
	// one after the ack wait; shorten it so the test need not wait long.
	w.ackWait = 3 * time.Second
	finals := []dbtcloud.RunStatus{dbtcloud.StatusSuccess, dbtcloud.StatusError, dbtcloud.StatusCancelled}
	var handles []*dbtcloudtest.RunHandle
	for i := range n {
		handles = append(handles, w.ciRun(300+i, workertest.SHA(300+i), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning}))
	}

	// Every publish of an outcome, duplicates included (JetStream stores
	// one of each message id; this counts what the worker sent).
	var mu sync.Mutex
	sent := map[string]int{}
	for _, subj := range []string{events.SubjectCICompleted, events.SubjectRunFailed, events.SubjectRunCancelled} {
		sub, err := w.bus.Conn().Subscribe(w.bus.Subject(subj), func(m *nats.Msg) {
			run, err := events.RunOf(m.Data)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			sent[run.ID()]++
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}

	first := w.start()
	var reqs []events.RunRequested
	for i := range n {
		reqs = append(reqs, w.request(300+i, workertest.SHA(300+i), time.Now()))
	}
	bustest.WaitFor(t, wait, func() error {
		for _, r := range reqs {
			if len(statuses(t, w.bus, r.Run)) == 0 {
				return fmt.Errorf("run %s is not waiting yet", r.Run)
			}
		}
		return nil
	})
	first.stop()

	// While no worker runs, the CI runs finish.
	for i, h := range handles {
		h.SetStatus(finals[i%len(finals)])
	}
	w.start()
	for i, r := range reqs {
		o := ended(t, w.bus, r.Run)
		want := map[dbtcloud.RunStatus]int{dbtcloud.StatusSuccess: len(o.completed), dbtcloud.StatusError: len(o.failed), dbtcloud.StatusCancelled: len(o.cancelled)}
		if o.count() != 1 || want[finals[i%len(finals)]] != 1 {
			t.Errorf("run %s ended %+v, want one outcome for %s", r.Run, o, finals[i%len(finals)])
		}
	}
	bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
	mu.Lock()
	defer mu.Unlock()
	for _, r := range reqs {
		if sent[r.Run.ID()] != 1 {
			t.Errorf("run %s: %d outcomes sent, want 1", r.Run, sent[r.Run.ID()])
		}
	}
}

func TestANewCommitStopsTheOldRunsWait(t *testing.T) {
	for _, closed := range []bool{false, true} {
		t.Run(map[bool]string{false: "new commit", true: "PR closed"}[closed], func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 100*time.Millisecond, time.Hour)
			oldCI := w.ciRun(40, workertest.SHA(40), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning})
			w.start()
			old := w.request(40, workertest.SHA(40), time.Now())
			bustest.WaitFor(t, wait, func() error {
				for _, s := range statuses(t, w.bus, old.Run) {
					if s.State == "running" {
						return nil
					}
				}
				return errNotYet
			})

			// The gate moves the PR's head and cancels the old run.
			next := old.Run
			reason := events.CancelClosed
			if !closed {
				next.HeadSHA, reason = workertest.SHA(41), events.CancelSuperseded
			}
			w.setHead(next, closed)
			cancel := events.RunCancelled{Version: events.Version, Run: old.Run, Reason: reason, By: next.HeadSHA, At: time.Now().UTC()}
			if _, err := w.bus.Publish(bustest.Context(t), cancel); err != nil {
				t.Fatal(err)
			}

			// The old run's message is acknowledged: nothing will poll for it.
			bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
			lists := w.dbt.ListRunsCount(ciJob)
			oldCI.SetStatus(dbtcloud.StatusSuccess)

			if closed {
				if o := outcomes(t, w.bus, old.Run); len(o.cancelled) != 1 || o.count() != 1 {
					t.Errorf("old run ended %+v, want only the gate's cancel", o)
				}
				return
			}
			// The new head waits and completes on its own CI run.
			w.ciRun(40, workertest.SHA(41), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning, Polls: 1}, dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})
			fresh := w.request(40, workertest.SHA(41), time.Now())
			if o := ended(t, w.bus, fresh.Run); len(o.completed) != 1 {
				t.Errorf("new head ended %+v, want CICompleted", o)
			}
			if o := outcomes(t, w.bus, old.Run); len(o.cancelled) != 1 || o.count() != 1 {
				t.Errorf("old run ended %+v, want only the gate's cancel", o)
			}
			if got := w.dbt.ListRunsCount(ciJob); got <= lists {
				t.Errorf("list-runs requests went from %d to %d: the new head did not poll", lists, got)
			}
		})
	}
}

func TestWaitStateLivesInTheCIWaitBucket(t *testing.T) {
	w := newWorld(t, 100*time.Millisecond, time.Hour)
	ci := w.ciRun(50, workertest.SHA(50), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning})
	w.start()
	req := w.request(50, workertest.SHA(50), time.Now())
	ctx := bustest.Context(t)
	kv, err := w.bus.KV(ctx, events.BucketCIWait)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("wait.%d.%d.%d", account, ciJob, 50)
	bustest.WaitFor(t, wait, func() error {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return err
		}
		var l struct {
			Runs map[string]struct {
				CIRunID int64 `json:"ci_run_id"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(e.Value(), &l); err != nil {
			return err
		}
		if l.Runs[req.Run.ID()].CIRunID != ci.ID() {
			return fmt.Errorf("%s = %s", key, e.Value())
		}
		return nil
	})
	if _, err := kv.Get(ctx, fmt.Sprintf("poll.%d.%d", account, ciJob)); err != nil {
		t.Errorf("shared poll state: %v", err)
	}
	ci.SetStatus(dbtcloud.StatusSuccess)
	ended(t, w.bus, req.Run)
	bustest.WaitFor(t, wait, func() error {
		if _, err := kv.Get(ctx, "done."+req.Run.ID()); err != nil {
			return err
		}
		if _, err := kv.Get(ctx, key); err == nil {
			return fmt.Errorf("%s is still there", key)
		}
		return nil
	})
}

// BenchmarkWaitingRuns prints what N runs waiting on one CI job cost: list
// requests per poll interval (a refresh lists 100 runs per request) and the
// handling time of one look. Each CI run is queued for two looks, running
// for two, then succeeds.
func BenchmarkWaitingRuns(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				interval := 500 * time.Millisecond
				w := newWorld(b, interval, time.Hour)
				for i := range n {
					w.ciRun(i+1, workertest.SHA(i+1),
						dbtcloudtest.Phase{Status: dbtcloud.StatusQueued, Polls: 2},
						dbtcloudtest.Phase{Status: dbtcloud.StatusRunning, Polls: 2},
						dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})
				}
				start := time.Now()
				w.start()
				for i := range n {
					w.request(i+1, workertest.SHA(i+1), time.Now())
				}
				bustest.WaitFor(b, 10*time.Minute, func() error {
					if got := count(b, w.bus, events.SubjectCICompleted); got < n {
						return fmt.Errorf("%d of %d runs completed", got, n)
					}
					return nil
				})
				elapsed := time.Since(start)
				lists := w.dbt.ListRunsCount(ciJob)
				pages := (n + 99) / 100
				b.ReportMetric(float64(lists)/float64(lists/pages), "lists/refresh")
				b.ReportMetric(float64(lists/pages)/(float64(elapsed)/float64(interval)), "refreshes/interval")
				b.ReportMetric(elapsed.Seconds(), "s-until-all-done")
			}
		})
	}
}
