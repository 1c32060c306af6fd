package observe

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Check is one readiness check: nil when the dependency is usable.
type Check func(ctx context.Context) error

// Health serves /healthz, /readyz and /metrics.
type Health struct {
	// Timeout bounds each readiness check; default 2s.
	Timeout time.Duration

	mu     sync.Mutex
	names  []string
	checks map[string]Check
}

// NewHealth returns a Health with no readiness checks (always ready).
func NewHealth() *Health {
	return &Health{checks: map[string]Check{}}
}

// AddCheck adds a named readiness check (e.g. "nats" → bus.Ready). A
// second check with the same name replaces the first.
func (h *Health) AddCheck(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.checks[name]; !ok {
		h.names = append(h.names, name)
	}
	h.checks[name] = c
}

// Register adds the three endpoints to mux. g is what /metrics exposes
// (usually the *prometheus.Registry given to NewMetrics).
func (h *Health) Register(mux *http.ServeMux, g prometheus.Gatherer) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", h.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}

// Ready runs the checks in the order they were added and returns the name
// and error of the first that fails.
func (h *Health) Ready(ctx context.Context) (failed string, err error) {
	h.mu.Lock()
	names := append([]string(nil), h.names...)
	checks := make([]Check, len(names))
	for i, n := range names {
		checks[i] = h.checks[n]
	}
	h.mu.Unlock()

	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	for i, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := c(cctx)
		cancel()
		if err != nil {
			return names[i], err
		}
	}
	return "", nil
}

func (h *Health) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	name, err := h.Ready(r.Context())
	if err != nil {
		zerolog.Ctx(r.Context()).Warn().Err(err).Str("check", name).Msg("not ready")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s: %v\n", name, err)
		return
	}
	fmt.Fprintln(w, "ready")
}
