package reporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
)

// Name is the component's name.
const Name = "reporter"

// Durable consumer names. A message one of them gives up on is published
// on diffgate.deadletter.<name>.
const (
	ConsumerPlan       = "reporter-plan"
	ConsumerResult     = "reporter-result"
	ConsumerCancelled  = "reporter-cancelled"
	ConsumerFailed     = "reporter-failed"
	ConsumerDeadLetter = "reporter-deadletter"
	ConsumerWatchdog   = "reporter-watchdog"
)

// DefaultStallTimeout is how long a planned run may go without a new
// result before the watchdog ends it (see the package documentation).
const DefaultStallTimeout = 3 * time.Hour

// watchdogMaxAckPending bounds the runs the watchdog can watch at once:
// each run in flight holds one pending plan message.
const watchdogMaxAckPending = 20_000

// Sentinel errors.
var (
	// ErrState is wrapped by errors about a run's stored state that
	// cannot be read.
	ErrState = errors.New("reporter: unreadable run state")
	// ErrContention is returned when a run's state kept changing under
	// an update; the message is retried.
	ErrContention = errors.New("reporter: the run's state kept changing")
)

// Options tune a Reporter; the zero value is the production setting.
type Options struct {
	// StallTimeout is how long a planned run may go without a new result
	// before it ends with an error for each model still missing; default
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// Concurrency is the number of handlers per consumer in this process;
	// default bus.DefaultConcurrency.
	Concurrency int
}

// Reporter is the reporter component. It is safe to run several, in one
// process or many: they share the durable consumers and the run state.
type Reporter struct {
	bus  *bus.Bus
	cfg  *config.Config
	opts Options
	now  func() time.Time

	once    sync.Once
	openErr error
	runs    jetstream.KeyValue
	prs     jetstream.KeyValue
	objects jetstream.ObjectStore
}

// New returns a reporter on b, reading integrations from cfg (nil means
// none: fail_on_primary_key_issues is then off).
func New(b *bus.Bus, cfg *config.Config, opts Options) *Reporter {
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if cfg == nil {
		cfg = config.Default()
	}
	return &Reporter{bus: b, cfg: cfg, opts: opts, now: func() time.Time { return time.Now().UTC() }}
}

// Build is the service.Builder of the reporter: one component, whatever
// the config (it only reads integrations for their CI settings).
func Build(_ context.Context, env *service.Env) ([]service.Component, error) {
	return []service.Component{New(env.Bus, env.Config, Options{})}, nil
}

// Name is the component's name.
func (r *Reporter) Name() string { return Name }

// open finds the buckets and the object store (declared by bus.Ensure at
// start-up).
func (r *Reporter) open(ctx context.Context) error {
	r.once.Do(func() {
		var errs []error
		var err error
		r.runs, err = r.bus.KV(ctx, events.BucketRuns)
		errs = append(errs, err)
		r.prs, err = r.bus.KV(ctx, events.BucketPRs)
		errs = append(errs, err)
		r.objects, err = r.bus.Objects(ctx)
		errs = append(errs, err)
		r.openErr = errors.Join(errs...)
	})
	return r.openErr
}

// consumers are the reporter's durable consumers and their handlers.
func (r *Reporter) consumers() []struct {
	c bus.Consumer
	h bus.Handler
} {
	n := r.opts.Concurrency
	return []struct {
		c bus.Consumer
		h bus.Handler
	}{
		{bus.Consumer{Name: ConsumerPlan, Subject: events.SubjectDiffPlanned, Concurrency: n}, r.handlePlan},
		{bus.Consumer{Name: ConsumerResult, Subject: events.SubjectDiffResult, Concurrency: n}, r.handleResult},
		{bus.Consumer{Name: ConsumerCancelled, Subject: events.SubjectRunCancelled, Concurrency: n}, r.handleCancelled},
		{bus.Consumer{Name: ConsumerFailed, Subject: events.SubjectRunFailed, Concurrency: n}, r.handleFailed},
		{bus.Consumer{Name: ConsumerDeadLetter, Subject: events.SubjectDeadLetterPrefix + ">", Concurrency: n}, r.handleDeadLetter},
		// Every delivery is a wait, so deliveries are unlimited.
		{bus.Consumer{Name: ConsumerWatchdog, Subject: events.SubjectDiffPlanned, Concurrency: n,
			MaxDeliver: -1, MaxAckPending: watchdogMaxAckPending}, r.handleWatch},
	}
}

// Run consumes until ctx is done, then lets the handlers in flight finish.
// It returns an error when the stores or a consumer cannot be set up, or
// the connection is closed.
func (r *Reporter) Run(ctx context.Context) error {
	if err := r.open(ctx); err != nil {
		return fmt.Errorf("reporter: %w", err)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	cs := r.consumers()
	errc := make(chan error, len(cs))
	for _, c := range cs {
		go func() {
			err := r.bus.Consume(ctx, c.c, c.h)
			if err != nil {
				// One consumer down means runs stop ending: stop the
				// others too, so the process exits and is restarted.
				stop()
				err = fmt.Errorf("reporter: consumer %s: %w", c.c.Name, err)
			}
			errc <- err
		}()
	}
	var errs []error
	for range cs {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}
