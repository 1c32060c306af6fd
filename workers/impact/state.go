package impact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
)

// current reports whether run is still its PR's current run (see the
// gate): a superseded or closed run is dropped before any analysis.
func (w *Worker) current(ctx context.Context, run events.Run) (bool, string, error) {
	e, err := w.prs.Get(ctx, run.PRKey())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("impact: read the PR's current head: %w", err)
	}
	var head events.PRHead
	if err := json.Unmarshal(e.Value(), &head); err != nil {
		return true, "", nil
	}
	switch {
	case head.Closed:
		return false, "the pull request was closed", nil
	case head.RunID != "" && head.RunID != run.ID():
		return false, "superseded by " + head.Run.ShortSHA(), nil
	}
	return true, "", nil
}

// progress publishes where the stage stands.
func (w *Worker) progress(ctx context.Context, run events.Run, msg string) error {
	s := events.RunStatus{Version: events.Version, Run: run, Stage: events.StageImpact, State: "running", Message: msg, At: w.o.Now().UTC()}
	if _, err := w.bus.Publish(ctx, s); err != nil {
		return fmt.Errorf("impact: publish progress: %w", err)
	}
	return nil
}

// fail ends the run with an error a person can act on.
func (w *Worker) fail(ctx context.Context, run events.Run, code, msg, hint string) error {
	f := events.RunFailed{Version: events.Version, Run: run, Stage: events.StageImpact, Code: code, Message: msg, Hint: hint, At: w.o.Now().UTC()}
	if _, err := w.bus.Publish(ctx, f); err != nil {
		return fmt.Errorf("impact: publish %s: %w", f.Subject(), err)
	}
	zerolog.Ctx(ctx).Warn().Str("code", code).Str("error", msg).Msg("impact: run failed")
	return nil
}
