package differ

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/task"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/prs"
)

// Causes of a diff's cancellation other than supersession.
var (
	errStopping  = errors.New("differ: the process is stopping")
	errLeaseLost = errors.New("differ: the task's ack deadline passed")
)

// handler handles the diff tasks of one data source. runCtx is the
// worker's: when it ends, diffs in flight are cancelled and their tasks
// handed back.
func (w *Worker) handler(runCtx context.Context, ds *dataSource) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		var t events.DiffTask
		if err := m.Decode(&t); err != nil {
			return err
		}
		if err := validate(t, ds.cfg.Name); err != nil {
			return bus.Poison(err)
		}
		log := zerolog.Ctx(ctx).With().Str("model_id", t.ModelID).Str("data_source", ds.cfg.Name).Logger()
		ctx = log.WithContext(ctx)

		// The diff's context ends when the run is superseded, when the
		// process stops, or when the task's lease is lost; the cause says
		// which. It has no deadline of its own: the engine's statement
		// timeout is the data source's query_timeout.
		dctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		defer cancel(nil)
		defer context.AfterFunc(ctx, func() { cancel(errLeaseLost) })()
		defer context.AfterFunc(runCtx, func() { cancel(errStopping) })()
		// Registered before the head is read: a change after the read is
		// seen by the watcher, one before it by the read.
		defer w.flights.add(t.Run, cancel)()

		if ok, why, err := prs.Current(ctx, w.prs, t.Run); err != nil {
			return err
		} else if !ok {
			log.Info().Str("reason", why).Msg("differ: dropped the task of a run that is no longer current")
			return nil
		}
		if done, err := w.republish(ctx, t); done || err != nil {
			return err
		}

		spec, err := task.Spec(t)
		if err != nil {
			return w.publishError(ctx, t, ds, err)
		}
		stopBeat := m.KeepAlive(ctx)
		res, err := ds.diff(dctx, spec)
		stopBeat()

		if dctx.Err() != nil {
			switch cause := context.Cause(dctx); {
			case errors.Is(cause, errSuperseded):
				log.Info().Msg("differ: the run was superseded while its diff ran; diff cancelled, no result")
				return nil
			case errors.Is(cause, errStopping):
				return bus.RetryAfter(0)
			default:
				return fmt.Errorf("%w: %w", ErrInterrupted, cause)
			}
		}
		// A diff that fails or finishes as the run is superseded must not
		// publish a stale result either.
		if ok, why, cerr := prs.Current(ctx, w.prs, t.Run); cerr != nil {
			return cerr
		} else if !ok {
			log.Info().Str("reason", why).Msg("differ: the run was superseded as its diff ended; no result")
			return nil
		}
		if err != nil {
			if errors.Is(err, datadiff.ErrUnavailable) {
				return fmt.Errorf("%w: %s", ErrUnavailable, ds.redact(err.Error()))
			}
			return w.publishError(ctx, t, ds, err)
		}
		return w.publishResult(ctx, t, res)
	}
}

// validate checks what the wire contract promises about a task.
func validate(t events.DiffTask, dataSource string) error {
	if err := t.Run.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrContract, err)
	}
	if t.ModelID == "" {
		return fmt.Errorf("%w: no model_id", ErrContract)
	}
	if t.DataSource != dataSource {
		return fmt.Errorf("%w: the task names data source %q but was published for %q", ErrContract, t.DataSource, dataSource)
	}
	return nil
}

// publishResult stores the full result and publishes it without samples.
func (w *Worker) publishResult(ctx context.Context, t events.DiffTask, res *datadiff.Result) error {
	full, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("differ: encode the result of %s: %w", t.ModelID, err)
	}
	info, err := w.objects.PutBytes(ctx, events.ResultObject(t.Run.ID(), t.ModelID), full)
	if err != nil {
		return fmt.Errorf("differ: store the result of %s: %w", t.ModelID, err)
	}
	if err := w.publishLean(ctx, t, res, info); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("status", string(res.Status)).
		Int64("added", res.Added).Int64("removed", res.Removed).Int64("changed", res.Changed).
		Dur("took", res.Duration).Msg("differ: diffed")
	return nil
}

// publishLean publishes res without its samples, naming the stored object.
func (w *Worker) publishLean(ctx context.Context, t events.DiffTask, res *datadiff.Result, info *jetstream.ObjectInfo) error {
	lean := *res
	lean.Samples = nil
	dr := events.DiffResult{
		Version: events.Version, Run: t.Run, ModelID: t.ModelID, ModelName: t.ModelName,
		Result: &lean,
		Full:   &events.ObjectRef{Name: info.Name, Digest: info.Digest, Size: int64(info.Size)},
		At:     w.o.Now().UTC(),
	}
	if _, err := w.bus.Publish(ctx, dr); err != nil {
		return fmt.Errorf("differ: publish the result of %s: %w", t.ModelID, err)
	}
	return nil
}

// republish publishes the stored result of a task that an earlier
// delivery diffed but did not acknowledge. It reports whether there was
// one.
func (w *Worker) republish(ctx context.Context, t events.DiffTask) (bool, error) {
	name := events.ResultObject(t.Run.ID(), t.ModelID)
	info, err := w.objects.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("differ: look for a stored result of %s: %w", t.ModelID, err)
	}
	data, err := w.objects.GetBytes(ctx, name)
	if err != nil {
		return false, fmt.Errorf("differ: read the stored result of %s: %w", t.ModelID, err)
	}
	var res datadiff.Result
	if err := json.Unmarshal(data, &res); err != nil {
		// Not one of ours after all: diff again and overwrite it.
		zerolog.Ctx(ctx).Warn().Err(err).Msg("differ: unreadable stored result; diffing again")
		return false, nil
	}
	if err := w.publishLean(ctx, t, &res, info); err != nil {
		return false, err
	}
	zerolog.Ctx(ctx).Info().Str("status", string(res.Status)).Msg("differ: published the result an earlier delivery stored")
	return true, nil
}

// publishError publishes an error a person can act on as the model's
// result.
func (w *Worker) publishError(ctx context.Context, t events.DiffTask, ds *dataSource, err error) error {
	e := task.Error(err)
	if errors.Is(err, errOpen) {
		e.Message = err.Error()
		e.Hint = "check the data source's dsn and that the warehouse accepts its user (`diffgate check` tests it)"
	} else if e.Code == datadiff.CodeInternal {
		e.Hint = "re-run the check; if it fails again, the differ's logs for this run say more"
	}
	e.Message, e.Hint = ds.redact(e.Message), ds.redact(e.Hint)
	dr := events.DiffResult{
		Version: events.Version, Run: t.Run, ModelID: t.ModelID, ModelName: t.ModelName,
		Error: e, At: w.o.Now().UTC(),
	}
	if _, perr := w.bus.Publish(ctx, dr); perr != nil {
		return fmt.Errorf("differ: publish the error result of %s: %w", t.ModelID, perr)
	}
	lvl := zerolog.InfoLevel
	if e.Code == datadiff.CodeInternal {
		lvl = zerolog.ErrorLevel
	}
	zerolog.Ctx(ctx).WithLevel(lvl).Str("code", e.Code).Str("error", e.Message).Msg("differ: the diff failed; published the error as the model's result")
	return nil
}
