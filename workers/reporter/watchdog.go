package reporter

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// notPlannedRecheck is how soon the watchdog looks again at a plan the
// plan consumer has not recorded yet (both read the same message).
const notPlannedRecheck = 30 * time.Second

// handleWatch keeps a run's plan message pending until the run has ended,
// and ends the run when no result arrived for StallTimeout (see the
// package documentation).
func (r *Reporter) handleWatch(ctx context.Context, m *bus.Msg) error {
	var p events.DiffPlanned
	if err := m.Decode(&p); err != nil || p.Run.Validate() != nil {
		// The plan consumer dead-letters it; that ends the run.
		zerolog.Ctx(ctx).Debug().Err(err).Msg("reporter: watchdog: unreadable plan; left to the plan consumer")
		return nil
	}
	ctx = observe.WithRun(ctx, p.Run)
	stall := r.opts.StallTimeout
	s, _, err := r.load(ctx, p.Run.ID())
	if err != nil {
		return err
	}
	now := r.now()
	switch {
	case s != nil && s.End != nil:
		if !s.Reported {
			return r.complete(ctx, s)
		}
		return nil
	case s == nil || !s.Planned:
		if !p.At.IsZero() && now.Sub(p.At) > stall {
			// The plan consumer never recorded it (it was dead-lettered,
			// and the dead letter ends the run); stop watching.
			zerolog.Ctx(ctx).Warn().Msg("reporter: watchdog: the plan was never recorded; no longer watching the run")
			return nil
		}
		return bus.RetryAfter(min(stall, notPlannedRecheck))
	}
	last := s.PlannedAt
	if s.ProgressAt.After(last) {
		last = s.ProgressAt
	}
	if wait := last.Add(stall).Sub(now); wait > 0 {
		return bus.RetryAfter(wait)
	}
	zerolog.Ctx(ctx).Warn().Int("tasks", s.Tasks).Int("done", len(s.Done)).Dur("stall", stall).
		Msg("reporter: no result for too long; ending the run with the missing models as errors")
	if s, err = r.decide(ctx, s.Run, ending{Outcome: endStalled}); err != nil {
		return err
	}
	return r.advance(ctx, s)
}
