package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/report/human"
)

// maxNesting bounds how many dead letters of dead letters are unwrapped:
// the reporter giving up on a dead letter produces another one, which it
// reads again; past this depth it stops trying.
const maxNesting = 3

// handleDeadLetter ends the run of a message that exhausted its
// deliveries: an error for one model when it was a diff task (or a result
// this stage could not record), a failed run otherwise.
func (r *Reporter) handleDeadLetter(ctx context.Context, m *bus.Msg) error {
	var dl events.DeadLetter
	if err := m.Decode(&dl); err != nil {
		// Nothing to end; the message stays in the dead letter stream.
		zerolog.Ctx(ctx).Error().Err(err).Msg("reporter: unreadable dead letter; no run to end")
		return nil
	}
	for depth := 0; strings.HasPrefix(dl.OrigSubject, events.SubjectDeadLetterPrefix); depth++ {
		var inner events.DeadLetter
		if depth == maxNesting || len(dl.Data) == 0 || json.Unmarshal(dl.Data, &inner) != nil || inner.OrigSubject == "" {
			zerolog.Ctx(ctx).Error().Str("dead_subject", dl.OrigSubject).Str("error", dl.Error).
				Msg("reporter: gave up on a dead letter that cannot be unwrapped; no run to end")
			return nil
		}
		dl = inner
	}
	// A handler's error may quote a credential back (a driver repeating
	// its DSN); it goes into logs and a report people read.
	dl.Error = r.redact(dl.Error)
	log := zerolog.Ctx(ctx).With().Str("dead_subject", dl.OrigSubject).Str("dead_consumer", dl.Consumer).
		Uint64("dead_stream_seq", dl.StreamSeq).Uint64("dead_deliveries", dl.Deliveries).Logger()
	ctx = log.WithContext(ctx)

	if strings.HasPrefix(dl.OrigSubject, events.SubjectRunStatusPrefix) || strings.HasPrefix(dl.OrigSubject, events.SubjectRunReportPrefix) {
		// An app could not post progress or a report: the run has (or
		// will have) its ending; another report would fail the same way.
		log.Error().Str("error", dl.Error).Msg("reporter: an app gave up on a progress or report message")
		return nil
	}
	run, err := r.runOf(ctx, &dl)
	if err != nil {
		return err
	}
	if run == nil {
		log.Error().Str("error", dl.Error).Msg("reporter: dead letter with no run to end; it stays in the dead letter stream")
		return nil
	}
	ctx = observe.WithRun(ctx, *run)

	if dl.OrigSubject == events.SubjectDiffResult || strings.HasPrefix(dl.OrigSubject, events.SubjectDiffTaskPrefix) {
		if id, name := modelOf(dl.Data); id != "" {
			log.Warn().Str("model_id", id).Str("error", dl.Error).Msg("reporter: a model's diff gave up; it is an error in the report")
			data, err := json.Marshal(modelFailure(*run, id, name, &dl))
			if err != nil {
				return fmt.Errorf("reporter: encode the error result of %s: %w", id, err)
			}
			return r.recordResult(ctx, *run, id, data)
		}
	}

	log.Warn().Str("error", dl.Error).Msg("reporter: a stage gave up on the run; it ends as failed")
	bare := dl // the original body is in the dead letter stream; the state only needs the why
	bare.Data, bare.Raw, bare.Headers = nil, nil, nil
	s, err := r.decide(ctx, *run, ending{Outcome: endFailed, DeadLetter: &bare})
	if err != nil {
		return err
	}
	return r.advance(ctx, s)
}

// runOf finds the run of a dead letter: in the original message, else
// through the run id header and the run's state (a body that was not
// JSON still had the headers).
func (r *Reporter) runOf(ctx context.Context, dl *events.DeadLetter) (*events.Run, error) {
	if len(dl.Data) > 0 {
		if run, err := events.RunOf(dl.Data); err == nil && run.Validate() == nil {
			return run, nil
		}
	}
	id := dl.Headers[events.HeaderRunID]
	if id == "" {
		return nil, nil
	}
	s, _, err := r.load(ctx, id)
	if errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, nil
	}
	if err != nil || s == nil {
		return nil, err
	}
	return &s.Run, nil
}

// modelFailure is the error result of a model whose diff task (or result)
// exhausted its deliveries.
func modelFailure(run events.Run, id, name string, dl *events.DeadLetter) events.DiffResult {
	if name == "" {
		name = id
	}
	attempts := human.Plural(int64(dl.Deliveries), "attempt", "attempts")
	msg := fmt.Sprintf("the diff of `%s` failed after %s", name, attempts)
	hint := "re-run the check; if it fails again, the differ's logs for this run say why"
	if dl.OrigSubject == events.SubjectDiffResult {
		msg = fmt.Sprintf("the result of `%s` could not be recorded after %s", name, attempts)
		hint = "re-run the check; if it fails again, the reporter's logs for this run say why"
	}
	if e := strings.TrimSpace(dl.Error); e != "" {
		msg += ": " + e
	}
	return events.DiffResult{
		Version: events.Version, Run: run, ModelID: id, ModelName: name, At: dl.At,
		Error: &events.Error{
			Code:    events.FailInternal,
			Message: msg,
			Hint:    hint + " (an operator finds the message in the dead letter stream, consumer " + dl.Consumer + ")",
		},
	}
}
