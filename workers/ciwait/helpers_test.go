package ciwait_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/standin"
	"github.com/diffgate/diffgate/shared/testenv"
	"github.com/diffgate/diffgate/workers/ciwait"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

const (
	account     = 1
	prodJob     = 11
	ciJob       = 22
	repo        = "github.com/acme/analytics"
	integration = "analytics"
	hookSecret  = "whsec-test-0123456789"
	wait        = 20 * time.Second
)

// world is one test's NATS namespace, stand-in dbt Cloud and config.
type world struct {
	t     testing.TB
	bus   *bus.Bus // the test's own connection (publishing, reading)
	dbt   *dbtcloudtest.Server
	cfg   *config.Config
	sleep *standin.Sleeps
	// ackWait, when set, is the workers' ack wait.
	ackWait time.Duration
	// logs, when set, receives the workers' logs instead of the test's
	// output.
	logs *testenv.Buffer
}

func newWorld(t testing.TB, interval, timeout time.Duration, opts ...dbtcloudtest.Option) *world {
	t.Helper()
	w := &world{t: t, bus: bustest.New(t), dbt: dbtcloudtest.New(t, opts...), sleep: &standin.Sleeps{}}
	w.dbt.AddAccount(account, "Acme Analytics")
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: account, ID: prodJob, Name: "Production artifacts"})
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: account, ID: ciJob, Name: "CI", Type: dbtcloud.JobTypeCI, DeferringJobID: prodJob})
	raw := fmt.Sprintf(`
github: {app_id: 1, private_key: "-----BEGIN RSA PRIVATE KEY-----", webhook_secret: gh-secret}
data_sources: [{name: warehouse, type: duckdb}]
integrations:
  - name: %s
    repository: %s
    data_source: warehouse
    dbt_cloud:
      url: %s
      token: %s
      account_id: %d
      artifacts_job_id: %d
      pr_job_id: %d
      webhook_secret: %s
      poll_interval: 1s
      timeout: 2h
`, integration, repo, w.dbt.URL, w.dbt.Token(), account, prodJob, ciJob, hookSecret)
	cfg, err := config.Parse([]byte(raw), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	// Tests poll faster than the configuration allows people to.
	cfg.Integrations[0].DBTCloud.PollInterval = config.Duration(interval)
	cfg.Integrations[0].DBTCloud.Timeout = config.Duration(timeout)
	w.cfg = cfg
	return w
}

// worker is one running ciwait process.
type worker struct {
	mux  *http.ServeMux
	stop func()
}

// start runs a ciwait process on a connection of its own.
func (w *world) start() *worker {
	w.t.Helper()
	ctx := bustest.Context(w.t)
	// Every look at dbt Cloud logs at debug; a test with hundreds of
	// waiting runs keeps its output (and its time) to what matters.
	ctx = zerolog.Ctx(ctx).Level(zerolog.InfoLevel).WithContext(ctx)
	if w.logs != nil {
		ctx = zerolog.New(w.logs).Level(zerolog.DebugLevel).WithContext(ctx)
	}
	env := &service.Env{Config: w.cfg, Bus: bustest.Another(w.t, w.bus), Mux: http.NewServeMux()}
	stop := workertest.Start(w.t, ctx, func(ctx context.Context) ([]service.Component, error) {
		return ciwait.New(ctx, env, ciwait.Options{DBTCloud: []dbtcloud.Option{dbtcloud.WithSleep(w.sleep.Sleep)}, AckWait: w.ackWait})
	})
	return &worker{mux: env.Mux, stop: stop}
}

// handler builds a ciwait process without running its consumers: its
// webhook route alone.
func (w *world) handler() http.Handler {
	w.t.Helper()
	env := &service.Env{Config: w.cfg, Bus: bustest.Another(w.t, w.bus), Mux: http.NewServeMux()}
	if _, err := ciwait.New(bustest.Context(w.t), env, ciwait.Options{}); err != nil {
		w.t.Fatal(err)
	}
	return env.Mux
}

// request publishes a RunRequested for pr at head, as the gate does: the
// PR's head first, then the message.
func (w *world) request(pr int, head string, requestedAt time.Time) events.RunRequested {
	w.t.Helper()
	req := events.RunRequested{
		Version: events.Version,
		Run: events.Run{Provider: events.GitHub, Repository: repo, PR: pr, HeadSHA: head, BaseSHA: workertest.SHA(0),
			Installation: 7, BaseRef: "main", HeadRef: fmt.Sprintf("feature-%d", pr)},
		Integration: integration, Trigger: "opened", RequestedAt: requestedAt.UTC(),
	}
	w.setHead(req.Run, false)
	if _, err := w.bus.Publish(bustest.Context(w.t), req); err != nil {
		w.t.Fatal(err)
	}
	return req
}

// setHead writes the PR's current head as the gate does.
func (w *world) setHead(run events.Run, closed bool) {
	w.t.Helper()
	workertest.SetHead(w.t, w.bus, events.PRHead{RunID: run.ID(), Run: run, Closed: closed, Updated: time.Now().UTC()})
}

// ciRun scripts the CI run of pr at head.
func (w *world) ciRun(pr int, head string, script ...dbtcloudtest.Phase) *dbtcloudtest.RunHandle {
	return w.dbt.AddRun(dbtcloudtest.Run{AccountID: account, JobID: ciJob, GitSHA: head, GitBranch: fmt.Sprintf("feature-%d", pr),
		GitHubPR: int64(pr), Script: script, StatusMessage: "None"})
}

// count is the number of messages stored on subject (cheaper than
// reading them, for polling).
func count(t testing.TB, b *bus.Bus, subject string) int {
	t.Helper()
	ctx := bustest.Context(t)
	s, err := b.JetStream().Stream(ctx, b.Name(bus.StreamOf(subject)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(b.Subject(subject)))
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Subjects[b.Subject(subject)])
}

// forRun keeps the messages of one run.
func forRun[T interface{ MsgID() string }](msgs []T, run events.Run) []T {
	var out []T
	for _, m := range msgs {
		var probe struct {
			Run events.Run `json:"run"`
		}
		data, _ := json.Marshal(m)
		_ = json.Unmarshal(data, &probe)
		if probe.Run.ID() == run.ID() {
			out = append(out, m)
		}
	}
	return out
}

// outcome is everything that ended one run.
type outcome struct {
	completed []events.CICompleted
	failed    []events.RunFailed
	cancelled []events.RunCancelled
}

func (o outcome) count() int { return len(o.completed) + len(o.failed) + len(o.cancelled) }

func outcomes(t testing.TB, b *bus.Bus, run events.Run) outcome {
	t.Helper()
	return outcome{
		completed: forRun(bustest.Stored[events.CICompleted](t, b, events.SubjectCICompleted), run),
		failed:    forRun(bustest.Stored[events.RunFailed](t, b, events.SubjectRunFailed), run),
		cancelled: forRun(bustest.Stored[events.RunCancelled](t, b, events.SubjectRunCancelled), run),
	}
}

// ended waits until the run has ended one way or another.
func ended(t testing.TB, b *bus.Bus, run events.Run) outcome {
	t.Helper()
	var o outcome
	bustest.WaitFor(t, wait, func() error {
		o = outcomes(t, b, run)
		if o.count() == 0 {
			return fmt.Errorf("run %s has not ended (%v)", run, consumerIdle(t, b))
		}
		return nil
	})
	return o
}

// statuses returns the progress published for run.
func statuses(t testing.TB, b *bus.Bus, run events.Run) []events.RunStatus {
	t.Helper()
	return forRun(bustest.Stored[events.RunStatus](t, b, events.SubjectRunStatusPrefix+string(events.GitHub)), run)
}

// consumerIdle reports whether the ciwait consumer has nothing waiting.
func consumerIdle(t testing.TB, b *bus.Bus) error {
	t.Helper()
	return bustest.Idle(t, b, bus.StreamPipeline, ciwait.ConsumerRuns)
}

var errNotYet = errors.New("not yet")
