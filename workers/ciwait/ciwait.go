// Package ciwait is the pipeline stage that waits for the dbt Cloud CI run
// of a pull request's head commit.
//
// A requested run waits durably: each delivery of its RunRequested looks
// once at dbt Cloud and, while the CI run is queued or running, goes back
// to the stream with a delay (bus.RetryAfter), so no goroutine sleeps and a
// restart loses nothing. Every run waiting on the same dbt Cloud job reads
// one shared list of that job's runs, refreshed at most once per poll
// interval by whichever delivery finds it stale first (a compare-and-set
// claim in the ciwait KV bucket). A dbt Cloud webhook, when configured,
// finishes the waiting runs of a completed CI run at once; polling stays
// the fallback.
//
// Outcomes: the CI run succeeded → CICompleted; it failed (a failing dbt
// test counts) → RunFailed with the dbt Cloud link; it was cancelled →
// RunCancelled; nothing finished within dbt_cloud.timeout → RunFailed
// (timed out).
package ciwait

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/internal/stage"
)

// Consumer names and the webhook route.
const (
	ConsumerRuns   = "ciwait"
	ConsumerEvents = "ciwait-dbtcloud"
	HookPath       = "/api/dbtcloud/hook"
)

// maxWaiting bounds the runs waiting at once across every ciwait process.
// A message put back with a delay still counts as pending on the server,
// so this, not the handler concurrency, is how many runs can wait.
const maxWaiting = 20000

// Options tune the worker. The zero value is what production runs.
type Options struct {
	// DBTCloud are extra options for every dbt Cloud client (tests pass
	// a stand-in's HTTP client and retries that do not wait).
	DBTCloud []dbtcloud.Option
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Concurrency is the number of deliveries handled at once in this
	// process; default 16 (handlers only read KV and, rarely, call dbt
	// Cloud).
	Concurrency int
	// AckWait is how long a delivery held by a process that stopped
	// without settling it waits before another process gets it; default
	// 1 minute. Handlers that take longer tell the server they are alive.
	AckWait time.Duration
}

// Build makes the ciwait component and registers the dbt Cloud webhook
// route on env.Mux.
func Build(ctx context.Context, env *service.Env) ([]service.Component, error) {
	return New(ctx, env, Options{})
}

// New is Build with options.
func New(ctx context.Context, env *service.Env, o Options) ([]service.Component, error) {
	log := zerolog.Ctx(ctx)
	if len(env.Config.Integrations) == 0 {
		log.Info().Msg("ciwait: no integrations configured; nothing to wait for")
		return nil, nil
	}
	w, err := newWorker(ctx, env, o)
	if err != nil {
		return nil, err
	}
	if env.Mux != nil {
		env.Mux.Handle("POST "+HookPath, &hook{w: w, log: log.With().Str("route", HookPath).Logger()})
	}
	return []service.Component{w}, nil
}

// Worker waits for dbt Cloud CI runs. It is the ciwait component.
type Worker struct {
	cfg     *config.Config
	bus     *bus.Bus
	now     func() time.Time
	conc    int
	ackWait time.Duration
	stage   stage.Stage
	clients map[string]*dbtcloud.Client // by integration name
	prs     jetstream.KeyValue
	state   jetstream.KeyValue

	mu    sync.Mutex
	polls map[string]cachedPoll // by poll key
}

func newWorker(ctx context.Context, env *service.Env, o Options) (*Worker, error) {
	w := &Worker{cfg: env.Config, bus: env.Bus, now: o.Now, conc: o.Concurrency, ackWait: o.AckWait, clients: map[string]*dbtcloud.Client{}, polls: map[string]cachedPoll{}}
	if w.now == nil {
		w.now = time.Now
	}
	if w.conc <= 0 {
		w.conc = 16
	}
	if w.ackWait <= 0 {
		w.ackWait = time.Minute
	}
	w.stage = stage.Stage{Name: events.StageCIWait, Bus: env.Bus, Now: w.now}
	for i := range env.Config.Integrations {
		in := &env.Config.Integrations[i]
		opts := append([]dbtcloud.Option{
			// A waiting run looks again at the next poll, so one look
			// need not outlast dbt Cloud's bad minutes.
			dbtcloud.WithRetry(dbtcloud.RetryPolicy{MaxWait: 30 * time.Second}),
			dbtcloud.WithTimeout(20 * time.Second),
		}, o.DBTCloud...)
		c, err := dbtcloud.New(in.DBTCloud.URL, in.DBTCloud.Token.Value(), opts...)
		if err != nil {
			return nil, fmt.Errorf("ciwait: integration %q: dbt_cloud: %w", in.Name, err)
		}
		w.clients[in.Name] = c
	}
	var err error
	if w.prs, err = env.Bus.KV(ctx, events.BucketPRs); err != nil {
		return nil, fmt.Errorf("ciwait: %w", err)
	}
	if w.state, err = env.Bus.KV(ctx, events.BucketCIWait); err != nil {
		return nil, fmt.Errorf("ciwait: %w", err)
	}
	return w, nil
}

// Name implements service.Component.
func (w *Worker) Name() string { return "ciwait" }

// Run consumes requested runs and dbt Cloud webhook events until ctx is
// done, then drains.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() {
		errc <- w.bus.Consume(ctx, bus.Consumer{
			Name:          ConsumerRuns,
			Subject:       events.SubjectRunRequested,
			AckWait:       w.ackWait,
			MaxDeliver:    -1, // every look at dbt Cloud is a delivery
			MaxAckPending: maxWaiting,
			Concurrency:   w.conc,
		}, bus.KeepAlive(w.handleRequested))
	}()
	go func() {
		errc <- w.bus.Consume(ctx, bus.Consumer{
			Name:        ConsumerEvents,
			Subject:     events.SubjectDBTCloudEvent,
			AckWait:     w.ackWait,
			MaxDeliver:  5,
			Concurrency: 4,
		}, bus.KeepAlive(w.handleEvent))
	}()
	var errs []error
	for range 2 {
		if err := <-errc; err != nil {
			errs = append(errs, err)
			cancel() // one consumer failing stops the other
		}
	}
	return errors.Join(errs...)
}

// hook serves the dbt Cloud webhook.
type hook struct {
	w   *Worker
	log zerolog.Logger
}

var _ http.Handler = (*hook)(nil)
