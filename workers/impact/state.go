package impact

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
)

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
