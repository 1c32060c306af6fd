package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// handlePlan records a run's plan, says "diffing k/N", and ends the run
// when every task already has a result (or there is none to wait for).
func (r *Reporter) handlePlan(ctx context.Context, m *bus.Msg) error {
	var p events.DiffPlanned
	if err := m.Decode(&p); err != nil {
		return err
	}
	if err := p.Run.Validate(); err != nil {
		return bus.Poison(fmt.Errorf("diff plan: %w", err))
	}
	if p.Tasks < 0 || (p.Tasks > 0 && p.Plan.Name == "") {
		return bus.Poison(fmt.Errorf("diff plan of %s: %d tasks and plan object %q: a plan with tasks names its object", p.Run, p.Tasks, p.Plan.Name))
	}
	ctx = observe.WithRun(ctx, p.Run)
	s, err := r.update(ctx, p.Run, func(s *runState) bool {
		if s.End != nil || s.Planned {
			return false
		}
		s.Planned, s.Plan, s.Tasks, s.PlannedAt = true, p.Plan, p.Tasks, r.now()
		if p.Integration != "" {
			s.Integration = p.Integration
		}
		return true
	})
	if err != nil {
		return err
	}
	if s.End != nil {
		zerolog.Ctx(ctx).Info().Str("outcome", string(s.End.Outcome)).Msg("reporter: plan of a run that has ended; ignored")
	} else {
		zerolog.Ctx(ctx).Debug().Int("tasks", s.Tasks).Int("done", len(s.Done)).Msg("reporter: plan recorded")
	}
	if err := r.progress(ctx, s, true); err != nil {
		return err
	}
	return r.advance(ctx, s)
}

// handleResult records one model's result.
func (r *Reporter) handleResult(ctx context.Context, m *bus.Msg) error {
	var dr events.DiffResult
	if err := m.Decode(&dr); err != nil {
		return err
	}
	if err := dr.Run.Validate(); err != nil {
		return bus.Poison(fmt.Errorf("diff result: %w", err))
	}
	if dr.ModelID == "" {
		return bus.Poison(fmt.Errorf("diff result of %s has no model_id", dr.Run))
	}
	// The message body is stored as it is: it already fitted in a message,
	// so it fits in a value.
	return r.recordResult(observe.WithRun(ctx, dr.Run), dr.Run, dr.ModelID, m.Data)
}

// recordResult stores a model's result (the JSON of an events.DiffResult)
// and counts it, once, unless the run has ended.
func (r *Reporter) recordResult(ctx context.Context, run events.Run, modelID string, data []byte) error {
	log := zerolog.Ctx(ctx).With().Str("model_id", modelID).Logger()
	id, hash := run.ID(), modelHash(modelID)
	s, _, err := r.load(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case s != nil && s.End != nil:
		log.Info().Str("outcome", string(s.End.Outcome)).Msg("reporter: result for a run that has ended; ignored")
		return r.advance(ctx, s)
	case s != nil && s.has(hash):
		log.Debug().Msg("reporter: result already counted")
		if err := r.progress(ctx, s, false); err != nil {
			return err
		}
		return r.advance(ctx, s)
	}
	// The result first, then the count: a crash between them leaves a
	// result nobody counted, which the redelivery counts. Create, not Put:
	// a different result for the model arriving meanwhile (a dead letter's
	// and a late diff's) must not replace the one that gets counted.
	if _, err := r.runs.Create(ctx, resultKey(id, hash), data); errors.Is(err, jetstream.ErrKeyExists) {
		log.Debug().Msg("reporter: the model has a stored result already; that one stays")
	} else if err != nil {
		return fmt.Errorf("reporter: store the result of %s in run %s: %w", modelID, id, err)
	}
	added := false
	s, err = r.update(ctx, run, func(s *runState) bool {
		added = false
		if s.End != nil || !s.add(hash) {
			return false
		}
		s.ProgressAt = r.now()
		added = true
		return true
	})
	if err != nil {
		return err
	}
	if added {
		ev := log.Debug().Int("done", len(s.Done))
		if s.Planned {
			ev = ev.Int("tasks", s.Tasks)
		}
		ev.Msg("reporter: result recorded")
	}
	if err := r.progress(ctx, s, false); err != nil {
		return err
	}
	return r.advance(ctx, s)
}

// handleCancelled ends a run as cancelled, unless it has ended.
func (r *Reporter) handleCancelled(ctx context.Context, m *bus.Msg) error {
	var c events.RunCancelled
	if err := m.Decode(&c); err != nil {
		return err
	}
	if err := c.Run.Validate(); err != nil {
		return bus.Poison(fmt.Errorf("run cancelled: %w", err))
	}
	ctx = observe.WithRun(ctx, c.Run)
	s, err := r.decide(ctx, c.Run, ending{Outcome: endCancelled, Cancelled: &c})
	if err != nil {
		return err
	}
	return r.advance(ctx, s)
}

// handleFailed ends a run as failed, unless it has ended.
func (r *Reporter) handleFailed(ctx context.Context, m *bus.Msg) error {
	var f events.RunFailed
	if err := m.Decode(&f); err != nil {
		return err
	}
	if err := f.Run.Validate(); err != nil {
		return bus.Poison(fmt.Errorf("run failed: %w", err))
	}
	ctx = observe.WithRun(ctx, f.Run)
	f.Message, f.Hint = r.redact(f.Message), r.redact(f.Hint)
	s, err := r.decide(ctx, f.Run, ending{Outcome: endFailed, Failure: &f})
	if err != nil {
		return err
	}
	return r.advance(ctx, s)
}

// maxStatuses bounds the progress messages of one run: each becomes a
// check run or commit status update, and a run of 500 models must not
// spend 500 of the installation's API requests on them.
const maxStatuses = 50

// progressStep is how many results apart two progress messages of a run
// of n tasks are: 1 up to maxStatuses tasks.
func progressStep(n int) int { return max(1, (n+maxStatuses-1)/maxStatuses) }

// progress publishes "diffing k/N" for a planned run that is still
// waiting for results, on the plan and then every progressStep results.
// Each count is seen by exactly one handler (the one whose
// compare-and-set produced it), and publishing a count again is harmless:
// the same progress has the same message id.
func (r *Reporter) progress(ctx context.Context, s *runState, planned bool) error {
	if s.End != nil || !s.Planned || s.complete() {
		// Finished runs get their report, which says more.
		return nil
	}
	if !planned && len(s.Done)%progressStep(s.Tasks) != 0 {
		return nil
	}
	st := events.RunStatus{
		Version: events.Version, Run: s.Run, Stage: events.StageDiff, State: "running",
		Message: fmt.Sprintf("diffing %d/%d", len(s.Done), s.Tasks),
		Done:    len(s.Done), Total: s.Tasks, At: r.now(),
	}
	if _, err := r.bus.Publish(ctx, st); err != nil {
		return fmt.Errorf("reporter: publish progress of run %s: %w", s.Run.ID(), err)
	}
	return nil
}

// redact hides the config's secrets in text that reaches a report.
func (r *Reporter) redact(text string) string { return config.Redact(text, r.cfg.Secrets()...) }

// modelOf reads the model of a diff task or diff result body.
func modelOf(data json.RawMessage) (id, name string) {
	var probe struct {
		ModelID   string `json:"model_id"`
		ModelName string `json:"model_name"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return "", ""
	}
	return probe.ModelID, probe.ModelName
}
