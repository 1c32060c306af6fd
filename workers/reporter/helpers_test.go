package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// wait bounds every poll: generous for a loaded 2-core CI machine.
const wait = 30 * time.Second

// configYAML is a valid diffgate.yaml with the sample project's
// integration; %v is its fail_on_primary_key_issues.
const configYAML = `
github:
  app_id: 1
  private_key: x
  webhook_secret: s
data_sources:
  - name: warehouse
    type: postgres
    dsn: postgres://diffgate:s3cr3t-pw@db.internal/analytics
integrations:
  - name: analytics
    repository: github.com/acme/analytics
    data_source: warehouse
    dbt_cloud: {token: t, account_id: 1, artifacts_job_id: 11, pr_job_id: 22}
    ci:
      fail_on_primary_key_issues: %v
`

func loadConfig(t testing.TB, failOnPK bool) *config.Config {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, configYAML, failOnPK), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// sampleRun is the sample project's run with its own PR number, so that
// runs of one test do not meet.
func sampleRun(pr int) events.Run {
	run := reporttest.GitHubRun()
	run.PR = pr
	return run
}

// sample is the sample project's diffed run (six models, differences,
// primary key issues in customers), as the differs send it: results
// without samples.
func sample(pr int) report.Input {
	in, _ := reporttest.Split(reporttest.Diffs(sampleRun(pr)))
	for i := range in.Results {
		in.Results[i].Run = in.Run
	}
	return in
}

// harness is a namespace on the shared NATS server (the oldest version
// diffgate supports), or an embedded current server, with reporters in it.
type harness struct {
	t   testing.TB
	ctx context.Context
	b   *bus.Bus
	// another connects another process to the same server and namespace.
	another func() *bus.Bus
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	b := bustest.New(t)
	return &harness{t: t, ctx: bustest.Context(t), b: b, another: func() *bus.Bus { return bustest.Another(t, b) }}
}

func newEmbeddedHarness(t testing.TB) *harness {
	t.Helper()
	e := bustest.Embedded(t)
	ctx := bustest.Context(t)
	// Other processes connect without declaring the topology again: the
	// embedded server (v2.15.2) races, under -race, between a stream
	// update and a consumer being created on that stream.
	another := func() *bus.Bus {
		b, err := bus.Connect(ctx, bus.Options{URL: e.URL(), Name: "diffgate-test " + t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		return b
	}
	return &harness{t: t, ctx: ctx, b: bustest.ConnectTo(t, e.URL()), another: another}
}

// proc is a reporter running in the background: one process.
type proc struct {
	b      *bus.Bus
	cancel context.CancelFunc
	done   chan error
}

// start runs a reporter (on a connection of its own, like a separate
// process) until stop or the end of the test.
func (h *harness) start(cfg *config.Config, opts Options) *proc {
	h.t.Helper()
	b := h.another()
	ctx, cancel := context.WithCancel(h.ctx)
	p := &proc{b: b, cancel: cancel, done: make(chan error, 1)}
	r := New(b, cfg, opts)
	go func() { p.done <- r.Run(ctx) }()
	h.t.Cleanup(func() { p.stop(h.t) })
	return p
}

// stop stops the reporter the way SIGTERM does, waits for it, and closes
// its connection, as the process exits.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.cancel()
	select {
	case err, ok := <-p.done:
		if !ok {
			return // stopped already
		}
		if err != nil {
			t.Errorf("reporter: %v", err)
		}
		close(p.done)
		p.b.Close()
	case <-time.After(wait):
		t.Fatal("the reporter did not stop")
	}
}

// noPulls waits until no pull request of a stopped process is left on the
// server (they expire within the bus's poll wait): a message published
// before that could be handed to the gone process and come back only after
// its AckWait.
func (h *harness) noPulls(consumers ...string) {
	h.t.Helper()
	bustest.WaitFor(h.t, wait, func() error {
		for _, name := range consumers {
			c, err := h.b.JetStream().Consumer(h.ctx, h.b.Name(bus.StreamPipeline), name)
			if err != nil {
				return err
			}
			info, err := c.Info(h.ctx)
			if err != nil {
				return err
			}
			if info.NumWaiting > 0 {
				return fmt.Errorf("consumer %s: %d pull requests waiting", name, info.NumWaiting)
			}
		}
		return nil
	})
}

func (h *harness) publish(m events.Message, opts ...bus.PubOption) {
	h.t.Helper()
	if _, err := h.b.Publish(h.ctx, m, opts...); err != nil {
		h.t.Fatalf("publish %s: %v", m.Subject(), err)
	}
}

// again publishes m a second time under another message id, so the
// stream stores it twice (as a differ that ran a task twice would).
func (h *harness) again(m events.Message) {
	h.t.Helper()
	h.publish(m, bus.WithHeader(events.HeaderMsgID, m.MsgID()+":again"))
}

// plan stores the plan of in and publishes DiffPlanned.
func (h *harness) plan(in report.Input) events.DiffPlanned {
	h.t.Helper()
	data, err := json.Marshal(in.Plan)
	if err != nil {
		h.t.Fatal(err)
	}
	objects, err := h.b.Objects(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := objects.PutBytes(h.ctx, events.PlanObject(in.Run.ID()), data)
	if err != nil {
		h.t.Fatal(err)
	}
	p := events.DiffPlanned{
		Version: events.Version, Run: in.Run, Integration: in.Integration,
		Plan:  events.ObjectRef{Name: info.Name, Digest: info.Digest, Size: int64(info.Size)},
		Tasks: in.Plan.DiffCount(), At: time.Now().UTC(),
	}
	h.publish(p)
	return p
}

// reports are the run's RunReports as published (after the server's
// deduplication): a user sees each one.
func (h *harness) reports(run events.Run) []events.RunReport {
	h.t.Helper()
	var out []events.RunReport
	for _, r := range bustest.Stored[events.RunReport](h.t, h.b, events.SubjectRunReportPrefix+string(run.Provider)) {
		if r.Run.ID() == run.ID() {
			out = append(out, r)
		}
	}
	return out
}

// statuses are the run's progress messages ("diffing k/N"), in order.
func (h *harness) statuses(run events.Run) []string {
	h.t.Helper()
	var out []string
	for _, s := range bustest.Stored[events.RunStatus](h.t, h.b, events.SubjectRunStatusPrefix+string(run.Provider)) {
		if s.Run.ID() == run.ID() {
			if s.Message != fmt.Sprintf("diffing %d/%d", s.Done, s.Total) || s.Stage != events.StageDiff {
				h.t.Errorf("status %+v: message and counts disagree", s)
			}
			out = append(out, s.Message)
		}
	}
	return out
}

// waitStatus waits until the run's last progress message is want.
func (h *harness) waitStatus(run events.Run, want string) {
	h.t.Helper()
	bustest.WaitFor(h.t, wait, func() error {
		got := h.statuses(run)
		if len(got) == 0 || got[len(got)-1] != want {
			return fmt.Errorf("statuses %q, want the last to be %q", got, want)
		}
		return nil
	})
}

// waitReport waits for the run's report and returns it with the stored
// report it points to.
func (h *harness) waitReport(run events.Run) (events.RunReport, *report.Report) {
	h.t.Helper()
	bustest.WaitFor(h.t, wait, func() error {
		if n := len(h.reports(run)); n == 0 {
			return fmt.Errorf("no report for %s yet", run)
		}
		return nil
	})
	rr := h.reports(run)[0]
	objects, err := h.b.Objects(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if rr.Report.Name != events.ReportObject(run.ID()) {
		h.t.Errorf("report object %q, want %q", rr.Report.Name, events.ReportObject(run.ID()))
	}
	data, err := objects.GetBytes(h.ctx, rr.Report.Name)
	if err != nil {
		h.t.Fatalf("report object: %v", err)
	}
	rep, err := report.Decode(data)
	if err != nil {
		h.t.Fatal(err)
	}
	if rep.Conclusion != rr.Conclusion || rep.Title != rr.Title || rep.Summary != rr.Summary {
		h.t.Errorf("message (%s, %q, %q) and stored report (%s, %q, %q) disagree",
			rr.Conclusion, rr.Title, rr.Summary, rep.Conclusion, rep.Title, rep.Summary)
	}
	return rr, rep
}

// settle waits until the reporter's consumers named have handled every
// message published so far (handled, acked: nothing pending or in flight).
func (h *harness) settle(consumers ...string) {
	h.t.Helper()
	js := h.b.JetStream()
	bustest.WaitFor(h.t, wait, func() error {
		for _, name := range consumers {
			stream := h.b.Name(bus.StreamPipeline)
			if name == ConsumerDeadLetter {
				stream = h.b.Name(bus.StreamDeadLetter)
			}
			c, err := js.Consumer(h.ctx, stream, name)
			if err != nil {
				return err
			}
			info, err := c.Info(h.ctx)
			if err != nil {
				return err
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				return fmt.Errorf("consumer %s: %d pending, %d in flight", name, info.NumPending, info.NumAckPending)
			}
		}
		return nil
	})
}

// exactlyOne checks, once the consumers are idle, that the run has one
// report, and returns it.
func (h *harness) exactlyOne(run events.Run) events.RunReport {
	h.t.Helper()
	h.settle(ConsumerPlan, ConsumerResult, ConsumerCancelled, ConsumerFailed, ConsumerDeadLetter)
	got := h.reports(run)
	if len(got) != 1 {
		h.t.Fatalf("%d reports for %s, want exactly 1: %+v", len(got), run, got)
	}
	return got[0]
}

// state reads the run's stored state.
func (h *harness) state(run events.Run) *runState {
	h.t.Helper()
	r := New(h.b, nil, Options{})
	if err := r.open(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	s, _, err := r.load(h.ctx, run.ID())
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// failing runs a stage stand-in on subject whose handler always fails, so
// that the bus dead-letters what it gets after maxDeliver deliveries.
func (h *harness) failing(name, subject string, maxDeliver int, why error) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	c := bus.Consumer{Name: name, Subject: subject, MaxDeliver: maxDeliver, Backoff: []time.Duration{10 * time.Millisecond}}
	go func() {
		defer close(done)
		_ = h.b.Consume(ctx, c, func(context.Context, *bus.Msg) error { return why })
	}()
	h.t.Cleanup(func() { cancel(); <-done })
}

// waitReported waits until the run is marked reported.
func (h *harness) waitReported(run events.Run) {
	h.t.Helper()
	r := New(h.b, nil, Options{})
	if err := r.open(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	bustest.WaitFor(h.t, wait, func() error {
		s, _, err := r.load(h.ctx, run.ID())
		if err != nil {
			return err
		}
		if s == nil || !s.Reported {
			return fmt.Errorf("%s not reported yet", run)
		}
		return nil
	})
}
