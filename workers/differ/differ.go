// Package differ is the pipeline stage that runs one model's diff in the
// warehouse for each diff task (shared/datadiff) and publishes one result
// per task.
//
// # Consumers and concurrency
//
// Each configured data source has a durable consumer of its own,
// differ-<name> on diffgate.diff.task.<name>. Its MaxAckPending is the data
// source's max_concurrency, so that many tasks at most are in flight
// across every differ process, and each diff runs its statements one at a
// time on a connection of its own: at most max_concurrency statements run
// in the warehouse at once, however many processes there are. (A diff
// whose statements ran in parallel would break that bound as soon as two
// processes each held a task.) Each process opens its connections lazily,
// one per task it can hold, and closes them when it stops.
//
// # Supersession
//
// A task whose run is no longer its pull request's current run (a newer
// head, or the PR was closed: events.BucketPRs) is acknowledged without a
// result before anything runs; the reporter ends such runs as cancelled.
// While a diff runs, one KV watcher per process follows the PR entries of
// the tasks in flight and cancels the diff of a run that gets superseded:
// the engine then cancels its statement in the warehouse, and no result
// is published.
//
// # Results
//
// A diff that ran stores its full result (with samples) as JSON at
// events.ResultObject and publishes events.DiffResult with the result
// minus samples and a reference to the object. A missing PR relation and
// a missing production relation are results too (not built, new model).
// An error a person can act on (permission denied, relation missing in a
// query, timeout, bad filter or settings) is a result with an
// events.Error. A failure the engine reports as datadiff.ErrUnavailable
// (connection refused or lost, server restarting, too many connections)
// is retried with backoff; when the deliveries are exhausted the dead
// letter reaches the reporter, which records the model as failed. A task
// that cannot be decoded is dead-lettered at once.
//
// A redelivered task whose full result is already stored (the process
// stopped between storing and acknowledging) publishes that result again
// instead of diffing again; the result's message id makes a second
// publish a no-op, so a task has one result.
//
// No credential reaches a result, a log line or an error: every error text
// passes through config.Redact with the configured secrets and the parts of
// the data source's DSN.
package differ

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/warehouse"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
)

// Name is the component's name.
const Name = "differ"

// ConsumerName is the durable consumer of a data source's diff tasks.
func ConsumerName(dataSource string) string { return "differ-" + dataSource }

// Defaults of Options.
const (
	DefaultAckWait    = time.Minute
	DefaultMaxDeliver = 8
)

// Sentinel errors.
var (
	// ErrUnavailable wraps a transient failure of the warehouse; the task
	// is retried.
	ErrUnavailable = errors.New("differ: the data source is unavailable")
	// ErrInterrupted is returned for a task whose diff was stopped
	// because this process is stopping or lost the task to another
	// process; the task is delivered again.
	ErrInterrupted = errors.New("differ: the diff was interrupted")
	// ErrContract wraps a task that breaks the wire contract (no run, no
	// model, another data source); it is dead-lettered.
	ErrContract = errors.New("differ: invalid diff task")
)

// Options tune the worker. The zero value is what production runs.
type Options struct {
	// AckWait is how long a task held by a process that stopped without
	// settling it waits before another process gets it; default
	// DefaultAckWait. A diff running longer tells the server it is alive
	// every third of it.
	AckWait time.Duration
	// MaxDeliver and Backoff bound the retries of transient failures;
	// defaults DefaultMaxDeliver and bus.DefaultBackoff (about 18 minutes
	// in all). Then the task becomes a dead letter, which the reporter
	// records as the model's error.
	MaxDeliver int
	Backoff    []time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Build is the service.Builder of the differ: one component with a
// consumer per configured data source, or none when no data source is
// configured.
func Build(ctx context.Context, env *service.Env) ([]service.Component, error) {
	return New(ctx, env, Options{})
}

// New is Build with options.
func New(ctx context.Context, env *service.Env, o Options) ([]service.Component, error) {
	if len(env.Config.DataSources) == 0 {
		zerolog.Ctx(ctx).Info().Msg("differ: no data sources configured; nothing to diff")
		return nil, nil
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Worker{bus: env.Bus, o: o, flights: newFlights()}
	secrets := env.Config.Secrets()
	for _, ds := range env.Config.DataSources {
		w.sources = append(w.sources, newDataSource(ds, secrets))
	}
	var err error
	if w.prs, err = env.Bus.KV(ctx, events.BucketPRs); err != nil {
		return nil, fmt.Errorf("differ: %w", err)
	}
	if w.objects, err = env.Bus.Objects(ctx); err != nil {
		return nil, fmt.Errorf("differ: %w", err)
	}
	return []service.Component{w}, nil
}

// Worker runs diff tasks. It is the differ component; run as many as you
// like, in one process or many: they share the durable consumers.
type Worker struct {
	bus     *bus.Bus
	o       Options
	sources []*dataSource
	prs     jetstream.KeyValue
	objects jetstream.ObjectStore
	flights *flights
}

// Name implements service.Component.
func (w *Worker) Name() string { return Name }

// Run consumes the diff tasks of every data source until ctx is done. Then
// it cancels the diffs in flight (their tasks go back to the stream for
// another process), waits for their handlers and closes the connections.
func (w *Worker) Run(ctx context.Context) error {
	// The watcher must see every change from before the first task is
	// checked, so it starts first.
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	kw, err := w.prs.WatchAll(watchCtx, jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("differ: watch %s: %w", events.BucketPRs, err)
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		w.watch(watchCtx, kw)
	}()
	defer func() { stopWatch(); <-watched }()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, len(w.sources))
	for _, ds := range w.sources {
		go func() {
			c := bus.Consumer{
				Name:          ConsumerName(ds.cfg.Name),
				Subject:       events.SubjectDiffTaskPrefix + ds.cfg.Name,
				AckWait:       w.o.AckWait,
				MaxDeliver:    w.o.MaxDeliver,
				Backoff:       w.o.Backoff,
				MaxAckPending: ds.cfg.MaxConcurrency,
				Concurrency:   ds.cfg.MaxConcurrency,
			}
			err := w.bus.Consume(runCtx, c, w.handler(runCtx, ds))
			if err != nil {
				// One data source without a consumer means its runs stop
				// ending: stop the others too so the process is restarted.
				stop()
				err = fmt.Errorf("differ: consumer %s: %w", c.Name, err)
			}
			errc <- err
		}()
	}
	var errs []error
	for range w.sources {
		errs = append(errs, <-errc)
	}
	for _, ds := range w.sources {
		if err := ds.close(); err != nil {
			zerolog.Ctx(ctx).Warn().Str("data_source", ds.cfg.Name).Str("error", ds.redact(err.Error())).Msg("differ: closing the data source failed")
		}
	}
	return errors.Join(errs...)
}

// dataSource is one configured warehouse and this process's connections to
// it: one engine Source per task the process can hold, each running one
// statement at a time, opened when first needed (a nil slot is one not
// opened yet).
type dataSource struct {
	cfg     config.DataSource
	secrets []config.Secret
	slots   chan *datadiff.Source
}

func newDataSource(ds config.DataSource, secrets []config.Secret) *dataSource {
	n := max(ds.MaxConcurrency, 1)
	d := &dataSource{
		cfg:     ds,
		secrets: append(append([]config.Secret(nil), secrets...), dsnSecrets(ds.DSN.Value())...),
		slots:   make(chan *datadiff.Source, n),
	}
	for range n {
		d.slots <- nil
	}
	return d
}

// errOpen marks a failure to open the data source, so the error result
// can say so.
var errOpen = errors.New("cannot open the data source")

// diff runs spec on a free connection of the data source, opening it if
// this is its first use.
func (d *dataSource) diff(ctx context.Context, spec datadiff.Spec) (*datadiff.Result, error) {
	var src *datadiff.Source
	select {
	case src = <-d.slots:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { d.slots <- src }()
	if src == nil {
		// One statement at a time per task: see the package documentation.
		var err error
		src, err = warehouse.Open(ctx, d.cfg.Type, d.cfg.DSN.Value(), datadiff.Options{MaxConcurrency: 1, QueryTimeout: d.cfg.QueryTimeout.D()})
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", errOpen, d.cfg.Name, err)
		}
	}
	return src.Diff(ctx, spec)
}

// close closes every connection opened. The handlers have all returned,
// so every slot is back.
func (d *dataSource) close() error {
	var errs []error
	for range cap(d.slots) {
		if src := <-d.slots; src != nil {
			errs = append(errs, src.Close())
		}
		defer func() { d.slots <- nil }()
	}
	return errors.Join(errs...)
}

// redact removes every credential from text.
func (d *dataSource) redact(text string) string {
	return config.Redact(text, d.secrets...)
}
