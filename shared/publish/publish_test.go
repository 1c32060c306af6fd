package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/details"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/publish"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// vcs is a hand-written Target: one status per head and one comment per
// pull request, as a VCS keeps them. It fails the test when two calls
// for one pull request overlap, which is what lets a real provider's
// "find, else create" make a duplicate.
type vcs struct {
	t  *testing.T
	mu sync.Mutex

	statuses map[string][]publish.Status // by head key: every update, oldest first
	comments map[string][]string         // by PR key: every body written
	creates  int                         // comments created
	inFlight map[string]bool

	fail error // returned once by the next call
}

func newVCS(t *testing.T) *vcs {
	return &vcs{t: t, statuses: map[string][]publish.Status{}, comments: map[string][]string{}, inFlight: map[string]bool{}}
}

func (v *vcs) enter(run events.Run) (func(), error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.inFlight[run.PRKey()] {
		v.t.Errorf("two calls for pull request %d at once", run.PR)
	}
	if err := v.fail; err != nil {
		v.fail = nil
		return nil, err
	}
	v.inFlight[run.PRKey()] = true
	return func() {
		v.mu.Lock()
		delete(v.inFlight, run.PRKey())
		v.mu.Unlock()
	}, nil
}

func (v *vcs) SetStatus(_ context.Context, run events.Run, st publish.Status) error {
	done, err := v.enter(run)
	if err != nil {
		return err
	}
	defer done()
	time.Sleep(time.Millisecond) // widen the window a race would need; not a synchronisation
	v.mu.Lock()
	defer v.mu.Unlock()
	v.statuses[run.HeadKey()] = append(v.statuses[run.HeadKey()], st)
	return nil
}

func (v *vcs) UpsertComment(_ context.Context, run events.Run, body string) error {
	done, err := v.enter(run)
	if err != nil {
		return err
	}
	defer done()
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.comments[run.PRKey()]) == 0 {
		v.creates++
	}
	v.comments[run.PRKey()] = append(v.comments[run.PRKey()], body)
	return nil
}

func (v *vcs) last(run events.Run) (publish.Status, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.statuses[run.HeadKey()]
	if len(s) == 0 {
		return publish.Status{}, 0
	}
	return s[len(s)-1], len(s)
}

func (v *vcs) comment(run events.Run) (string, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.comments[run.PRKey()]
	if len(c) == 0 {
		return "", 0
	}
	return c[len(c)-1], len(c)
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	b      *bus.Bus
	vcs    *vcs
	p      *publish.Publisher
	signer *details.Signer
	seq    uint64
}

const publicURL = "https://diffgate.example.com"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := bustest.New(t)
	v := newVCS(t)
	signer, err := details.NewSigner([]byte("0123456789abcdef0123456789abcdef"), 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.New(publish.Options{Provider: events.GitHub, Bus: b, Target: v, Signer: signer, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: bustest.Context(t), b: b, vcs: v, p: p, signer: signer}
}

func runAt(head string) events.Run {
	r := reporttest.GitHubRun()
	r.HeadSHA = head
	return r
}

func (f *fixture) msg(m events.Message) *bus.Msg {
	f.t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		f.t.Fatal(err)
	}
	f.seq++
	return &bus.Msg{Subject: m.Subject(), Data: data, StreamSeq: f.seq, NumDelivered: 1}
}

func (f *fixture) status(run events.Run, state, message string, at time.Time) {
	f.t.Helper()
	err := f.p.HandleStatus(f.ctx, f.msg(events.RunStatus{Version: events.Version, Run: run, Stage: events.StageCIWait, State: state, Message: message, At: at}))
	if err != nil {
		f.t.Fatalf("status: %v", err)
	}
}

// storeReport stores the report of in for run and returns its RunReport.
func (f *fixture) storeReport(in report.Input, run events.Run) events.RunReport {
	f.t.Helper()
	in.Run = run
	r, err := report.Build(in)
	if err != nil {
		f.t.Fatal(err)
	}
	data, err := r.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	objs, err := f.b.Objects(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	name := events.ReportObject(run.ID())
	if _, err := objs.Put(f.ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader(data)); err != nil {
		f.t.Fatal(err)
	}
	return events.RunReport{Version: events.Version, Run: run, Conclusion: r.Conclusion, Title: r.Title,
		Summary: r.Summary, Report: events.ObjectRef{Name: name}, At: time.Now()}
}

func (f *fixture) report(rr events.RunReport) error {
	return f.p.HandleReport(f.ctx, f.msg(rr))
}

// setHead makes run the pull request's current one, as the gate does.
func (f *fixture) setHead(run events.Run) {
	f.t.Helper()
	kv, err := f.b.KV(f.ctx, events.BucketPRs)
	if err != nil {
		f.t.Fatal(err)
	}
	data, _ := json.Marshal(events.PRHead{RunID: run.ID(), Run: run})
	if _, err := kv.Put(f.ctx, run.PRKey(), data); err != nil {
		f.t.Fatal(err)
	}
}

func TestStatusesThenReport(t *testing.T) {
	f := newFixture(t)
	run := runAt("aaaa111")
	f.setHead(run)
	t0 := time.Now()
	f.status(run, "queued", "waiting for the dbt Cloud CI run", t0)
	if st, n := f.vcs.last(run); n != 1 || st.State != publish.Queued || st.Title != "Waiting for the dbt Cloud CI run" ||
		!strings.HasPrefix(st.DetailsURL, "https://diffgate.example.com/details/"+run.ID()+"?t=") {
		t.Fatalf("status %+v (%d updates); want queued, linking to the run's details page", st, n)
	}
	f.status(run, "running", "diffing", t0.Add(time.Second))
	rr := f.storeReport(reporttest.Diffs(run), run)
	if err := f.report(rr); err != nil {
		t.Fatal(err)
	}
	st, n := f.vcs.last(run)
	if n != 3 || st.State != publish.Completed || st.Conclusion != rr.Conclusion || st.Title != rr.Title {
		t.Fatalf("final status %+v after %d updates; want completed %s", st, n, rr.Conclusion)
	}
	u, err := url.Parse(st.DetailsURL)
	if err != nil || !strings.HasPrefix(st.DetailsURL, publicURL+details.Prefix+run.ID()) {
		t.Fatalf("details URL %q", st.DetailsURL)
	}
	if _, ok := f.signer.Verify(run.ID(), u.Query().Get("t"), time.Now()); !ok {
		t.Errorf("details link token does not verify")
	}
	if len(st.Summary) == 0 || len(st.Summary) > report.MaxCheckSummary || strings.Contains(st.Summary, report.StickyMarker) {
		t.Errorf("summary of %d bytes (marker %v)", len(st.Summary), strings.Contains(st.Summary, report.StickyMarker))
	}
	body, writes := f.vcs.comment(run)
	if writes != 1 || !strings.HasPrefix(body, report.StickyMarker) || !strings.Contains(body, st.DetailsURL[:40]) {
		t.Fatalf("comment written %d times; body starts %.80q", writes, body)
	}

	// The same report again, and a status that arrives late: nothing.
	if err := f.report(rr); err != nil {
		t.Fatal(err)
	}
	f.status(run, "running", "diffing 11/12", t0.Add(2*time.Second))
	if _, n := f.vcs.last(run); n != 3 {
		t.Errorf("%d status updates; a late status or a redelivered report reopened the check", n)
	}
	if _, writes := f.vcs.comment(run); writes != 1 {
		t.Errorf("comment written %d times; want once", writes)
	}
}

func TestOlderStatusDoesNotOverwriteNewer(t *testing.T) {
	f := newFixture(t)
	run := runAt("aaaa111")
	t0 := time.Now()
	f.status(run, "running", "diffing 3/12", t0.Add(time.Second))
	f.status(run, "queued", "waiting for the dbt Cloud CI run", t0)
	if st, n := f.vcs.last(run); n != 1 || st.Title != "Diffing 3/12" {
		t.Errorf("status %+v after %d updates; want only the newer one", st, n)
	}
}

func TestSecondHeadEditsTheSameComment(t *testing.T) {
	f := newFixture(t)
	first, second := runAt("aaaa111"), runAt("bbbb222")
	f.setHead(first)
	if err := f.report(f.storeReport(reporttest.Clean(), first)); err != nil {
		t.Fatal(err)
	}
	f.setHead(second)
	if err := f.report(f.storeReport(reporttest.Diffs(second), second)); err != nil {
		t.Fatal(err)
	}
	body, writes := f.vcs.comment(second)
	if writes != 2 || f.vcs.creates != 1 || !strings.Contains(body, "bbbb222") {
		t.Errorf("comment written %d times, created %d times; want one comment edited to the second head", writes, f.vcs.creates)
	}
}

func TestSupersededRunLeavesTheComment(t *testing.T) {
	f := newFixture(t)
	first, second := runAt("aaaa111"), runAt("bbbb222")
	f.setHead(second)
	if err := f.report(f.storeReport(reporttest.Diffs(second), second)); err != nil {
		t.Fatal(err)
	}
	in := reporttest.Clean()
	in.Cancelled = &events.RunCancelled{Run: first, Reason: events.CancelSuperseded, By: second.HeadSHA}
	rr := f.storeReport(in, first)
	rr.Superseded = true
	if err := f.report(rr); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.vcs.last(first); st.State != publish.Completed || st.Conclusion != events.ConclusionCancelled {
		t.Errorf("first head's status %+v; want completed cancelled", st)
	}
	if body, writes := f.vcs.comment(second); writes != 1 || !strings.Contains(body, "bbbb222") {
		t.Errorf("comment written %d times; a superseded run touched it", writes)
	}
}

func TestOlderRunOfTheSameHeadLeavesTheCheck(t *testing.T) {
	f := newFixture(t)
	first := runAt("aaaa111")
	rerun := first
	rerun.Rerun = "d-rerun"
	f.setHead(rerun)
	f.status(rerun, "queued", "waiting for the dbt Cloud CI run", time.Now())
	in := reporttest.Clean()
	in.Cancelled = &events.RunCancelled{Run: first, Reason: events.CancelSuperseded, By: first.HeadSHA}
	rr := f.storeReport(in, first)
	rr.Superseded = true
	if err := f.report(rr); err != nil {
		t.Fatal(err)
	}
	if st, n := f.vcs.last(rerun); n != 1 || st.State != publish.Queued {
		t.Errorf("status %+v after %d updates; the old run's report must leave the re-run's check alone", st, n)
	}
	// Statuses of the old run are dropped too.
	f.status(first, "running", "diffing", time.Now())
	if _, n := f.vcs.last(first); n != 1 {
		t.Errorf("%d updates; an old run's status was shown", n)
	}
}

func TestRateLimitComesBackLater(t *testing.T) {
	f := newFixture(t)
	run := runAt("aaaa111")
	rr := f.storeReport(reporttest.Clean(), run)
	f.vcs.fail = fmt.Errorf("github: %w", bus.RetryAfter(42*time.Second))
	m := f.msg(rr)
	err := f.p.HandleReport(f.ctx, m)
	var retry *bus.Retry
	if !errors.As(err, &retry) || retry.After != 42*time.Second {
		t.Fatalf("error %v; want a retry after 42s", err)
	}
	m.NumDelivered = 25 // retries never turn into a dead letter
	f.vcs.fail = bus.RetryAfter(time.Second)
	if err := f.p.HandleReport(f.ctx, m); !errors.As(err, &retry) {
		t.Fatalf("error %v on the 25th delivery; want a retry", err)
	}
	m.NumDelivered = 26
	if err := f.p.HandleReport(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.vcs.last(run); st.State != publish.Completed {
		t.Errorf("status %+v; the report was lost", st)
	}
	if _, writes := f.vcs.comment(run); writes != 1 {
		t.Errorf("comment written %d times", writes)
	}
}

// Rate limits wait without limit, but other failures end in a dead letter
// (which the reporter logs) instead of redelivering for ever: both
// consumers leave deliveries unbounded and bound the failures, which the
// bus counts apart from waits (shared/bus TestWaitsDoNotCountAsFailures).
func TestOtherFailuresGiveUpEventually(t *testing.T) {
	f := newFixture(t)
	for _, c := range []bus.Consumer{f.p.StatusConsumer(), f.p.ReportConsumer()} {
		if c.MaxDeliver != -1 || c.MaxFailures <= 0 {
			t.Errorf("%s: MaxDeliver %d, MaxFailures %d; want unbounded deliveries and bounded failures", c.Name, c.MaxDeliver, c.MaxFailures)
		}
	}
}

func TestMissingReportObjectStillCompletes(t *testing.T) {
	f := newFixture(t)
	run := runAt("aaaa111")
	rr := events.RunReport{Version: events.Version, Run: run, Conclusion: events.ConclusionFailure,
		Title: "dbt Cloud run failed", Summary: "run #12 failed", Report: events.ObjectRef{Name: "reports/none"}}
	if err := f.report(rr); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.vcs.last(run); st.State != publish.Completed || st.Conclusion != events.ConclusionFailure || st.Title != rr.Title {
		t.Errorf("status %+v; want completed from the message", st)
	}
}

// TestTwoPublishersNeverWriteOnePRAtOnce runs two publisher processes
// (two connections) on many statuses of one pull request at once; the
// target fails the test on overlapping calls.
func TestTwoPublishersNeverWriteOnePRAtOnce(t *testing.T) {
	f := newFixture(t)
	other, err := publish.New(publish.Options{Provider: events.GitHub, Bus: bustest.Another(t, f.b), Target: f.vcs})
	if err != nil {
		t.Fatal(err)
	}
	run := runAt("aaaa111")
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range 16 {
		p := f.p
		if i%2 == 1 {
			p = other
		}
		m := f.msg(events.RunStatus{Version: events.Version, Run: run, Stage: events.StageDiff, State: "running",
			Message: fmt.Sprintf("diffing %d/16", i), At: t0.Add(time.Duration(i) * time.Millisecond)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; ; attempt++ {
				err := p.HandleStatus(f.ctx, m)
				var retry *bus.Retry
				if errors.As(err, &retry) && attempt < 500 {
					time.Sleep(retry.After / 10) // the server's redelivery delay, shortened
					continue
				}
				if err != nil {
					t.Error(err)
				}
				return
			}
		}()
	}
	wg.Wait()
	if _, n := f.vcs.last(run); n == 0 {
		t.Fatal("no status shown")
	}
}

func TestConsumesFromTheStreams(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	run := runAt("aaaa111")
	if _, err := f.b.Publish(f.ctx, f.storeReport(reporttest.Clean(), run)); err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, 10*time.Second, func() error {
		if _, n := f.vcs.comment(run); n != 1 {
			return errors.New("no comment yet")
		}
		return nil
	})
}

// A GitLab note could hold a million characters, but the comment folds
// detail into the details page at the same size on both providers
// (report.DefaultCommentLimit), as the docs promise.
func TestGitLabCommentFoldsLikeGitHubs(t *testing.T) {
	f := newFixture(t)
	p, err := publish.New(publish.Options{Provider: events.GitLab, Bus: f.b, Target: f.vcs, Signer: f.signer, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	run := reporttest.GitLabRun()
	if err := p.HandleReport(f.ctx, f.msg(f.storeReport(reporttest.Big(500), run))); err != nil {
		t.Fatal(err)
	}
	body, writes := f.vcs.comment(run)
	if writes != 1 || len(body) > report.DefaultCommentLimit || !strings.Contains(body, "more models on the [details page]") {
		t.Errorf("note written %d times, %d bytes; want one note within %d bytes that points to the details page",
			writes, len(body), report.DefaultCommentLimit)
	}
}

// Reporter handlers run in parallel, so "diffing 3/12" may be stamped
// after "diffing 4/12": the check keeps the highest count it has shown.
func TestProgressNeverCountsBackwards(t *testing.T) {
	f := newFixture(t)
	run := runAt("aaaa111")
	t0 := time.Now()
	for i, done := range []int{4, 3, 5} {
		st := events.RunStatus{Version: events.Version, Run: run, Stage: events.StageDiff, State: "running",
			Message: fmt.Sprintf("diffing %d/12", done), Done: done, Total: 12, At: t0.Add(time.Duration(i) * time.Second)}
		if err := f.p.HandleStatus(f.ctx, f.msg(st)); err != nil {
			t.Fatal(err)
		}
	}
	var titles []string
	f.vcs.mu.Lock()
	for _, st := range f.vcs.statuses[run.HeadKey()] {
		titles = append(titles, st.Title)
	}
	f.vcs.mu.Unlock()
	if want := []string{"Diffing 4/12", "Diffing 5/12"}; !slices.Equal(titles, want) {
		t.Errorf("statuses shown %q, want %q", titles, want)
	}
}
