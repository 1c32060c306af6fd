package reporter

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/prs"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/human"
)

// advance ends a run whose tasks all have results, and completes a run
// that is decided but not yet reported (after a crash, or a race with
// another process).
func (r *Reporter) advance(ctx context.Context, s *runState) error {
	if s.End == nil {
		if !s.complete() {
			return nil
		}
		var err error
		if s, err = r.decide(ctx, s.Run, ending{Outcome: endDiffed}); err != nil {
			return err
		}
		if s.End == nil {
			return nil
		}
	}
	if s.Reported {
		return nil
	}
	return r.complete(ctx, s)
}

// decide records how the run ends, unless it has an ending already, and
// returns the state. A run that is to end in any way but cancelled is
// first checked against its PR's current head: a superseded run or a
// closed PR ends it as cancelled instead.
func (r *Reporter) decide(ctx context.Context, run events.Run, end ending) (*runState, error) {
	if end.Outcome != endCancelled {
		c, err := r.superseded(ctx, run)
		if err != nil {
			return nil, err
		}
		if c != nil {
			end = ending{Outcome: endCancelled, Cancelled: c}
		}
	}
	s, err := r.update(ctx, run, func(s *runState) bool {
		if s.End != nil {
			return false
		}
		e := end
		switch {
		case e.Outcome == endDiffed && !s.complete():
			return false
		case e.Outcome == endStalled && s.complete():
			e.Outcome = endDiffed // the last result landed meanwhile
		case e.Outcome == endStalled:
			e.Stall = r.opts.StallTimeout
		}
		e.Integration, e.FailOnPrimaryKeyIssues = r.integration(s)
		e.At = r.now()
		s.End = &e
		return true
	})
	if err != nil {
		return nil, err
	}
	if s.End != nil {
		zerolog.Ctx(ctx).Debug().Str("outcome", string(s.End.Outcome)).Msg("reporter: run decided")
	}
	return s, nil
}

// superseded reads the PR's current head: a cancellation when the run is
// no longer the PR's current run or the PR was closed, else nil. A PR
// without an entry (expired, or a run started by hand) is current.
func (r *Reporter) superseded(ctx context.Context, run events.Run) (*events.RunCancelled, error) {
	head, err := prs.Head(ctx, r.prs, run.PRKey())
	if err != nil || head == nil {
		return nil, err
	}
	if _, stale := prs.Stale(*head, run.ID()); !stale {
		return nil, nil
	}
	c := &events.RunCancelled{Version: events.Version, Run: run, At: r.now(), Reason: events.CancelSuperseded, By: head.Run.HeadSHA}
	if head.Closed {
		c.Reason, c.By = events.CancelClosed, ""
	}
	zerolog.Ctx(ctx).Info().Str("reason", c.Reason).Str("current_run", head.RunID).Msg("reporter: the run is no longer current; it ends cancelled")
	return c, nil
}

// integration finds the run's integration: by the plan's name, else by
// repository (runs that end before a plan).
func (r *Reporter) integration(s *runState) (name string, failOnPK bool) {
	if in, ok := r.cfg.IntegrationByName(s.Integration); ok && s.Integration != "" {
		return in.Name, in.CI.FailOnPrimaryKeyIssues
	}
	if in, ok := r.cfg.Integration(s.Run.Provider, s.Run.Repository); ok {
		return in.Name, in.CI.FailOnPrimaryKeyIssues
	}
	return s.Integration, false
}

// complete builds the report of a decided run, stores it, publishes it and
// marks the run reported, in that order: each step is safe to repeat.
func (r *Reporter) complete(ctx context.Context, s *runState) error {
	log := zerolog.Ctx(ctx)
	in, err := r.input(ctx, s)
	if err != nil {
		return err
	}
	rep, err := report.Build(in)
	if err != nil {
		return fmt.Errorf("reporter: build the report of run %s: %w", s.Run.ID(), err)
	}
	data, err := rep.Encode()
	if err != nil {
		return fmt.Errorf("reporter: encode the report of run %s: %w", s.Run.ID(), err)
	}
	ref, err := r.store(ctx, events.ReportObject(s.Run.ID()), data)
	if err != nil {
		return err
	}
	msg := events.RunReport{
		Version: events.Version, Run: s.Run, Conclusion: rep.Conclusion,
		Title: rep.Title, Summary: rep.Summary, Report: ref,
		Superseded: s.End.Cancelled != nil && s.End.Cancelled.Reason == events.CancelSuperseded,
		At:         s.End.At,
	}
	res, err := r.bus.Publish(ctx, msg)
	if err != nil {
		return fmt.Errorf("reporter: publish the report of run %s: %w", s.Run.ID(), err)
	}
	if _, err := r.update(ctx, s.Run, func(s *runState) bool {
		if s.Reported {
			return false
		}
		s.Reported = true
		return true
	}); err != nil {
		return err
	}
	if !res.Duplicate {
		log.Info().Str("conclusion", string(rep.Conclusion)).Str("title", rep.Title).Str("outcome", string(s.End.Outcome)).
			Int("models", len(rep.Results)).Msg("reporter: report published")
	}
	return nil
}

// store puts an object unless an identical one is there already (a second
// process, or a redelivery, completing the same run).
func (r *Reporter) store(ctx context.Context, name string, data []byte) (events.ObjectRef, error) {
	h := sha256.New()
	h.Write(data)
	digest := jetstream.GetObjectDigestValue(h)
	if info, err := r.objects.GetInfo(ctx, name); err == nil && info.Digest == digest && int(info.Size) == len(data) {
		return events.ObjectRef{Name: name, Digest: digest, Size: int64(len(data))}, nil
	}
	info, err := r.objects.PutBytes(ctx, name, data)
	if err != nil {
		return events.ObjectRef{}, fmt.Errorf("reporter: store %s: %w", name, err)
	}
	return events.ObjectRef{Name: info.Name, Digest: info.Digest, Size: int64(info.Size)}, nil
}

// input gathers what the report is built from, using only the stored
// state, the plan object and the stored results.
func (r *Reporter) input(ctx context.Context, s *runState) (report.Input, error) {
	e := s.End
	in := report.Input{
		Run: s.Run, Integration: e.Integration, FailOnPrimaryKeyIssues: e.FailOnPrimaryKeyIssues,
		StartedAt: s.FirstSeen, FinishedAt: e.At,
	}
	switch e.Outcome {
	case endCancelled:
		in.Cancelled = e.Cancelled
		return in, nil
	case endFailed:
		in.Failure, in.DeadLetter = e.Failure, e.DeadLetter
		return in, nil
	}
	plan, err := r.loadPlan(ctx, s)
	if errors.Is(err, errPlanUnreadable) {
		// Retrying cannot bring a plan back; end the run visibly.
		in.Failure = &events.RunFailed{
			Version: events.Version, Run: s.Run, Stage: events.StageReport, Code: events.FailInternal,
			Message: err.Error(), Hint: "re-run the check", At: e.At,
		}
		return in, nil
	}
	if err != nil {
		return in, err
	}
	in.Plan = plan
	if in.Results, err = r.gather(ctx, s); err != nil {
		return in, err
	}
	if e.Outcome == endStalled && plan != nil {
		in.Results = append(in.Results, stalled(s, plan, in.Results)...)
	}
	return in, nil
}

// errPlanUnreadable: the plan object is gone or not a plan.
var errPlanUnreadable = errors.New("the plan of this run cannot be read")

// loadPlan reads the run's plan; nil for a run planned without one (no
// tasks).
func (r *Reporter) loadPlan(ctx context.Context, s *runState) (*events.Plan, error) {
	if s.Plan.Name == "" {
		return nil, nil
	}
	data, err := r.objects.GetBytes(ctx, s.Plan.Name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: the object %s is not in the object store (expired or deleted)", errPlanUnreadable, s.Plan.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reporter: read the plan %s: %w", s.Plan.Name, err)
	}
	var p events.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: the object %s: %v", errPlanUnreadable, s.Plan.Name, err)
	}
	return &p, nil
}

// gatherConcurrency bounds the reads of one gather: a run of hundreds of
// models reads its results in a fraction of the time one by one takes.
const gatherConcurrency = 16

// gather reads the counted results, in the order of their hashes. A result
// that cannot be found is left out: the report marks its model missing.
func (r *Reporter) gather(ctx context.Context, s *runState) ([]events.DiffResult, error) {
	id := s.Run.ID()
	results := make([]*events.DiffResult, len(s.Done))
	errs := make([]error, len(s.Done))
	sem := make(chan struct{}, gatherConcurrency)
	var wg sync.WaitGroup
	for i, h := range s.Done {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], errs[i] = r.readResult(ctx, resultKey(id, h))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reporter: read the results of run %s: %w", id, err)
	}
	out := make([]events.DiffResult, 0, len(results))
	for _, dr := range results {
		if dr != nil {
			out = append(out, *dr)
		}
	}
	return out, nil
}

// readResult reads one stored result; nil when it is gone or unreadable.
func (r *Reporter) readResult(ctx context.Context, key string) (*events.DiffResult, error) {
	e, err := r.runs.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		zerolog.Ctx(ctx).Warn().Str("key", key).Msg("reporter: a counted result is gone; its model shows as missing")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var dr events.DiffResult
	if err := json.Unmarshal(e.Value(), &dr); err != nil || dr.ModelID == "" {
		zerolog.Ctx(ctx).Error().Err(err).Str("key", key).Msg("reporter: unreadable result; its model shows as missing")
		return nil, nil
	}
	return &dr, nil
}

// stalled is an error result for each planned model still without one
// when the watchdog ends the run.
func stalled(s *runState, plan *events.Plan, have []events.DiffResult) []events.DiffResult {
	got := make(map[string]bool, len(have))
	for _, dr := range have {
		got[dr.ModelID] = true
	}
	where := "the differ"
	if plan.DataSource != "" {
		where = "a differ for data source `" + plan.DataSource + "`"
	}
	var out []events.DiffResult
	for _, pm := range plan.Models {
		if !pm.Diff || got[pm.ID] {
			continue
		}
		out = append(out, events.DiffResult{
			Version: events.Version, Run: s.Run, ModelID: pm.ID, ModelName: pm.Name, At: s.End.At,
			Error: &events.Error{
				Code:    "no_result",
				Message: fmt.Sprintf("no diff result arrived for %s after the run's last progress", human.Duration(s.End.Stall)),
				Hint:    "check that " + where + " is running, then re-run the check",
			},
		})
	}
	return out
}
