package ciwait_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
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
	"github.com/diffgate/diffgate/workers/ciwait"
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
	sleep *sleeps
	// ackWait, when set, is the workers' ack wait.
	ackWait time.Duration
	// logs, when set, receives the workers' logs instead of the test's
	// output.
	logs *lockedBuffer
}

// lockedBuffer is a bytes.Buffer for a logger written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sleeps records the waits the dbt Cloud client asks for between retries,
// without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func newWorld(t testing.TB, interval, timeout time.Duration, opts ...dbtcloudtest.Option) *world {
	t.Helper()
	w := &world{t: t, bus: bustest.New(t), dbt: dbtcloudtest.New(t, opts...), sleep: &sleeps{}}
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
	ctx, cancel := context.WithCancel(bustest.Context(w.t))
	// Every look at dbt Cloud logs at debug; a test with hundreds of
	// waiting runs keeps its output (and its time) to what matters.
	ctx = zerolog.Ctx(ctx).Level(zerolog.InfoLevel).WithContext(ctx)
	if w.logs != nil {
		ctx = zerolog.New(w.logs).Level(zerolog.DebugLevel).WithContext(ctx)
	}
	env := &service.Env{Config: w.cfg, Bus: bustest.Another(w.t, w.bus), Mux: http.NewServeMux()}
	comps, err := ciwait.New(ctx, env, ciwait.Options{DBTCloud: []dbtcloud.Option{dbtcloud.WithSleep(w.sleep.sleep)}, AckWait: w.ackWait})
	if err != nil {
		w.t.Fatal(err)
	}
	if len(comps) != 1 {
		w.t.Fatalf("ciwait.New made %d components, want 1", len(comps))
	}
	done := make(chan error, 1)
	go func() { done <- comps[0].Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				w.t.Errorf("ciwait stopped with %v", err)
			}
		})
	}
	w.t.Cleanup(stop)
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

// sha is a commit SHA for n.
func sha(n int) string {
	h := sha1.Sum([]byte(fmt.Sprint(n)))
	return hex.EncodeToString(h[:])
}

// request publishes a RunRequested for pr at head, as the gate does: the
// PR's head first, then the message.
func (w *world) request(pr int, head string, requestedAt time.Time) events.RunRequested {
	w.t.Helper()
	req := events.RunRequested{
		Version: events.Version,
		Run: events.Run{Provider: events.GitHub, Repository: repo, PR: pr, HeadSHA: head, BaseSHA: sha(0),
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
	ctx := bustest.Context(w.t)
	kv, err := w.bus.KV(ctx, events.BucketPRs)
	if err != nil {
		w.t.Fatal(err)
	}
	data, _ := json.Marshal(events.PRHead{RunID: run.ID(), Run: run, Closed: closed, Updated: time.Now().UTC()})
	if _, err := kv.Put(ctx, run.PRKey(), data); err != nil {
		w.t.Fatal(err)
	}
}

// ciRun scripts the CI run of pr at head.
func (w *world) ciRun(pr int, head string, script ...dbtcloudtest.Phase) *dbtcloudtest.RunHandle {
	return w.dbt.AddRun(dbtcloudtest.Run{AccountID: account, JobID: ciJob, GitSHA: head, GitBranch: fmt.Sprintf("feature-%d", pr),
		GitHubPR: int64(pr), Script: script, StatusMessage: "None"})
}

// stored returns the messages stored on subject, in order.
func stored[T any](t testing.TB, b *bus.Bus, subject string) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(bustest.Context(t), 10*time.Second)
	defer cancel()
	cons, err := b.JetStream().OrderedConsumer(ctx, b.Name(bus.StreamOf(subject)), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.Subject(subject)},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := int(info.NumPending)
	var out []T
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			var v T
			if err := json.Unmarshal(m.Data(), &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
			n++
		}
		if n == 0 {
			t.Fatalf("read %d of the %d messages on %s", len(out), want, subject)
		}
	}
	return out
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
		completed: forRun(stored[events.CICompleted](t, b, events.SubjectCICompleted), run),
		failed:    forRun(stored[events.RunFailed](t, b, events.SubjectRunFailed), run),
		cancelled: forRun(stored[events.RunCancelled](t, b, events.SubjectRunCancelled), run),
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
	return forRun(stored[events.RunStatus](t, b, events.SubjectRunStatusPrefix+string(events.GitHub)), run)
}

// consumerIdle reports whether the ciwait consumer has nothing waiting.
func consumerIdle(t testing.TB, b *bus.Bus) error {
	t.Helper()
	ctx := bustest.Context(t)
	c, err := b.JetStream().Consumer(ctx, b.Name(bus.StreamPipeline), ciwait.ConsumerRuns)
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		return fmt.Errorf("ciwait still holds %d messages (%d pending)", info.NumAckPending, info.NumPending)
	}
	return nil
}

var errNotYet = errors.New("not yet")
