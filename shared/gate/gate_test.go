package gate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/gate"
	"github.com/diffgate/diffgate/shared/prs"
	"github.com/diffgate/diffgate/shared/report"
)

const repo = "github.com/acme/analytics"

// files is a hand-written Files: the changed files of each PR.
type files struct {
	mu    sync.Mutex
	byPR  map[int][]string
	err   error
	calls int
}

func (f *files) ChangedFiles(_ context.Context, run events.Run) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.byPR[run.PR], false, f.err
}

// lookup is a hand-written PRLookup: the open pull requests by head.
type lookup struct {
	prs map[string]events.PREvent // by head SHA
}

func (l *lookup) LookupPR(_ context.Context, ev events.PREvent) (events.PREvent, error) {
	pr, ok := l.prs[ev.Run.HeadSHA]
	if !ok {
		return events.PREvent{}, fmt.Errorf("%w: head %s", gate.ErrNoPR, ev.Run.HeadSHA)
	}
	return pr, nil
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	b     *bus.Bus
	g     *gate.Gate
	files *files
	seq   uint64
}

func newFixture(t *testing.T, ci func(*config.CI), lk gate.PRLookup) *fixture {
	t.Helper()
	cfg := config.Default()
	in := config.Integration{Name: "analytics", Repository: repo, Provider: events.GitHub}
	in.CI.DiffAllDownstreamLabel = config.DefaultDiffAllDownstreamLabel
	if ci != nil {
		ci(&in.CI)
	}
	cfg.Integrations = []config.Integration{in}
	b := bustest.New(t)
	f := &files{byPR: map[int][]string{}}
	g, err := gate.New(gate.Options{Provider: events.GitHub, Bus: b, Config: cfg, Files: f, Lookup: lk,
		Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: bustest.Context(t), b: b, g: g, files: f}
}

func event(action, head string, mod func(*events.PREvent)) events.PREvent {
	e := events.PREvent{Version: events.Version, Provider: events.GitHub, DeliveryID: action + "-" + head,
		Action: action, Run: events.Run{Provider: events.GitHub, Repository: repo, PR: 7,
			HeadSHA: head, BaseSHA: "base000", BaseRef: "main", Installation: 42}}
	if mod != nil {
		mod(&e)
	}
	return e
}

// handle delivers ev as the next message of the stream (or, with seq,
// as that one: a redelivery or an event handled out of order).
func (f *fixture) handle(ev events.PREvent, seq ...uint64) {
	f.t.Helper()
	if err := f.deliver(ev, seq...); err != nil {
		f.t.Fatalf("handle %s: %v", ev.Action, err)
	}
}

func (f *fixture) deliver(ev events.PREvent, seq ...uint64) error {
	data, err := json.Marshal(ev)
	if err != nil {
		f.t.Fatal(err)
	}
	s := f.seq + 1
	if len(seq) > 0 {
		s = seq[0]
	}
	f.seq = max(f.seq, s)
	return f.g.Handle(f.ctx, &bus.Msg{Subject: ev.Subject(), Data: data, StreamSeq: s, NumDelivered: 1})
}

func (f *fixture) requested() []events.RunRequested {
	return bustest.Stored[events.RunRequested](f.t, f.b, events.SubjectRunRequested)
}
func (f *fixture) cancelled() []events.RunCancelled {
	return bustest.Stored[events.RunCancelled](f.t, f.b, events.SubjectRunCancelled)
}
func (f *fixture) reports() []events.RunReport {
	return bustest.Stored[events.RunReport](f.t, f.b, events.SubjectRunReportPrefix+"github")
}
func (f *fixture) statuses() []events.RunStatus {
	return bustest.Stored[events.RunStatus](f.t, f.b, events.SubjectRunStatusPrefix+"github")
}

func (f *fixture) head() *events.PRHead {
	f.t.Helper()
	kv, err := f.b.KV(f.ctx, events.BucketPRs)
	if err != nil {
		f.t.Fatal(err)
	}
	h, err := prs.Head(f.ctx, kv, event("opened", "x", nil).Run.PRKey())
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

func (f *fixture) storedReport(rr events.RunReport) *report.Report {
	f.t.Helper()
	objs, err := f.b.Objects(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	o, err := objs.Get(f.ctx, rr.Report.Name)
	if err != nil {
		f.t.Fatalf("report object %s: %v", rr.Report.Name, err)
	}
	data, err := io.ReadAll(o)
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := report.Decode(data)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func TestOpenedStartsARun(t *testing.T) {
	f := newFixture(t, nil, nil)
	ev := event("opened", "aaa111", nil)
	f.handle(ev)

	req := f.requested()
	if len(req) != 1 || req[0].Run.ID() != ev.Run.ID() || req[0].Integration != "analytics" || req[0].Trigger != "opened" {
		t.Fatalf("requested = %+v; want one run %s of analytics", req, ev.Run.ID())
	}
	st := f.statuses()
	if len(st) != 1 || st[0].State != "queued" || st[0].Message != gate.QueuedMessage || st[0].Run.ID() != ev.Run.ID() {
		t.Errorf("statuses = %+v; want one queued status", st)
	}
	if h := f.head(); h == nil || h.RunID != ev.Run.ID() || h.Closed || h.Skipped {
		t.Errorf("head = %+v; want the new run", h)
	}
	// The same delivery again, and another event for the same head:
	// nothing new.
	f.handle(ev, 1)
	f.handle(event("ready_for_review", "aaa111", nil))
	if n, m := len(f.requested()), len(f.statuses()); n != 1 || m != 1 {
		t.Errorf("after a redelivery and a second event for the head: %d requests, %d statuses; want 1 and 1", n, m)
	}
	if len(f.cancelled()) != 0 {
		t.Errorf("cancelled %+v; want nothing", f.cancelled())
	}
}

func TestLabelFlow(t *testing.T) {
	f := newFixture(t, func(c *config.CI) { c.PRLabel = "diffgate" }, nil)
	f.handle(event("opened", "aaa111", nil))

	reps := f.reports()
	if len(reps) != 1 || reps[0].Conclusion != events.ConclusionNeutral {
		t.Fatalf("reports = %+v; want one neutral report", reps)
	}
	r := f.storedReport(reps[0])
	if r.Skip == nil || r.Skip.Code != gate.SkipLabel || !strings.Contains(r.Skip.Reason, "add the label `diffgate`") {
		t.Errorf("skip = %+v; want the label to add", r.Skip)
	}
	if !strings.Contains(report.Markdown(r, report.Options{}), "diffgate") {
		t.Errorf("the comment does not name the label")
	}
	if len(f.requested()) != 0 {
		t.Fatalf("a run was requested without the label")
	}

	// Another label: nothing.
	f.handle(event("labeled", "aaa111", func(e *events.PREvent) { e.Label = "bug"; e.Labels = []string{"bug"} }))
	// The trigger label: a run of the same head, with an id of its own
	// (the skipped run's id is spent).
	lab := event("labeled", "aaa111", func(e *events.PREvent) { e.Label = "diffgate"; e.Labels = []string{"bug", "diffgate"} })
	f.handle(lab)
	req := f.requested()
	if len(req) != 1 {
		t.Fatalf("requested = %+v; want one run", req)
	}
	if req[0].Run.ID() == reps[0].Run.ID() || req[0].Run.HeadKey() != reps[0].Run.HeadKey() || req[0].Run.Rerun != lab.DeliveryID {
		t.Errorf("run %+v: want a new id for the same head", req[0].Run)
	}
	if len(f.cancelled()) != 0 {
		t.Errorf("cancelled %+v: a skipped run has nothing to cancel", f.cancelled())
	}
	if len(f.reports()) != 1 {
		t.Errorf("reports = %d; want still one", len(f.reports()))
	}
}

func TestFilesToIgnore(t *testing.T) {
	f := newFixture(t, func(c *config.CI) { c.FilesToIgnore = []string{"*.md", "docs/"} }, nil)
	f.files.byPR[7] = []string{"README.md", "docs/setup.txt", "CHANGELOG.md"}
	f.handle(event("opened", "aaa111", nil))
	reps := f.reports()
	if len(reps) != 1 || reps[0].Conclusion != events.ConclusionNeutral {
		t.Fatalf("reports = %+v; want one neutral report", reps)
	}
	r := f.storedReport(reps[0])
	if r.Skip == nil || r.Skip.Code != gate.SkipFilesIgnored || !strings.Contains(r.Skip.Hint, "`*.md` (2), `docs/` (1)") {
		t.Errorf("skip = %+v; want the patterns that matched", r.Skip)
	}

	// A new push touching a model runs.
	f.files.byPR[7] = []string{"README.md", "models/orders.sql"}
	f.handle(event("synchronize", "bbb222", nil))
	if req := f.requested(); len(req) != 1 || req[0].Run.HeadSHA != "bbb222" {
		t.Errorf("requested = %+v; want the new head", req)
	}
	if f.files.calls != 2 {
		t.Errorf("files listed %d times; want once per event", f.files.calls)
	}

	// A failing listing is retried, not skipped.
	f.files.err = bus.RetryAfter(time.Minute)
	err := f.deliver(event("synchronize", "ccc333", nil))
	var retry *bus.Retry
	if !errors.As(err, &retry) || retry.After != time.Minute {
		t.Errorf("error %v; want the lister's retry", err)
	}
}

func TestDraftWaitsForReadyForReview(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.handle(event("opened", "aaa111", func(e *events.PREvent) { e.Draft = true }))
	reps := f.reports()
	if len(reps) != 1 || f.storedReport(reps[0]).Skip.Code != gate.SkipDraft {
		t.Fatalf("reports = %+v; want a draft skip", reps)
	}
	f.handle(event("ready_for_review", "aaa111", nil))
	if req := f.requested(); len(req) != 1 || req[0].Trigger != "ready_for_review" {
		t.Errorf("requested = %+v; want a run once ready", req)
	}
}

func TestClosedCancelsTheCurrentRun(t *testing.T) {
	f := newFixture(t, nil, nil)
	open := event("opened", "aaa111", nil)
	f.handle(open)
	closed := event("closed", "aaa111", func(e *events.PREvent) { e.Merged = true })
	f.handle(closed)
	c := f.cancelled()
	if len(c) != 1 || c[0].Run.ID() != open.Run.ID() || c[0].Reason != events.CancelClosed || !strings.Contains(c[0].Message, "merged") {
		t.Fatalf("cancelled = %+v; want the open run, closed", c)
	}
	if h := f.head(); !h.Closed {
		t.Errorf("head %+v not closed", h)
	}
	// Redelivered, then closed again, then an old event handled late:
	// nothing new.
	f.handle(closed, 2)
	f.handle(event("synchronize", "old000", nil), 1)
	f.handle(event("labeled", "aaa111", func(e *events.PREvent) { e.Label = config.DefaultDiffAllDownstreamLabel }))
	if len(f.cancelled()) != 1 || len(f.requested()) != 1 {
		t.Errorf("after the close: %d cancellations, %d requests; want 1 and 1", len(f.cancelled()), len(f.requested()))
	}
	// Reopened: the same head runs again under a new id.
	re := event("reopened", "aaa111", nil)
	f.handle(re)
	req := f.requested()
	if len(req) != 2 || req[1].Run.ID() == open.Run.ID() || req[1].Run.HeadSHA != "aaa111" {
		t.Errorf("requested = %+v; want a second run of the head", req)
	}
}

func TestCloseWithoutRun(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.handle(event("closed", "aaa111", nil))
	if len(f.cancelled()) != 0 {
		t.Errorf("cancelled %+v; no run was under way", f.cancelled())
	}
	// An opened event handled after the close (out of order) stays closed.
	f.handle(event("opened", "aaa111", nil), 0)
	if len(f.requested()) != 0 {
		t.Errorf("a stale event started a run")
	}
}

func TestSynchronizeSupersedes(t *testing.T) {
	f := newFixture(t, nil, nil)
	first := event("opened", "aaa111", nil)
	f.handle(first)
	second := event("synchronize", "bbb222", nil)
	f.handle(second)

	c := f.cancelled()
	if len(c) != 1 || c[0].Run.ID() != first.Run.ID() || c[0].Reason != events.CancelSuperseded || c[0].By != "bbb222" {
		t.Fatalf("cancelled = %+v; want the first run superseded by bbb222", c)
	}
	req := f.requested()
	if len(req) != 2 || req[1].Run.ID() != second.Run.ID() {
		t.Fatalf("requested = %+v", req)
	}
	// The first push's event arrives again, late: the head stays.
	f.handle(first, 1)
	if h := f.head(); h.RunID != second.Run.ID() {
		t.Errorf("head = %s; an older event overwrote the newer head", h.RunID)
	}
	// The second event again (redelivered): same messages, no more.
	f.handle(second, 2)
	if len(f.cancelled()) != 1 || len(f.requested()) != 2 {
		t.Errorf("after redeliveries: %d cancellations, %d requests; want 1 and 2", len(f.cancelled()), len(f.requested()))
	}
}

func TestRedeliveryAfterACrashFinishesTheWork(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.handle(event("opened", "aaa111", nil))
	second := event("synchronize", "bbb222", nil)
	// The gate wrote the PR's entry and died before publishing: simulate
	// by writing the entry the way it would have.
	kv, err := f.b.KV(f.ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	first := event("opened", "aaa111", nil).Run
	data, _ := json.Marshal(events.PRHead{RunID: second.Run.ID(), Run: second.Run, Supersedes: &first, Seq: 2})
	if _, err := kv.Put(f.ctx, second.Run.PRKey(), data); err != nil {
		t.Fatal(err)
	}
	f.handle(second, 2)
	if c := f.cancelled(); len(c) != 1 || c[0].Run.ID() != first.ID() {
		t.Errorf("cancelled = %+v; the redelivery must cancel the superseded run", c)
	}
	if req := f.requested(); len(req) != 2 || req[1].Run.ID() != second.Run.ID() {
		t.Errorf("requested = %+v; the redelivery must request the run", req)
	}
}

func TestRerunStartsANewRunOfTheSameHead(t *testing.T) {
	f := newFixture(t, nil, nil)
	first := event("opened", "aaa111", nil)
	f.handle(first)
	rerun := event("rerun", "aaa111", func(e *events.PREvent) { e.DeliveryID = "d-rerun" })
	f.handle(rerun)
	req := f.requested()
	if len(req) != 2 {
		t.Fatalf("requested = %+v; want two runs", req)
	}
	if req[1].Run.ID() == first.Run.ID() || req[1].Run.HeadKey() != first.Run.HeadKey() || req[1].Run.Rerun != "d-rerun" {
		t.Errorf("rerun %+v: want a new id with the same head key", req[1].Run)
	}
	if c := f.cancelled(); len(c) != 1 || c[0].Run.ID() != first.Run.ID() || c[0].By != "aaa111" {
		t.Errorf("cancelled = %+v; want the first run superseded", c)
	}
}

func TestRerunOfAForkLooksThePullRequestUp(t *testing.T) {
	current := event("opened", "aaa111", func(e *events.PREvent) {
		e.Labels = []string{"diffgate"}
		e.Fork = true
		e.Run.Title = "Add orders"
	})
	lk := &lookup{prs: map[string]events.PREvent{"aaa111": current}}
	f := newFixture(t, func(c *config.CI) { c.PRLabel = "diffgate" }, lk)
	f.handle(current)

	// The check_run event of a fork names no pull request.
	rerun := event("rerun", "aaa111", func(e *events.PREvent) { e.Run.PR = 0; e.DeliveryID = "d-rerun" })
	f.handle(rerun)
	req := f.requested()
	if len(req) != 2 || req[1].Run.PR != 7 || req[1].Run.Rerun != "d-rerun" || req[1].Run.Title != "Add orders" {
		t.Fatalf("requested = %+v; want a rerun of PR 7 (the label looked up)", req)
	}
	// A re-run asked on an old head, or on a commit of no open PR: nothing.
	f.handle(event("rerun", "old000", func(e *events.PREvent) { e.Run.PR = 0 }))
	lk.prs["bbb222"] = current // the PR moved on to aaa111
	f.handle(event("rerun", "bbb222", func(e *events.PREvent) { e.Run.PR = 0 }))
	if len(f.requested()) != 2 {
		t.Errorf("a re-run of an old head started a run")
	}
}

func TestUnknownRepositoryPostsNothing(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.handle(event("opened", "aaa111", func(e *events.PREvent) { e.Run.Repository = "github.com/acme/other" }))
	if len(f.requested())+len(f.reports())+len(f.statuses()) != 0 {
		t.Errorf("an event of an unknown repository published something")
	}
}

func TestBadEventsArePoison(t *testing.T) {
	f := newFixture(t, nil, nil)
	tests := map[string]events.PREvent{
		"other provider": event("opened", "aaa111", func(e *events.PREvent) { e.Provider = events.GitLab }),
		"no head":        event("opened", "", nil),
	}
	for name, ev := range tests {
		t.Run(name, func(t *testing.T) {
			if err := f.deliver(ev); !errors.Is(err, bus.ErrPoison) {
				t.Errorf("error %v; want poison", err)
			}
		})
	}
}

// An event that keeps failing ends in a dead letter rather than for ever,
// while rate-limit waits stay unbounded: the consumer bounds failures, not
// deliveries (the bus counts them apart: TestWaitsDoNotCountAsFailures).
func TestGivesUpAfterRepeatedFailures(t *testing.T) {
	f := newFixture(t, nil, nil)
	if c := f.g.Consumer(); c.MaxDeliver != -1 || c.MaxFailures <= 0 {
		t.Errorf("MaxDeliver %d, MaxFailures %d; want unbounded deliveries and bounded failures", c.MaxDeliver, c.MaxFailures)
	}
}

// TestConsumesFromTheStream runs the component on its consumer.
func TestConsumesFromTheStream(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	ev := event("opened", "aaa111", nil)
	if _, err := f.b.Publish(f.ctx, ev); err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, 10*time.Second, func() error {
		if len(f.requested()) != 1 {
			return errors.New("no run requested yet")
		}
		return nil
	})
}
