// Package publishtest feeds a provider's publisher in tests the way the
// pipeline does: a run's progress (Progress) and its final report
// (Finish), on a real bus.
package publishtest

import (
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// Finish ends a run as the reporter does: the report built from in is
// stored in the object store, then its RunReport published. superseded
// marks a run a newer head replaced.
func Finish(t testing.TB, b *bus.Bus, in report.Input, run events.Run, superseded bool) events.RunReport {
	t.Helper()
	ctx := bustest.Context(t)
	in.Run = run
	r, err := report.Build(in)
	if err != nil {
		t.Fatalf("publishtest: build the report: %v", err)
	}
	data, err := r.Encode()
	if err != nil {
		t.Fatalf("publishtest: %v", err)
	}
	objs, err := b.Objects(ctx)
	if err != nil {
		t.Fatalf("publishtest: %v", err)
	}
	obj := events.ReportObject(run.ID())
	if _, err := objs.PutBytes(ctx, obj, data); err != nil {
		t.Fatalf("publishtest: store the report: %v", err)
	}
	msg := events.RunReport{Version: events.Version, Run: run, Conclusion: r.Conclusion, Title: r.Title, Summary: r.Summary,
		Report: events.ObjectRef{Name: obj}, Superseded: superseded, At: time.Now().UTC()}
	if _, err := b.Publish(ctx, msg); err != nil {
		t.Fatalf("publishtest: publish the report: %v", err)
	}
	return msg
}

// Progress publishes a run's progress as a worker does.
func Progress(t testing.TB, b *bus.Bus, run events.Run, state, message string) {
	t.Helper()
	st := events.RunStatus{Version: events.Version, Run: run, Stage: events.StageDiff, State: state, Message: message, At: time.Now().UTC()}
	if _, err := b.Publish(bustest.Context(t), st); err != nil {
		t.Fatalf("publishtest: publish a status: %v", err)
	}
}
