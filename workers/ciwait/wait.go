package ciwait

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/internal/stage"
)

// Outcomes recorded in done markers.
const (
	outcomeCompleted = "ci_completed"
	outcomeCIError   = "ci_error"
	outcomeCancelled = "ci_cancelled"
	outcomeTimeout   = "ci_timeout"
	outcomeFailed    = "failed"
)

// handleRequested is one look at dbt Cloud for one waiting run.
func (w *Worker) handleRequested(ctx context.Context, m *bus.Msg) error {
	var req events.RunRequested
	if err := m.Decode(&req); err != nil {
		return err
	}
	ctx, err := stage.Open(ctx, req.Run, "run requested")
	if err != nil {
		return err
	}
	if req.RequestedAt.IsZero() {
		return bus.Poison(errors.New("run requested: requested_at is missing"))
	}
	if done, err := w.finished(ctx, req.Run.ID()); err != nil || done {
		return err
	}
	in, ok := w.cfg.IntegrationByName(req.Integration)
	if !ok {
		return w.fail(ctx, nil, req, stage.UnknownIntegration(req.Integration))
	}
	d := in.DBTCloud
	if cur, err := w.stage.Current(ctx, w.prs, req.Run); err != nil {
		return err
	} else if !cur {
		return w.forget(ctx, d.AccountID, d.PRJobID, req.Run)
	}

	rec, err := w.register(ctx, d.AccountID, d.PRJobID, req)
	if err != nil {
		return err
	}
	cl := w.clients[in.Name]
	interval := d.PollInterval.D()
	st, err := w.jobRuns(ctx, in, cl)
	if errors.Is(err, errRefreshing) {
		return bus.RetryAfter(shortly(interval))
	}
	if err != nil {
		return err
	}
	now := w.now()
	lastErr, permanentErr := st.Error, st.Permanent
	looked := rec.LookedUp
	ci := newest(st.Runs, req.Run.PR, req.Run.HeadSHA)
	if ci == nil && lastErr == "" && (rec.CIRunID != 0 || (!rec.LookedUp && now.Sub(req.RequestedAt) >= lookGrace(interval))) {
		found, err := lookUp(ctx, in, cl, rec)
		if err != nil {
			lastErr, permanentErr = err.Error(), dbtcloud.Permanent(err)
		} else {
			ci = found
			looked = true
		}
	}
	if permanentErr {
		return w.fail(ctx, in, req, events.RunFailed{
			Code:    events.FailDBTCloud,
			Message: "dbt Cloud refused to list the runs of the CI job: " + lastErr,
			Hint:    fmt.Sprintf("check dbt_cloud.token, account_id (%d) and pr_job_id (%d) of integration %q", d.AccountID, d.PRJobID, in.Name),
		})
	}
	if ci != nil && ci.status().Done() {
		return w.finish(ctx, in, req, ci)
	}
	deadline := req.RequestedAt.Add(d.Timeout.D())
	if !now.Before(deadline) {
		return w.timedOut(ctx, in, req, ci, lastErr)
	}

	learnt := rec
	learnt.LookedUp = looked
	if ci != nil {
		learnt.CIRunID = ci.RunID
	}
	if learnt.CIRunID != rec.CIRunID || learnt.LookedUp != rec.LookedUp {
		if err := w.remember(ctx, d.AccountID, d.PRJobID, learnt); err != nil {
			return err
		}
	}
	if err := w.progress(ctx, in, req, ci, lastErr); err != nil {
		return err
	}
	next := st.FetchedAt.Add(interval).Sub(now) + rand.N(interval/10+1)
	next = max(next, shortly(interval))
	if until := deadline.Sub(now); until < next {
		next = until + 10*time.Millisecond
	}
	return bus.RetryAfter(next)
}

// shortly is how long a delivery waits for another one's refresh.
func shortly(interval time.Duration) time.Duration {
	return min(max(interval/10, 50*time.Millisecond), 2*time.Second)
}

// lookGrace is how long a run relies on the shared list alone before
// looking for its CI run itself: a CI run started by the same push shows
// up in the list within a poll or two; one that does not is older than
// the list reaches, or missing.
func lookGrace(interval time.Duration) time.Duration { return 2 * interval }

// progress publishes where the wait stands. Identical progress has the
// same message id, so repeating it each poll stores nothing new.
func (w *Worker) progress(ctx context.Context, in *config.Integration, req events.RunRequested, ci *ciRun, lastErr string) error {
	var s events.RunStatus
	switch {
	case ci == nil:
		s.State = "waiting"
		s.Message = fmt.Sprintf("Waiting for dbt Cloud job %d to run for commit %s", in.DBTCloud.PRJobID, req.Run.ShortSHA())
	case ci.status() == dbtcloud.StatusRunning:
		s.State = "running"
		s.Message = fmt.Sprintf("dbt Cloud run #%d is running", ci.RunID)
		s.Link = ci.URL
	default:
		s.State = "queued"
		s.Message = fmt.Sprintf("dbt Cloud run #%d is %s", ci.RunID, strings.ToLower(ci.status().String()))
		s.Link = ci.URL
	}
	if lastErr != "" {
		s.Message += "; dbt Cloud is not answering, trying again at the next poll"
	}
	return w.stage.Progress(ctx, req.Run, s)
}

// finish ends the wait of req with the outcome of its finished CI run. The
// poll and the webhook both end runs here; message ids and the done
// marker make a second finish harmless.
func (w *Worker) finish(ctx context.Context, in *config.Integration, req events.RunRequested, ci *ciRun) error {
	now := w.now().UTC()
	var (
		msg     events.Message
		outcome string
	)
	switch ci.status() {
	case dbtcloud.StatusSuccess:
		msg, outcome = events.CICompleted{
			Version: events.Version, Run: req.Run, Integration: in.Name, Labels: req.Labels,
			CIRun: ci.DBTCloudRun, At: now,
		}, outcomeCompleted
	case dbtcloud.StatusError:
		text := fmt.Sprintf("dbt Cloud run #%d failed", ci.RunID)
		if m := strings.TrimSpace(ci.Message); m != "" && m != "None" {
			text += ": " + m
		}
		cr := ci.DBTCloudRun
		msg, outcome = events.RunFailed{
			Version: events.Version, Run: req.Run, Stage: events.StageCIWait, Code: events.FailCIError,
			Message: text,
			Hint:    "open the dbt Cloud run to see which model or test failed, fix it and push; diffgate diffs once the CI run succeeds",
			Link:    ci.URL, CIRun: &cr, At: now,
		}, outcomeCIError
	case dbtcloud.StatusCancelled:
		msg, outcome = events.RunCancelled{
			Version: events.Version, Run: req.Run, Reason: events.CancelCI,
			Message: fmt.Sprintf("dbt Cloud run #%d was cancelled", ci.RunID), At: now,
		}, outcomeCancelled
	default:
		return fmt.Errorf("ciwait: dbt Cloud run #%d has not finished (%s)", ci.RunID, ci.status())
	}
	if _, err := w.bus.Publish(ctx, msg); err != nil {
		return fmt.Errorf("ciwait: publish %s: %w", msg.Subject(), err)
	}
	zerolog.Ctx(ctx).Info().Int64("dbt_cloud_run", ci.RunID).Str("outcome", outcome).Msg("ciwait: the CI run finished")
	return w.done(ctx, in, req.Run, outcome, ci.RunID)
}

// timedOut ends a run whose CI run did not finish in time.
func (w *Worker) timedOut(ctx context.Context, in *config.Integration, req events.RunRequested, ci *ciRun, lastErr string) error {
	d := in.DBTCloud
	f := events.RunFailed{Code: events.FailCITimeout}
	if ci == nil {
		f.Message = fmt.Sprintf("No dbt Cloud CI run finished for commit %s within %s: job %d in account %d has no run for PR #%d at that commit",
			req.Run.ShortSHA(), human(d.Timeout.D()), d.PRJobID, d.AccountID, req.Run.PR)
		f.Hint = fmt.Sprintf("check that dbt Cloud job %d is this repository's CI job (triggered by pull requests) and that it ran for this commit, then push or re-run the check", d.PRJobID)
	} else {
		cr := ci.DBTCloudRun
		f.Message = fmt.Sprintf("dbt Cloud run #%d for commit %s was still %s after %s",
			ci.RunID, req.Run.ShortSHA(), strings.ToLower(ci.status().String()), human(d.Timeout.D()))
		f.Hint = "if CI runs take this long, raise dbt_cloud.timeout in diffgate.yaml, then re-run the check"
		f.Link, f.CIRun = ci.URL, &cr
	}
	if lastErr != "" {
		f.Message += "; the last attempt to reach dbt Cloud failed: " + lastErr
	}
	zerolog.Ctx(ctx).Info().Msg("ciwait: timed out")
	return w.failAs(ctx, in, req, f, outcomeTimeout)
}

// fail ends a run with f (in may be nil when the integration is unknown).
func (w *Worker) fail(ctx context.Context, in *config.Integration, req events.RunRequested, f events.RunFailed) error {
	return w.failAs(ctx, in, req, f, outcomeFailed)
}

func (w *Worker) failAs(ctx context.Context, in *config.Integration, req events.RunRequested, f events.RunFailed, outcome string) error {
	if err := w.stage.Fail(ctx, req.Run, f); err != nil {
		return err
	}
	return w.done(ctx, in, req.Run, outcome, 0)
}

// done records the outcome and stops the run waiting.
func (w *Worker) done(ctx context.Context, in *config.Integration, run events.Run, outcome string, ciRunID int64) error {
	if err := w.markDone(ctx, run.ID(), outcome, ciRunID); err != nil {
		return err
	}
	if in == nil {
		return nil
	}
	return w.forget(ctx, in.DBTCloud.AccountID, in.DBTCloud.PRJobID, run)
}

// human writes a duration the way people say it: 2h, 90m, 45s.
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
