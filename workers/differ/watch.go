package differ

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/prs"
)

// errSuperseded is the cause of a diff cancelled because its run is no
// longer its PR's current run.
var errSuperseded = errors.New("differ: the run was superseded")

// flights are the diffs in flight by PR key, so that a change of a PR's
// head cancels the diffs of its older runs.
type flights struct {
	mu   sync.Mutex
	byPR map[string]map[*flight]struct{}
}

type flight struct {
	runID  string
	cancel context.CancelCauseFunc
}

func newFlights() *flights { return &flights{byPR: map[string]map[*flight]struct{}{}} }

// add registers a diff of run; the returned function removes it.
func (fs *flights) add(run events.Run, cancel context.CancelCauseFunc) func() {
	f := &flight{runID: run.ID(), cancel: cancel}
	key := run.PRKey()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.byPR[key] == nil {
		fs.byPR[key] = map[*flight]struct{}{}
	}
	fs.byPR[key][f] = struct{}{}
	return func() {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		delete(fs.byPR[key], f)
		if len(fs.byPR[key]) == 0 {
			delete(fs.byPR, key)
		}
	}
}

// keys returns the PR keys with diffs in flight.
func (fs *flights) keys() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]string, 0, len(fs.byPR))
	for k := range fs.byPR {
		out = append(out, k)
	}
	return out
}

// apply cancels the diffs of prKey whose run head no longer names, and
// returns how many it cancelled.
func (fs *flights) apply(prKey string, head events.PRHead) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for f := range fs.byPR[prKey] {
		if _, stale := prs.Stale(head, f.runID); stale {
			f.cancel(errSuperseded)
			n++
		}
	}
	return n
}

// watch follows the PRs bucket and cancels the diffs of runs that get
// superseded, until ctx is done. A watcher that stops (the connection was
// replaced) is started again, and the PRs in flight are read once, so a
// change made meanwhile is not missed.
func (w *Worker) watch(ctx context.Context, kw jetstream.KeyWatcher) {
	log := zerolog.Ctx(ctx)
	defer func() {
		if kw != nil {
			_ = kw.Stop()
		}
	}()
	for {
		if kw == nil {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if kw, err = w.prs.WatchAll(ctx, jetstream.UpdatesOnly()); err != nil {
				log.Warn().Err(err).Msg("differ: cannot watch the PRs bucket; retrying")
				kw = nil
				continue
			}
			w.recheck(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-kw.Updates():
			if !ok {
				log.Warn().Msg("differ: the PRs watcher stopped; starting it again")
				kw = nil
				continue
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var head events.PRHead
			if err := json.Unmarshal(e.Value(), &head); err != nil {
				continue
			}
			if n := w.flights.apply(e.Key(), head); n > 0 {
				log.Info().Int("diffs", n).Msg("differ: cancelling the diffs of a superseded run")
			}
		}
	}
}

// recheck reads the PR entries of the diffs in flight.
func (w *Worker) recheck(ctx context.Context) {
	for _, key := range w.flights.keys() {
		head, err := prs.Head(ctx, w.prs, key)
		if err != nil || head == nil {
			continue
		}
		w.flights.apply(key, *head)
	}
}
