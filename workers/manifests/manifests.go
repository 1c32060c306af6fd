// Package manifests is the pipeline stage that fetches the two manifests a
// run compares: the PR's (the artifact of its dbt Cloud CI run) and
// production's (the artifact of a recent successful run of the artifacts
// job, preferably the one that built the PR's base commit). Both are
// streamed into the JetStream object store under the SHA-256 of their
// content, so a manifest shared by many runs is stored once.
package manifests

import (
	"context"
	"fmt"
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

// Consumer is the durable consumer's name.
const Consumer = "manifests"

// RecentRuns is how many recent successful runs of the artifacts job are
// considered for the production manifest (diffgate check looks as far).
const RecentRuns = 20

// Options tune the worker. The zero value is what production runs.
type Options struct {
	// DBTCloud are extra options for every dbt Cloud client.
	DBTCloud []dbtcloud.Option
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AckWait is how long a delivery held by a process that stopped
	// without settling it waits before another process gets it; default
	// 1 minute (a long download tells the server it is alive).
	AckWait time.Duration
	// MaxDeliver and Backoff bound the retries of transient failures
	// (dbt Cloud unavailable after the client's own retries); defaults 5
	// and bus.DefaultBackoff. Then the run's message becomes a dead
	// letter, which the reporter turns into an error report.
	MaxDeliver int
	Backoff    []time.Duration
	// TempDir holds manifests while they download; default os.TempDir.
	TempDir string
}

// Build makes the manifests component.
func Build(ctx context.Context, env *service.Env) ([]service.Component, error) {
	return New(ctx, env, Options{})
}

// New is Build with options.
func New(ctx context.Context, env *service.Env, o Options) ([]service.Component, error) {
	if len(env.Config.Integrations) == 0 {
		zerolog.Ctx(ctx).Info().Msg("manifests: no integrations configured; nothing to fetch")
		return nil, nil
	}
	w := &Worker{cfg: env.Config, bus: env.Bus, o: o, clients: map[string]*dbtcloud.Client{}, accounts: map[string]string{}}
	if w.o.Now == nil {
		w.o.Now = time.Now
	}
	if w.o.AckWait <= 0 {
		w.o.AckWait = time.Minute
	}
	if w.o.MaxDeliver == 0 {
		w.o.MaxDeliver = 5
	}
	w.stage = stage.Stage{Name: events.StageManifests, Bus: env.Bus, Now: w.o.Now}
	for i := range env.Config.Integrations {
		in := &env.Config.Integrations[i]
		c, err := dbtcloud.New(in.DBTCloud.URL, in.DBTCloud.Token.Value(), o.DBTCloud...)
		if err != nil {
			return nil, fmt.Errorf("manifests: integration %q: dbt_cloud: %w", in.Name, err)
		}
		w.clients[in.Name] = c
	}
	var err error
	if w.prs, err = env.Bus.KV(ctx, events.BucketPRs); err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	if w.objects, err = env.Bus.Objects(ctx); err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	return []service.Component{w}, nil
}

// Worker fetches manifests. It is the manifests component.
type Worker struct {
	cfg     *config.Config
	bus     *bus.Bus
	o       Options
	stage   stage.Stage
	clients map[string]*dbtcloud.Client // by integration name
	prs     jetstream.KeyValue
	objects jetstream.ObjectStore

	mu       sync.Mutex
	accounts map[string]string // access URL + account id → account name
}

// Name implements service.Component.
func (w *Worker) Name() string { return "manifests" }

// Run consumes CI completions until ctx is done, then drains.
func (w *Worker) Run(ctx context.Context) error {
	return w.bus.Consume(ctx, bus.Consumer{
		Name:        Consumer,
		Subject:     events.SubjectCICompleted,
		AckWait:     w.o.AckWait,
		MaxDeliver:  w.o.MaxDeliver,
		Backoff:     w.o.Backoff,
		Concurrency: 2, // each holds a download; manifests reach hundreds of MB
	}, bus.KeepAlive(w.handle))
}
