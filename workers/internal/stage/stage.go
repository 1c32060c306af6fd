// Package stage holds what the pipeline stages ciwait, manifests and
// impact do alike with the run a delivery names: check it and put it on
// the logger, drop it once it is no longer its PR's current run, tell
// people where it stands, and end it with an error a person can act on.
package stage

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/prs"
)

// Publisher is the part of the bus a stage publishes with; a *bus.Bus
// fits.
type Publisher interface {
	Publish(ctx context.Context, m events.Message, opts ...bus.PubOption) (bus.PubResult, error)
}

// Stage is one pipeline stage as the runs it handles see it.
type Stage struct {
	Name events.Stage
	Bus  Publisher
	Now  func() time.Time
}

// Open checks the run a decoded delivery names and returns ctx with the
// run on its logger. A run that is not valid makes the delivery poison;
// what names the message in that error ("ci completed").
func Open(ctx context.Context, run events.Run, what string) (context.Context, error) {
	if err := run.Validate(); err != nil {
		return ctx, bus.Poison(fmt.Errorf("%s: %w", what, err))
	}
	return observe.WithRun(ctx, run), nil
}

// UnknownIntegration is the end of a run whose integration is not in the
// workers' configuration.
func UnknownIntegration(name string) events.RunFailed {
	return events.RunFailed{
		Code:    events.FailConfig,
		Message: fmt.Sprintf("integration %q is not in diffgate.yaml", name),
		Hint:    "add it under integrations, or restart the workers with the configuration the apps use",
	}
}

// Current reports whether run is still its PR's current run (kv is
// events.BucketPRs); a run that is not is logged as dropped, and the
// stage does no more for it.
func (s Stage) Current(ctx context.Context, kv prs.Getter, run events.Run) (bool, error) {
	cur, why, err := prs.Current(ctx, kv, run)
	if err == nil && !cur {
		zerolog.Ctx(ctx).Info().Str("reason", why).Msgf("%s: the run is no longer current; dropping it", s.Name)
	}
	return cur, err
}

// Take takes up run for the integration its message names. A run whose
// integration is not configured is ended (UnknownIntegration), one that is
// no longer its PR's current run is dropped: either way Take returns a nil
// integration, and the delivery is done once err is nil.
func (s Stage) Take(ctx context.Context, cfg *config.Config, kv prs.Getter, run events.Run, integration string) (*config.Integration, error) {
	in, ok := cfg.IntegrationByName(integration)
	if !ok {
		return nil, s.Fail(ctx, run, UnknownIntegration(integration))
	}
	if cur, err := s.Current(ctx, kv, run); err != nil || !cur {
		return nil, err
	}
	return in, nil
}

// Progress publishes st (its state, message and link) as where the stage
// stands with run; the state is "running" unless st says otherwise.
func (s Stage) Progress(ctx context.Context, run events.Run, st events.RunStatus) error {
	st.Version, st.Run, st.Stage, st.At = events.Version, run, s.Name, s.Now().UTC()
	if st.State == "" {
		st.State = "running"
	}
	if _, err := s.Bus.Publish(ctx, st); err != nil {
		return fmt.Errorf("%s: publish progress: %w", s.Name, err)
	}
	return nil
}

// Fail ends run with f (its code, message, hint and link), an error a
// person can act on, and logs it.
func (s Stage) Fail(ctx context.Context, run events.Run, f events.RunFailed) error {
	f.Version, f.Run, f.Stage, f.At = events.Version, run, s.Name, s.Now().UTC()
	if _, err := s.Bus.Publish(ctx, f); err != nil {
		return fmt.Errorf("%s: publish %s: %w", s.Name, f.Subject(), err)
	}
	zerolog.Ctx(ctx).Warn().Str("code", f.Code).Str("error", f.Message).Msgf("%s: run failed", s.Name)
	return nil
}
