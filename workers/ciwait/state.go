package ciwait

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
)

// Keys of the ciwait bucket (events.BucketCIWait):
//
//	poll.<account>.<job>      the shared list of a job's runs (pollState)
//	wait.<account>.<job>.<pr> the runs of a PR waiting on that job (waitList)
//	done.<run id>             a run this stage has finished (doneMarker)
func pollKey(account, job int64) string { return fmt.Sprintf("poll.%d.%d", account, job) }

func waitKey(account, job int64, pr int) string {
	return fmt.Sprintf("wait.%d.%d.%d", account, job, pr)
}

func doneKey(runID string) string { return "done." + runID }

// ciRun is what waiting needs of one dbt Cloud run.
type ciRun struct {
	events.DBTCloudRun
	PR      int64  `json:"pr,omitempty"`
	Message string `json:"message,omitempty"` // status_message, e.g. why it failed
	// Created is when dbt Cloud created the run.
	Created time.Time `json:"created,omitzero"`
}

// maxMessage bounds a run's status message kept in KV and shown to people.
const maxMessage = 500

func toCIRun(c *dbtcloud.Client, r *dbtcloud.Run) ciRun {
	msg := r.StatusMessage
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	return ciRun{DBTCloudRun: c.RunEvent(r), PR: r.PullRequest(), Message: msg, Created: r.CreatedAt.Time}
}

func (r *ciRun) status() dbtcloud.RunStatus { return dbtcloud.RunStatus(r.Status) }

// builds reports whether the run is the CI run of pull request pr at sha.
func (r *ciRun) builds(pr int, sha string) bool {
	return r.PR == int64(pr) && dbtcloud.SameSHA(r.GitSHA, sha)
}

// newest returns the newest run of pr at sha among runs, or nil.
func newest(runs []ciRun, pr int, sha string) *ciRun {
	var best *ciRun
	for i := range runs {
		if runs[i].builds(pr, sha) && (best == nil || runs[i].RunID > best.RunID) {
			best = &runs[i]
		}
	}
	return best
}

// waiting is one run waiting for its CI run.
type waiting struct {
	Request events.RunRequested `json:"request"`
	// CIRunID is the newest CI run seen for the run's head, once seen.
	CIRunID int64 `json:"ci_run_id,omitempty"`
	// LookedUp is set once the run's own lookup (outside the shared list)
	// was made.
	LookedUp bool `json:"looked_up,omitempty"`
}

// waitList is the value of a wait key: the waiting runs of one PR, by run
// id (a superseded head can still be listed until its next delivery).
type waitList struct {
	Runs map[string]waiting `json:"runs"`
}

// doneMarker records that a run left this stage, so that a later delivery
// of its RunRequested (a poll after a webhook finished it) just acks.
type doneMarker struct {
	Outcome string    `json:"outcome"` // ci_completed, ci_error, ci_cancelled, ci_timeout, failed
	CIRunID int64     `json:"ci_run_id,omitempty"`
	At      time.Time `json:"at"`
}

// update applies f to the JSON value at key with compare-and-set, retrying
// on conflicts. f returns false to leave the value as it is. A missing key
// gives f the zero value.
func update[T any](ctx context.Context, kv jetstream.KeyValue, key string, f func(v *T) (bool, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		var v T
		var rev uint64
		e, err := kv.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				// Not ours to keep: a value this build cannot read is
				// replaced rather than blocking every run behind it.
				zerolog.Ctx(ctx).Warn().Err(err).Str("key", key).Msg("ciwait: unreadable state replaced")
				v = *new(T)
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return v, fmt.Errorf("ciwait: read %s: %w", key, err)
		}
		change, err := f(&v)
		if err != nil || !change {
			return v, err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return v, fmt.Errorf("ciwait: encode %s: %w", key, err)
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, data)
		} else {
			_, err = kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) || attempt >= 50 {
			return v, fmt.Errorf("ciwait: write %s: %w", key, err)
		}
	}
}

// register records req as waiting and returns its record.
func (w *Worker) register(ctx context.Context, account, job int64, req events.RunRequested) (waiting, error) {
	id := req.Run.ID()
	var rec waiting
	_, err := update(ctx, w.state, waitKey(account, job, req.Run.PR), func(l *waitList) (bool, error) {
		if r, ok := l.Runs[id]; ok {
			rec = r
			return false, nil
		}
		if l.Runs == nil {
			l.Runs = map[string]waiting{}
		}
		rec = waiting{Request: req}
		l.Runs[id] = rec
		return true, nil
	})
	return rec, err
}

// remember saves what a delivery learnt about a waiting run.
func (w *Worker) remember(ctx context.Context, account, job int64, rec waiting) error {
	id := rec.Request.Run.ID()
	_, err := update(ctx, w.state, waitKey(account, job, rec.Request.Run.PR), func(l *waitList) (bool, error) {
		old, ok := l.Runs[id]
		if !ok || (old.CIRunID == rec.CIRunID && old.LookedUp == rec.LookedUp) {
			return false, nil // finished meanwhile, or nothing new
		}
		l.Runs[id] = rec
		return true, nil
	})
	return err
}

// forget removes a run from the waiting runs of its PR.
func (w *Worker) forget(ctx context.Context, account, job int64, run events.Run) error {
	key := waitKey(account, job, run.PR)
	l, err := update(ctx, w.state, key, func(l *waitList) (bool, error) {
		if _, ok := l.Runs[run.ID()]; !ok {
			return false, nil
		}
		delete(l.Runs, run.ID())
		return true, nil
	})
	if err == nil && len(l.Runs) == 0 {
		// Best effort: an empty list is harmless and expires anyway.
		_ = w.state.Delete(ctx, key)
	}
	return err
}

// waitingFor lists the runs of pr waiting on the job.
func (w *Worker) waitingFor(ctx context.Context, account, job int64, pr int) ([]waiting, error) {
	e, err := w.state.Get(ctx, waitKey(account, job, pr))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ciwait: read waiting runs: %w", err)
	}
	var l waitList
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return nil, nil
	}
	out := make([]waiting, 0, len(l.Runs))
	for _, r := range l.Runs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b waiting) int { return a.Request.RequestedAt.Compare(b.Request.RequestedAt) })
	return out, nil
}

// finished reports whether the run already left this stage.
func (w *Worker) finished(ctx context.Context, runID string) (bool, error) {
	_, err := w.state.Get(ctx, doneKey(runID))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("ciwait: read %s: %w", doneKey(runID), err)
}

// markDone records that the run left this stage.
func (w *Worker) markDone(ctx context.Context, runID, outcome string, ciRunID int64) error {
	data, _ := json.Marshal(doneMarker{Outcome: outcome, CIRunID: ciRunID, At: w.now().UTC()})
	if _, err := w.state.Put(ctx, doneKey(runID), data); err != nil {
		return fmt.Errorf("ciwait: write %s: %w", doneKey(runID), err)
	}
	return nil
}
