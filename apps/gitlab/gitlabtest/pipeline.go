package gitlabtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// Patience is how long the waiting helpers wait.
const Patience = 20 * time.Second

// Stored returns the messages stored on subject (events.Subject...),
// oldest first, decoded as T. It reads the stream with an ordered
// consumer, so it sees everything JetStream acknowledged before the call.
func Stored[T any](t testing.TB, b *bus.Bus, subject string) []T {
	t.Helper()
	return bustest.Stored[T](t, b, subject)
}

// Finish ends a run as the reporter does: the report built from in is
// stored in the object store, then its RunReport published. superseded
// marks a run a newer head replaced.
func Finish(t testing.TB, b *bus.Bus, in report.Input, run events.Run, superseded bool) events.RunReport {
	t.Helper()
	ctx := bustest.Context(t)
	in.Run = run
	r, err := report.Build(in)
	if err != nil {
		t.Fatalf("gitlabtest: build the report: %v", err)
	}
	data, err := r.Encode()
	if err != nil {
		t.Fatalf("gitlabtest: %v", err)
	}
	objs, err := b.Objects(ctx)
	if err != nil {
		t.Fatalf("gitlabtest: %v", err)
	}
	obj := events.ReportObject(run.ID())
	if _, err := objs.PutBytes(ctx, obj, data); err != nil {
		t.Fatalf("gitlabtest: store the report: %v", err)
	}
	msg := events.RunReport{Version: events.Version, Run: run, Conclusion: r.Conclusion, Title: r.Title, Summary: r.Summary,
		Report: events.ObjectRef{Name: obj}, Superseded: superseded, At: time.Now().UTC()}
	if _, err := b.Publish(ctx, msg); err != nil {
		t.Fatalf("gitlabtest: publish the report: %v", err)
	}
	return msg
}

// Progress publishes a run's progress as a worker does.
func Progress(t testing.TB, b *bus.Bus, run events.Run, state, message string) {
	t.Helper()
	st := events.RunStatus{Version: events.Version, Run: run, Stage: events.StageDiff, State: state, Message: message, At: time.Now().UTC()}
	if _, err := b.Publish(bustest.Context(t), st); err != nil {
		t.Fatalf("gitlabtest: publish a status: %v", err)
	}
}

// WaitStatus waits until the newest record of the diffgate status of a
// commit is in state, and returns it.
func (s *Server) WaitStatus(t testing.TB, projectID int64, sha, state string) Status {
	t.Helper()
	var got Status
	bustest.WaitFor(t, Patience, func() error {
		st, ok := s.Latest(projectID, sha, "diffgate")
		got = st
		if !ok || st.State != state {
			return fmt.Errorf("status of %.7s is %q, want %q", sha, st.State, state)
		}
		return nil
	})
	return got
}

// WaitNotes waits until the bot's notes on a merge request satisfy ok,
// and returns them.
func (s *Server) WaitNotes(t testing.TB, projectID int64, iid int, what string, ok func([]Note) bool) []Note {
	t.Helper()
	var got []Note
	bustest.WaitFor(t, Patience, func() error {
		if got = s.BotNotes(projectID, iid); ok(got) {
			return nil
		}
		return fmt.Errorf("bot notes on !%d: want %s; have %d", iid, what, len(got))
	})
	return got
}
