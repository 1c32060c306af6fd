// Package service runs a diffgate process: it loads the config, sets up
// logging and metrics, connects to NATS (or starts the embedded server),
// declares the streams and buckets, serves HTTP (webhooks, details pages,
// health, metrics) and runs the components until SIGTERM, then drains.
// `diffgate serve` runs every component with it; each component's own
// binary runs just that one.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/observe"
)

// Component is one long-running part of diffgate: a webhook app, a worker
// stage. Run blocks until ctx is done and then returns once its work in
// flight is finished.
type Component interface {
	Name() string
	Run(ctx context.Context) error
}

// Env is what components are built from.
type Env struct {
	Config *config.Config
	Bus    *bus.Bus
	// Mux receives the component's HTTP routes (webhooks, pages). Health
	// and metrics routes are already on it.
	Mux *http.ServeMux
	// PublicURL is where this server is reached (config, or the listen
	// address when none is configured).
	PublicURL string

	mu      sync.Mutex
	mounted map[string]bool
}

// MountOnce registers h at pattern unless something already did. Routes
// that several components serve (the details pages, served by both apps)
// go through it, so running both apps in one process works.
func (e *Env) MountOnce(pattern string, h http.Handler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mounted == nil {
		e.mounted = map[string]bool{}
	}
	if e.mounted[pattern] {
		return
	}
	e.mounted[pattern] = true
	e.Mux.Handle(pattern, h)
}

// Builder makes the components a process runs. It may return none (say,
// when the config has no GitHub section) after logging why.
type Builder func(ctx context.Context, env *Env) ([]Component, error)

// Options of Run.
type Options struct {
	// Name is the process's name in logs and the NATS connection name.
	Name string
	// Config is the loaded config (config.Default() when there is no file).
	Config *config.Config
	// Embedded allows starting an embedded NATS server when the config
	// names no URL. Only `diffgate serve` allows it: a lone component
	// must join the deployment's NATS.
	Embedded bool
	// Build makes the components.
	Build Builder
	// Listener, if set, is used instead of listening on server.listen
	// (tests pass one on port 0).
	Listener net.Listener
	// LogOutput defaults to stderr.
	LogOutput io.Writer
	// DrainTimeout bounds the graceful stop; default 25s (inside the
	// 30s Kubernetes gives a pod after SIGTERM).
	DrainTimeout time.Duration
	// Ready, if set, is called once everything is serving.
	Ready func(addr string)
}

// ErrNoNATS is returned when a component binary has no NATS URL.
var ErrNoNATS = errors.New("nats.url is required: only `diffgate serve` can run an embedded NATS server")

// Run runs the process until ctx is done.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	if cfg == nil {
		cfg = config.Default()
	}
	out := o.LogOutput
	if out == nil {
		out = os.Stderr
	}
	log, err := observe.NewLogger(out, cfg.Log.Level)
	if err != nil {
		return err
	}
	log = log.With().Str(observe.FieldProcess, o.Name).Logger()
	ctx = log.WithContext(ctx)
	drain := o.DrainTimeout
	if drain <= 0 {
		drain = 25 * time.Second
	}

	natsURL := cfg.NATS.URL
	var embedded *bus.Embedded
	if natsURL == "" {
		if !o.Embedded {
			return ErrNoNATS
		}
		embedded, err = bus.StartEmbedded(ctx, bus.EmbeddedOptions{StoreDir: cfg.NATS.StoreDir, Port: -1})
		if err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		defer embedded.Shutdown()
		natsURL = embedded.URL()
		log.Info().Str("store_dir", cfg.NATS.StoreDir).Msg("nats: no url configured, running an embedded server")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := observe.NewMetrics(reg)
	b, err := bus.Connect(ctx, bus.Options{
		Metrics:   metrics,
		URL:       natsURL,
		CredsFile: cfg.NATS.CredsFile,
		TLS:       bus.TLSOptions{CAFile: cfg.NATS.TLS.CAFile, CertFile: cfg.NATS.TLS.CertFile, KeyFile: cfg.NATS.TLS.KeyFile},
		Name:      "diffgate-" + o.Name,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Ensure(ctx, bus.DefaultTopology(bus.TopologyOptions{Retention: cfg.Server.Retention.D(), Replicas: cfg.NATS.Replicas})); err != nil {
		return fmt.Errorf("nats: declare streams and buckets: %w", err)
	}

	mux := http.NewServeMux()
	health := observe.NewHealth()
	health.AddCheck("nats", b.Ready)
	health.Register(mux, reg)
	env := &Env{Config: cfg, Bus: b, Mux: mux, PublicURL: cfg.Server.PublicURL}

	ln := o.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.Server.Listen)
		if err != nil {
			return fmt.Errorf("server.listen %s: %w", cfg.Server.Listen, err)
		}
	}
	if env.PublicURL == "" {
		env.PublicURL = "http://" + ln.Addr().String()
	}

	var comps []Component
	if o.Build != nil {
		comps, err = o.Build(ctx, env)
		if err != nil {
			ln.Close()
			return err
		}
	}
	if missing := missingParts(cfg); len(missing) > 0 {
		log.Warn().Strs("missing", missing).Msg("the config is missing parts, so no pull request will be diffed yet; see docs/diffgate.example.yaml")
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, len(comps)+1)
	for _, c := range comps {
		wg.Add(1)
		go func(c Component) {
			defer wg.Done()
			cl := log.With().Str(observe.FieldComponent, c.Name()).Logger()
			if err := c.Run(cl.WithContext(runCtx)); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", c.Name(), err)
				stop()
			}
		}(c)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := observe.Serve(runCtx, srv, ln, drain); err != nil {
			errc <- err
			stop()
		}
	}()
	log.Info().Int("components", len(comps)).Str("addr", ln.Addr().String()).Msg("started")
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}

	<-runCtx.Done()
	log.Info().Msg("stopping: draining work in flight")
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drain):
		log.Warn().Dur("timeout", drain).Msg("drain timed out; unacknowledged messages will be redelivered")
	}
	// errc is never closed: a component that outlived the drain may still
	// send, and its buffer holds a send from every goroutine.
	var errs []error
	for collecting := true; collecting; {
		select {
		case err := <-errc:
			errs = append(errs, err)
		default:
			collecting = false
		}
	}
	log.Info().Msg("stopped")
	return errors.Join(errs...)
}

// missingParts says, once at start, what keeps a config from diffing any
// pull request, in the words of the keys to add.
func missingParts(cfg *config.Config) []string {
	var m []string
	if cfg.GitHub == nil && cfg.GitLab == nil {
		m = append(m, "github or gitlab: no App or bot to receive pull requests")
	}
	if len(cfg.DataSources) == 0 {
		m = append(m, "data_sources: no warehouse to diff in")
	}
	if len(cfg.Integrations) == 0 {
		m = append(m, "integrations: no repository is connected")
	}
	return m
}
