package reporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/events"
)

// stateVersion is the version of the stored runState.
const stateVersion = 1

// maxCAS bounds the compare-and-set attempts of one update. Conflicts come
// from handlers of the same run racing; a few hundred results landing at
// once resolve in a handful of rounds.
const maxCAS = 100

// runState is a run's entry in the runs bucket: everything needed to end
// the run, and nothing that needs loading the plan.
type runState struct {
	Version int        `json:"version"`
	Run     events.Run `json:"run"`
	// Integration is the plan's integration (empty until the plan).
	Integration string `json:"integration,omitempty"`

	Planned   bool             `json:"planned,omitempty"`
	Plan      events.ObjectRef `json:"plan,omitzero"`
	Tasks     int              `json:"tasks,omitempty"`
	PlannedAt time.Time        `json:"planned_at,omitzero"`

	// Done holds the model hashes (modelHash) of the models that have a
	// result, sorted.
	Done []string `json:"done,omitempty"`
	// ProgressAt is when the last new result was recorded.
	ProgressAt time.Time `json:"progress_at,omitzero"`
	// FirstSeen is when the reporter first heard of the run: the report's
	// start time.
	FirstSeen time.Time `json:"first_seen"`

	End      *ending `json:"end,omitempty"`
	Reported bool    `json:"reported,omitempty"`
}

// outcome is how a run ends, as recorded in its state.
type outcome string

const (
	endDiffed    outcome = "diffed"    // every task has a result
	endStalled   outcome = "stalled"   // results stopped coming (watchdog)
	endCancelled outcome = "cancelled" // RunCancelled, or found superseded/closed
	endFailed    outcome = "failed"    // RunFailed or a dead letter
)

// ending records the decision, with everything the report is built from
// that is not in the rest of the state, so that building it twice gives
// the same report.
type ending struct {
	Outcome    outcome              `json:"outcome"`
	Cancelled  *events.RunCancelled `json:"cancelled,omitempty"`
	Failure    *events.RunFailed    `json:"failure,omitempty"`
	DeadLetter *events.DeadLetter   `json:"dead_letter,omitempty"` // without the original body
	// Integration and FailOnPrimaryKeyIssues as the config said when the
	// run was decided.
	Integration            string `json:"integration,omitempty"`
	FailOnPrimaryKeyIssues bool   `json:"fail_on_primary_key_issues,omitempty"`
	// Stall is the stall timeout that ended a stalled run.
	Stall time.Duration `json:"stall,omitempty"`
	At    time.Time     `json:"at"`
}

func (s *runState) has(hash string) bool {
	_, ok := slices.BinarySearch(s.Done, hash)
	return ok
}

// add records a model's result; false when it had one already.
func (s *runState) add(hash string) bool {
	i, ok := slices.BinarySearch(s.Done, hash)
	if ok {
		return false
	}
	s.Done = slices.Insert(s.Done, i, hash)
	return true
}

// complete reports whether every planned task has a result.
func (s *runState) complete() bool { return s.Planned && len(s.Done) >= s.Tasks }

// modelHash names a model in keys: model ids are long and may hold
// characters a key may not.
func modelHash(modelID string) string {
	sum := sha256.Sum256([]byte(modelID))
	return hex.EncodeToString(sum[:8])
}

// resultKey is the key of one model's result in the runs bucket.
func resultKey(runID, hash string) string { return runID + ".m." + hash }

// load reads a run's state; nil (and revision 0) when there is none.
func (r *Reporter) load(ctx context.Context, runID string) (*runState, uint64, error) {
	e, err := r.runs.Get(ctx, runID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reporter: read the state of run %s: %w", runID, err)
	}
	var s runState
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return nil, 0, fmt.Errorf("%w: run %s: %w", ErrState, runID, err)
	}
	if s.Version != stateVersion {
		return nil, 0, fmt.Errorf("%w: run %s has state version %d, this build reads %d", ErrState, runID, s.Version, stateVersion)
	}
	return &s, e.Revision(), nil
}

// update applies change to the run's state with compare-and-set on the
// entry's revision, retrying when another handler changed it first. change
// may be called several times, each time on a fresh copy; it returns false
// to leave the state as it is. update returns the state as stored (or as
// read, when nothing changed; a run with no state yet reads as new).
func (r *Reporter) update(ctx context.Context, run events.Run, change func(s *runState) bool) (*runState, error) {
	id := run.ID()
	for attempt := range maxCAS {
		s, rev, err := r.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if s == nil {
			s = &runState{Version: stateVersion, Run: run, FirstSeen: r.now()}
		}
		if !change(s) {
			return s, nil
		}
		data, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("reporter: encode the state of run %s: %w", id, err)
		}
		if rev == 0 {
			_, err = r.runs.Create(ctx, id, data)
		} else {
			_, err = r.runs.Update(ctx, id, data, rev)
		}
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("reporter: write the state of run %s: %w", id, err)
		}
		// Someone else changed it first: read it again, after a short
		// pause that grows and is jittered so racing handlers spread out.
		pause := time.NewTimer(time.Duration(attempt+1)*time.Millisecond + rand.N(2*time.Millisecond))
		select {
		case <-ctx.Done():
			pause.Stop()
			return nil, fmt.Errorf("reporter: update the state of run %s: %w", id, ctx.Err())
		case <-pause.C:
		}
	}
	return nil, fmt.Errorf("%w: run %s, %d attempts", ErrContention, id, maxCAS)
}
