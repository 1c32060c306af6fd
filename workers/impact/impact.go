// Package impact is the pipeline stage that decides what a run diffs. It
// reads the two manifests the manifests stage stored, compares them the way
// dbt's state:modified does (shared/dbt), adds the Hightouch models that
// read impacted tables (shared/hightouch), stores the plan in the object
// store and publishes one diff task per model to diff, then DiffPlanned.
// Every message id derives from the run (and model), so a redelivered
// message publishes nothing new.
package impact

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/internal/stage"
)

// Consumer is the durable consumer's name.
const Consumer = "impact"

// Options tune the worker. The zero value is what production runs.
type Options struct {
	// Hightouch are extra options for every Hightouch client.
	Hightouch []hightouch.Option
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AckWait is how long a delivery held by a process that stopped
	// without settling it waits before another process gets it; default
	// 1 minute (a long analysis tells the server it is alive).
	AckWait time.Duration
	// MaxDeliver and Backoff bound the retries of transient failures (the
	// Hightouch API unavailable, the object store unreachable); defaults 5
	// and bus.DefaultBackoff. Then the message becomes a dead letter,
	// which the reporter turns into an error report.
	MaxDeliver int
	Backoff    []time.Duration
}

// Build makes the impact component.
func Build(ctx context.Context, env *service.Env) ([]service.Component, error) {
	return New(ctx, env, Options{})
}

// New is Build with options.
func New(ctx context.Context, env *service.Env, o Options) ([]service.Component, error) {
	if len(env.Config.Integrations) == 0 {
		zerolog.Ctx(ctx).Info().Msg("impact: no integrations configured; nothing to plan")
		return nil, nil
	}
	w := &Worker{cfg: env.Config, bus: env.Bus, o: o, hightouch: map[string]*hightouch.Client{}}
	if w.o.Now == nil {
		w.o.Now = time.Now
	}
	if w.o.AckWait <= 0 {
		w.o.AckWait = time.Minute
	}
	if w.o.MaxDeliver == 0 {
		w.o.MaxDeliver = 5
	}
	w.stage = stage.Stage{Name: events.StageImpact, Bus: env.Bus, Now: w.o.Now}
	for i := range env.Config.Integrations {
		in := &env.Config.Integrations[i]
		ds, ok := env.Config.DataSourceByName(in.DataSource)
		if !ok {
			return nil, fmt.Errorf("impact: integration %q: data source %q is not configured", in.Name, in.DataSource)
		}
		if _, err := quoter(ds.Type); err != nil {
			return nil, fmt.Errorf("impact: integration %q: %w", in.Name, err)
		}
		if h := in.Hightouch; h != nil {
			c, err := hightouch.New(h.Token.Value(), append([]hightouch.Option{hightouch.WithBaseURL(h.URL)}, o.Hightouch...)...)
			if err != nil {
				return nil, fmt.Errorf("impact: integration %q: hightouch: %w", in.Name, err)
			}
			w.hightouch[in.Name] = c
		}
	}
	var err error
	if w.prs, err = env.Bus.KV(ctx, events.BucketPRs); err != nil {
		return nil, fmt.Errorf("impact: %w", err)
	}
	if w.objects, err = env.Bus.Objects(ctx); err != nil {
		return nil, fmt.Errorf("impact: %w", err)
	}
	return []service.Component{w}, nil
}

// Worker plans the diffs of runs. It is the impact component.
type Worker struct {
	cfg       *config.Config
	bus       *bus.Bus
	o         Options
	stage     stage.Stage
	hightouch map[string]*hightouch.Client // by integration name
	prs       jetstream.KeyValue
	objects   jetstream.ObjectStore
}

// Name implements service.Component.
func (w *Worker) Name() string { return "impact" }

// Run consumes resolved manifests until ctx is done, then drains.
func (w *Worker) Run(ctx context.Context) error {
	return w.bus.Consume(ctx, bus.Consumer{
		Name:        Consumer,
		Subject:     events.SubjectManifestsResolved,
		AckWait:     w.o.AckWait,
		MaxDeliver:  w.o.MaxDeliver,
		Backoff:     w.o.Backoff,
		Concurrency: 2, // each holds two manifests in memory
	}, bus.KeepAlive(w.handle))
}
