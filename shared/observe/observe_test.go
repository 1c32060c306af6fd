package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

func TestLogLinesCarryTheRunAndDelivery(t *testing.T) {
	var buf bytes.Buffer
	logger, err := observe.NewLogger(&buf, "debug")
	if err != nil {
		t.Fatal(err)
	}
	run := events.Run{Provider: events.GitHub, Repository: "github.com/acme/analytics", PR: 42, HeadSHA: "0123456789abcdef0123456789abcdef01234567"}
	ctx := logger.WithContext(context.Background())
	ctx = observe.WithDeliveryID(ctx, "gh:5f1e")
	ctx = observe.WithRun(ctx, run)
	// Naming the same run and delivery again (a stage that does not know
	// the bus did) adds nothing: every field once.
	ctx = observe.WithRun(observe.WithDeliveryID(ctx, "gh:5f1e"), run)
	ctx = observe.WithRunFields(ctx, "", run.Repository, run.PR)
	zerolog.Ctx(ctx).Info().Msg("check run created")
	for _, f := range []string{observe.FieldRunID, observe.FieldRepo, observe.FieldPR, observe.FieldDeliveryID} {
		if n := strings.Count(buf.String(), `"`+f+`":`); n != 1 {
			t.Errorf("field %s appears %d times in %s", f, n, buf.String())
		}
	}

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	ts, _ := line["time"].(string)
	if _, err := time.Parse(observe.TimeFormat, ts); err != nil || !strings.HasSuffix(ts, "Z") {
		t.Errorf("time %q is not UTC in %s", ts, observe.TimeFormat)
	}
	delete(line, "time")
	want := map[string]any{
		"level": "info", "message": "check run created",
		"run_id": run.ID(), "repo": "github.com/acme/analytics", "pr": float64(42), "delivery_id": "gh:5f1e",
	}
	if diff := cmp.Diff(want, line); diff != "" {
		t.Errorf("log line (-want +got):\n%s", diff)
	}
	if got := observe.DeliveryID(ctx); got != "gh:5f1e" {
		t.Errorf("DeliveryID = %q", got)
	}
	if got := observe.DeliveryID(context.Background()); got != "" {
		t.Errorf("DeliveryID of a bare context = %q", got)
	}
}

func TestNewLoggerLevels(t *testing.T) {
	tests := []struct {
		level   string
		debugOn bool
		err     bool
	}{
		{"", false, false},
		{"info", false, false},
		{"DEBUG", true, false},
		{"warn", false, false},
		{"verbose", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := observe.NewLogger(&buf, tt.level)
			if tt.err {
				if !errors.Is(err, observe.ErrLogLevel) || !strings.Contains(err.Error(), tt.level) {
					t.Fatalf("err = %v, want ErrLogLevel naming %q", err, tt.level)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Debug().Msg("detail")
			if got := buf.Len() > 0; got != tt.debugOn {
				t.Errorf("debug line written = %v, want %v", got, tt.debugOn)
			}
		})
	}
}

func TestMetricSubject(t *testing.T) {
	tests := map[string]string{
		"diffgate.diff.task.warehouse_eu": "diffgate.diff.task",
		"diffgate.run.status.github":      "diffgate.run.status",
		"diffgate.run.requested":          "diffgate.run.requested",
		"diffgate":                        "diffgate",
	}
	for in, want := range tests {
		if got := observe.MetricSubject(in); got != want {
			t.Errorf("MetricSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMetricsOnAnInjectedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	again := observe.NewMetrics(reg) // a second component of the same process
	m.Observe("diffgate.diff.task.pg", "differ", 1, 20*time.Millisecond, observe.OutcomeOK)
	again.Observe("diffgate.diff.task.duck", "differ", 2, time.Second, observe.OutcomeFailed)
	m.Observe("diffgate.diff.task.pg", "differ", 3, time.Millisecond, observe.OutcomeRetry)
	var nilMetrics *observe.Metrics
	nilMetrics.Observe("x", "y", 1, 0, observe.OutcomeOK) // must not panic

	got := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, l := range mt.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			if c := mt.GetCounter(); c != nil {
				got[key] = c.GetValue()
			} else if h := mt.GetHistogram(); h != nil {
				got[key] = float64(h.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"diffgate_messages_handled_total consumer=differ subject=diffgate.diff.task":     3,
		"diffgate_messages_failed_total consumer=differ subject=diffgate.diff.task":      1,
		"diffgate_messages_redelivered_total consumer=differ subject=diffgate.diff.task": 2,
		"diffgate_handler_duration_seconds consumer=differ subject=diffgate.diff.task":   3,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestHealthEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	observe.NewMetrics(reg).Observe("diffgate.run.requested", "ciwait", 1, time.Millisecond, observe.OutcomeOK)
	h := observe.NewHealth()
	natsDown := errors.New("bus: not connected to NATS (reconnecting)")
	var down atomic.Bool
	h.AddCheck("config", func(context.Context) error { return nil })
	h.AddCheck("nats", func(context.Context) error {
		if down.Load() {
			return natsDown
		}
		return nil
	})
	mux := http.NewServeMux()
	h.Register(mux, reg)

	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- observe.Serve(ctx, &http.Server{Handler: mux}, ln, 5*time.Second) }()
	base := "http://" + ln.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q while every check passes", code, body)
	}
	down.Store(true)
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "nats") || strings.Contains(body, "config") {
		t.Errorf("/readyz = %d %q, want 503 naming the nats check only", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, `diffgate_messages_handled_total{consumer="ciwait",subject="diffgate.run.requested"} 1`) {
		t.Errorf("/metrics = %d, body lacks the handled counter:\n%s", code, body)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func TestServeLetsARequestInFlightFinish(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- observe.Serve(ctx, &http.Server{Handler: mux}, ln, 10*time.Second) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	cancel()
	// Hold the request until the shutdown has begun (the listener is
	// closed), so that it is truly in flight when the server stops.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after its context was cancelled")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("request in flight got %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
