package bus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

func TestFailedHandlerGetsTheMessageAgainAfterItsBackoff(t *testing.T) {
	tests := []struct {
		name       string
		fail       func() error // the first delivery's outcome
		backoff    time.Duration
		wantFailed float64
	}{
		{"transient error", func() error { return errTransient }, 300 * time.Millisecond, 1},
		{"panic", func() error { panic("nil map") }, 300 * time.Millisecond, 1},
		{"retry requested", func() error { return bus.RetryAfter(400 * time.Millisecond) }, time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			b := bustest.New(t)
			mb := connectWithMetrics(t, b, reg) // the consuming process

			if _, err := b.Publish(bustest.Context(t), runRequested(5)); err != nil {
				t.Fatal(err)
			}
			var got deliveries
			c := bus.Consumer{Name: "retry", Subject: events.SubjectRunRequested, AckWait: time.Minute, Backoff: []time.Duration{tt.backoff}}
			start(t, mb, c, func(ctx context.Context, m *bus.Msg) error {
				if got.add(m) == 1 {
					return tt.fail()
				}
				return nil
			})
			bustest.WaitFor(t, wait, got.count(2))
			d := got.all()
			if d[0].numDelivered != 1 || d[1].numDelivered != 2 || d[0].seq != d[1].seq {
				t.Fatalf("deliveries %+v, want the same message delivered twice", d)
			}
			wantGap := tt.backoff
			if tt.wantFailed == 0 {
				wantGap = 400 * time.Millisecond
			}
			if gap := d[1].at.Sub(d[0].at); gap < wantGap*9/10 {
				t.Errorf("redelivered after %s, before the %s asked for", gap, wantGap)
			}
			bustest.WaitFor(t, wait, func() error {
				if info := consumerInfo(t, mb, bus.StreamPipeline, "retry"); info.NumAckPending != 0 || info.AckFloor.Stream != d[0].seq {
					return errors.New("second delivery not acknowledged yet")
				}
				return nil
			})
			bustest.WaitFor(t, wait, func() error {
				want := map[string]float64{
					"diffgate_messages_handled_total":     2,
					"diffgate_messages_redelivered_total": 1,
					"diffgate_messages_failed_total":      tt.wantFailed,
					"diffgate_handler_duration_seconds":   2,
				}
				if diff := cmp.Diff(want, metricValues(t, reg, "diffgate.run.requested", "retry")); diff != "" {
					return errors.New("metrics (-want +got):\n" + diff)
				}
				return nil
			})
		})
	}
}

// connectWithMetrics is a second connection to b's namespace whose
// consumers report to reg.
func connectWithMetrics(t *testing.T, b *bus.Bus, reg *prometheus.Registry) *bus.Bus {
	t.Helper()
	mb, err := bus.Connect(bustest.Context(t), bus.Options{URL: bustest.URL(), Namespace: b.Namespace(), Metrics: observe.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mb.Close)
	return mb
}

// metricValues reads the counters (and the histogram's count) of one
// subject and consumer.
func metricValues(t *testing.T, reg *prometheus.Registry, subject, consumer string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["subject"] != subject || labels["consumer"] != consumer {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				got[f.GetName()] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}

func TestPoisonMessageIsTerminatedAndDeadLettered(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		wantError string
	}{
		{"not JSON", []byte("\x00\x01 not json"), "decode diffgate.run.requested"},
		{"unknown version", []byte(`{"version":99,"run":{"provider":"github","repository":"github.com/acme/analytics","pr":8,"head_sha":"abc"}}`), "message version 99 is not 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bustest.New(t)
			ctx := bustest.Context(t)
			ack, err := b.JetStream().Publish(ctx, b.Subject(events.SubjectRunRequested), tt.body)
			if err != nil {
				t.Fatal(err)
			}
			var got deliveries
			start(t, b, bus.Consumer{Name: "manifests", Subject: events.SubjectRunRequested}, func(ctx context.Context, m *bus.Msg) error {
				got.add(m)
				var req events.RunRequested
				return m.Decode(&req)
			})

			dl := deadLetter(t, b, "manifests")
			if !strings.Contains(dl.Error, tt.wantError) || !strings.HasPrefix(dl.Error, "poison: ") {
				t.Errorf("dead letter error %q, want a poison error containing %q", dl.Error, tt.wantError)
			}
			body := []byte(dl.Data)
			if json.Valid(tt.body) == (dl.Raw != nil) {
				t.Errorf("body kept in the wrong field: data %q raw %q", dl.Data, dl.Raw)
			}
			if dl.Raw != nil {
				body = dl.Raw
			}
			if !bytes.Equal(body, tt.body) {
				t.Errorf("dead letter body %q, want the original %q", body, tt.body)
			}
			wantDL := events.DeadLetter{Version: 1, Stream: bus.StreamPipeline, Consumer: "manifests", OrigSubject: events.SubjectRunRequested, StreamSeq: ack.Sequence, Deliveries: 1}
			gotDL := dl
			gotDL.Error, gotDL.Data, gotDL.Raw, gotDL.Headers, gotDL.At = "", nil, nil, nil, time.Time{}
			if diff := cmp.Diff(wantDL, gotDL); diff != "" {
				t.Errorf("dead letter (-want +got):\n%s", diff)
			}

			bustest.WaitFor(t, wait, func() error {
				if info := consumerInfo(t, b, bus.StreamPipeline, "manifests"); info.NumAckPending != 0 || info.AckFloor.Stream != ack.Sequence {
					return errors.New("poison message still pending")
				}
				return nil
			})
			if n := len(got.all()); n != 1 {
				t.Errorf("poison message handled %d times, want once", n)
			}
		})
	}
}

// A consumer that waits with RetryAfter (a rate limit, say) counts only
// the deliveries that failed toward MaxFailures: many waits followed by
// one failure must not dead-letter the message.
func TestWaitsDoNotCountAsFailures(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	if _, err := b.Publish(ctx, runRequested(23)); err != nil {
		t.Fatal(err)
	}
	var got deliveries
	c := bus.Consumer{Name: "publish-report-github", Subject: events.SubjectRunRequested, MaxDeliver: -1, MaxFailures: 3,
		Backoff: []time.Duration{20 * time.Millisecond}}
	start(t, b, c, func(ctx context.Context, m *bus.Msg) error {
		// Deliveries 1-5 wait, 6 fails, 7-9 wait, 10 and 11 fail: the
		// third failure is delivery 11.
		switch n := got.add(m); {
		case n <= 5 || (n >= 7 && n <= 9):
			return bus.RetryAfter(10 * time.Millisecond)
		default:
			return errTransient
		}
	})
	dl := deadLetter(t, b, c.Name)
	if n := len(got.all()); n != 11 || dl.Deliveries != 11 {
		t.Errorf("dead-lettered after %d deliveries (dead letter says %d); want 11: 8 waits and 3 failures", n, dl.Deliveries)
	}
}

func TestExhaustedRetriesProduceADeadLetter(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	m := runRequested(21)
	res, err := b.Publish(observe.WithDeliveryID(ctx, "gh:d-21"), m)
	if err != nil {
		t.Fatal(err)
	}
	var got deliveries
	c := bus.Consumer{Name: "ciwait", Subject: events.SubjectRunRequested, MaxDeliver: 3, Backoff: []time.Duration{50 * time.Millisecond}}
	start(t, b, c, func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		return errTransient
	})
	dl := deadLetter(t, b, "ciwait")
	if n := len(got.all()); n != 3 {
		t.Errorf("handled %d times, want MaxDeliver = 3", n)
	}
	if dl.Deliveries != 3 || dl.StreamSeq != res.Seq || dl.Error != errTransient.Error() {
		t.Errorf("dead letter deliveries %d seq %d error %q; want 3, %d, %q", dl.Deliveries, dl.StreamSeq, dl.Error, res.Seq, errTransient)
	}
	var orig events.RunRequested
	if err := json.Unmarshal(dl.Data, &orig); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, orig); diff != "" {
		t.Errorf("dead letter data (-want +got):\n%s", diff)
	}
	if dl.Headers[events.HeaderRunID] != m.Run.ID() || dl.Headers[events.HeaderDeliveryID] != "gh:d-21" {
		t.Errorf("dead letter headers %v lack the run and delivery ids", dl.Headers)
	}
}

func TestUnackedMessageIsRedeliveredToAnotherConsumer(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	res, err := b.Publish(ctx, runRequested(7))
	if err != nil {
		t.Fatal(err)
	}
	c := bus.Consumer{Name: "impact", Subject: events.SubjectRunRequested, AckWait: time.Second}

	// The first process takes the message and dies before acking it.
	doomed := bustest.Another(t, b)
	taken := make(chan struct{})
	var once sync.Once
	first := start(t, doomed, c, func(ctx context.Context, m *bus.Msg) error {
		once.Do(func() { close(taken) })
		<-ctx.Done()
		return ctx.Err()
	})
	select {
	case <-taken:
	case <-time.After(wait):
		t.Fatal("first consumer never got the message")
	}
	doomed.Conn().Close() // no drain, no ack: as if the process was killed

	var got deliveries
	start(t, b, c, func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		return nil
	})
	bustest.WaitFor(t, wait, got.count(1))
	d := got.all()[0]
	if d.seq != res.Seq || d.numDelivered != 2 {
		t.Errorf("second consumer got seq %d delivery %d, want seq %d delivery 2", d.seq, d.numDelivered, res.Seq)
	}
	if err := first.stop(t); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Consume on a closed connection returned %v, want ErrClosed", err)
	}
}

func TestHandlerDeadlineIsTheAckWait(t *testing.T) {
	b := bustest.New(t)
	if _, err := b.Publish(bustest.Context(t), runRequested(9)); err != nil {
		t.Fatal(err)
	}
	const ackWait = 500 * time.Millisecond
	type seen struct {
		received, deadline time.Time
		err                error
	}
	results := make(chan seen, 10)
	start(t, b, bus.Consumer{Name: "deadline", Subject: events.SubjectRunRequested, AckWait: ackWait, Backoff: []time.Duration{time.Hour}}, func(ctx context.Context, m *bus.Msg) error {
		s := seen{received: time.Now()}
		s.deadline, _ = ctx.Deadline()
		<-ctx.Done()
		s.err = ctx.Err()
		results <- s
		return ctx.Err()
	})
	var s seen
	select {
	case s = <-results:
	case <-time.After(wait):
		t.Fatal("handler context never ended")
	}
	if !errors.Is(s.err, context.DeadlineExceeded) {
		t.Errorf("ctx.Err() = %v, want DeadlineExceeded", s.err)
	}
	if s.deadline.IsZero() || s.deadline.After(s.received.Add(ackWait)) {
		t.Errorf("deadline %s after receipt, want within AckWait %s", s.deadline.Sub(s.received), ackWait)
	}
}

func TestInProgressExtendsTheDeadline(t *testing.T) {
	b := bustest.New(t)
	res, err := b.Publish(bustest.Context(t), runRequested(10))
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = 600 * time.Millisecond
	var got deliveries
	errs := make(chan error, 10)
	start(t, b, bus.Consumer{Name: "longwork", Subject: events.SubjectRunRequested, AckWait: ackWait, Concurrency: 2}, func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		began := time.Now()
		// Work for well over AckWait, reporting progress shortly before
		// each deadline.
		for time.Since(began) < 3*ackWait {
			before, _ := ctx.Deadline()
			select {
			case <-ctx.Done():
				errs <- errors.New("handler context ended although InProgress was sent")
				return ctx.Err()
			case <-time.After(time.Until(before) - 150*time.Millisecond):
			}
			if err := m.InProgress(ctx); err != nil {
				errs <- err
				return err
			}
			if after, _ := ctx.Deadline(); !after.After(before) {
				errs <- errors.New("InProgress did not move the deadline")
			}
		}
		errs <- ctx.Err()
		return nil
	})
	workedOnce(t, b, "longwork", res.Seq, &got, errs)
}

// workedOnce waits for the slow handler of consumer to report how its work
// went on errs, then checks that the message seq was acknowledged after
// one delivery: the consumer sequence counts every delivery, so 1 means
// the server never redelivered it while the handler worked.
func workedOnce(t *testing.T, b *bus.Bus, consumer string, seq uint64, got *deliveries, errs <-chan error) {
	t.Helper()
	select {
	case err := <-errs:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("handler did not finish")
	}
	bustest.WaitFor(t, wait, func() error {
		if info := consumerInfo(t, b, bus.StreamPipeline, consumer); info.NumAckPending != 0 || info.AckFloor.Stream != seq {
			return errors.New("not acknowledged yet")
		}
		return nil
	})
	if info := consumerInfo(t, b, bus.StreamPipeline, consumer); info.Delivered.Consumer != 1 || len(got.all()) != 1 {
		t.Errorf("delivered %d times (handler ran %d times), want once", info.Delivered.Consumer, len(got.all()))
	}
}

func TestKeepAliveHoldsTheMessageOfASlowHandler(t *testing.T) {
	b := bustest.New(t)
	res, err := b.Publish(bustest.Context(t), runRequested(12))
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = 600 * time.Millisecond
	var got deliveries
	errs := make(chan error, 10)
	// The handler works for three ack waits without a word about its
	// progress: the wrapper alone must keep the message and the deadline.
	start(t, b, bus.Consumer{Name: "keepalive", Subject: events.SubjectRunRequested, AckWait: ackWait, Concurrency: 2}, bus.KeepAlive(func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		work := time.NewTimer(3 * ackWait)
		defer work.Stop()
		select {
		case <-ctx.Done():
			errs <- fmt.Errorf("the handler's context ended while it worked: %w", ctx.Err())
			return ctx.Err()
		case <-work.C:
		}
		errs <- nil
		return nil
	}))
	workedOnce(t, b, "keepalive", res.Seq, &got, errs)
}

func TestMsgKeepAliveStopsWhenAsked(t *testing.T) {
	b := bustest.New(t)
	if _, err := b.Publish(bustest.Context(t), runRequested(13)); err != nil {
		t.Fatal(err)
	}
	const ackWait = 600 * time.Millisecond
	errs := make(chan error, 1)
	// The heartbeat covers the first step only: the handler's deadline
	// then runs out during the second, as for any handler that is silent
	// for longer than AckWait.
	start(t, b, bus.Consumer{Name: "keepalive-step", Subject: events.SubjectRunRequested, AckWait: ackWait, MaxDeliver: 1}, func(ctx context.Context, m *bus.Msg) error {
		stop := m.KeepAlive(ctx)
		step := time.NewTimer(2 * ackWait)
		select {
		case <-ctx.Done():
			stop()
			step.Stop()
			errs <- fmt.Errorf("the deadline passed during the kept-alive step: %w", ctx.Err())
			return ctx.Err()
		case <-step.C:
		}
		stop()
		deadline := time.NewTimer(2 * ackWait)
		defer deadline.Stop()
		select {
		case <-ctx.Done():
			errs <- nil
		case <-deadline.C:
			errs <- errors.New("the handler's deadline did not pass although the heartbeat was stopped")
		}
		return ctx.Err()
	})
	select {
	case err := <-errs:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("handler did not finish")
	}
}

func TestCancelLetsTheHandlerInFlightFinishAndAck(t *testing.T) {
	b := bustest.New(t)
	res, err := b.Publish(bustest.Context(t), runRequested(11))
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	var finished bool
	var handlerErr error
	r := start(t, b, bus.Consumer{Name: "drain", Subject: events.SubjectRunRequested}, func(ctx context.Context, m *bus.Msg) error {
		close(started)
		<-release
		handlerErr = ctx.Err()
		finished = true
		return nil
	})
	select {
	case <-started:
	case <-time.After(wait):
		t.Fatal("handler never started")
	}
	r.cancel()
	select {
	case <-r.done:
		t.Fatal("Consume returned while a handler was in flight")
	default:
	}
	close(release)
	if err := r.stop(t); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if !finished || handlerErr != nil {
		t.Fatalf("handler finished %v with ctx error %v; want it to finish with a live context", finished, handlerErr)
	}
	// Consume returned after the ack was confirmed by the server.
	if info := consumerInfo(t, b, bus.StreamPipeline, "drain"); info.NumAckPending != 0 || info.AckFloor.Stream != res.Seq {
		t.Errorf("after drain: %d pending, ack floor %d; want 0 and %d", info.NumAckPending, info.AckFloor.Stream, res.Seq)
	}
}

func TestMaxDeliveriesAdvisoryYieldsADeadLetter(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	m := runRequested(13)
	res, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	c := bus.Consumer{Name: "crashy", Subject: events.SubjectRunRequested, AckWait: time.Second, MaxDeliver: 2}

	// Two processes in turn take the message and die with it.
	for i := 1; i <= 2; i++ {
		p := bustest.Another(t, b)
		taken := make(chan uint64, 1)
		start(t, p, c, func(ctx context.Context, m *bus.Msg) error {
			taken <- m.NumDelivered
			<-ctx.Done()
			return ctx.Err()
		})
		select {
		case n := <-taken:
			if n != uint64(i) {
				t.Fatalf("process %d got delivery %d", i, n)
			}
		case <-time.After(wait):
			t.Fatalf("process %d never got the message", i)
		}
		p.Conn().Close()
	}

	// A healthy process: the server gives up on the message and says so;
	// the message must become a dead letter, not a third delivery.
	var got deliveries
	start(t, b, c, func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		return nil
	})
	dl := deadLetter(t, b, "crashy")
	if dl.StreamSeq != res.Seq || dl.Deliveries != 2 || dl.OrigSubject != events.SubjectRunRequested || dl.Stream != bus.StreamPipeline {
		t.Errorf("dead letter %+v", dl)
	}
	if !strings.Contains(dl.Error, "no handler finished in 2 deliveries") {
		t.Errorf("dead letter error %q", dl.Error)
	}
	var orig events.RunRequested
	if err := json.Unmarshal(dl.Data, &orig); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, orig); diff != "" {
		t.Errorf("dead letter data (-want +got):\n%s", diff)
	}
	if dl.Headers[events.HeaderRunID] != m.Run.ID() {
		t.Errorf("dead letter headers %v lack the run id", dl.Headers)
	}
	if n := len(got.all()); n != 0 {
		t.Errorf("message delivered again after MaxDeliver")
	}
}

func TestHandlerLogsCarryTheRunAndDelivery(t *testing.T) {
	b := bustest.New(t)
	m := runRequested(14)
	if _, err := b.Publish(observe.WithDeliveryID(bustest.Context(t), "gh:abc-14"), m); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	logger := zerolog.New(zerolog.SyncWriter(lockedWriter{&mu, &buf}))
	ctx, cancel := context.WithCancel(logger.WithContext(context.Background()))
	defer cancel()
	forwarded := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, bus.Consumer{Name: "logs", Subject: events.SubjectRunRequested}, func(ctx context.Context, msg *bus.Msg) error {
			// A stage naming the run and delivery it decoded adds no
			// second copy of what the headers put there.
			ctx = observe.WithRun(observe.WithDeliveryID(ctx, "gh:abc-14"), m.Run)
			zerolog.Ctx(ctx).Info().Msg("working on it")
			// What this stage publishes carries the delivery id on.
			_, err := b.Publish(ctx, events.RunCancelled{Version: events.Version, Run: m.Run, Reason: events.CancelClosed})
			forwarded <- err
			return nil
		})
	}()
	select {
	case err := <-forwarded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("handler never ran")
	}
	cancel()
	<-done

	mu.Lock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	mu.Unlock()
	var line map[string]any
	var raw string
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err == nil && v["message"] == "working on it" {
			line, raw = v, l
		}
	}
	if line == nil {
		t.Fatalf("handler's line not found in:\n%s", strings.Join(lines, "\n"))
	}
	for _, f := range []string{observe.FieldRunID, observe.FieldRepo, observe.FieldPR, observe.FieldDeliveryID} {
		if n := strings.Count(raw, `"`+f+`":`); n != 1 {
			t.Errorf("field %s appears %d times in %s", f, n, raw)
		}
	}
	want := map[string]any{
		"run_id": m.Run.ID(), "repo": "github.com/acme/analytics", "pr": float64(14),
		"delivery_id": "gh:abc-14", "subject": events.SubjectRunRequested, "consumer": "logs",
		"stream": bus.StreamPipeline, "deliveries": float64(1),
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log field %s = %v, want %v", k, line[k], v)
		}
	}

	st, err := b.JetStream().Stream(bustest.Context(t), b.Name(bus.StreamPipeline))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := st.GetLastMsgForSubject(bustest.Context(t), b.Subject(events.SubjectRunCancelled))
	if err != nil {
		t.Fatal(err)
	}
	if got := cancelled.Header.Get(events.HeaderDeliveryID); got != "gh:abc-14" {
		t.Errorf("forwarded message delivery id %q, want gh:abc-14", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestConsumerSettingsChangeOnRestart(t *testing.T) {
	b := bustest.New(t)
	h := func(context.Context, *bus.Msg) error { return nil }
	c := bus.Consumer{Name: "resized", Subject: events.SubjectDiffTaskPrefix + "warehouse", MaxAckPending: 8, AckWait: 10 * time.Second}
	r := start(t, b, c, h)
	bustest.WaitFor(t, wait, func() error {
		_, err := b.JetStream().Consumer(bustest.Context(t), b.Name(bus.StreamPipeline), "resized")
		return err
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	c.MaxAckPending, c.AckWait = 2, 20*time.Second
	start(t, b, c, h)
	bustest.WaitFor(t, wait, func() error {
		info := consumerInfo(t, b, bus.StreamPipeline, "resized")
		if info.Config.MaxAckPending != 2 || info.Config.AckWait != 20*time.Second {
			return errors.New("consumer settings not updated")
		}
		return nil
	})
}

// A process that stops consuming while its connection stays open (a
// component stopped inside a larger process) must not swallow a message
// the server hands to its last pull request: the drain handles it, once,
// or another process gets it, long before its AckWait would run out.
func TestStoppedConsumerHandlesWhatArrivesLate(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	c := bus.Consumer{Name: "manifests", Subject: events.SubjectRunRequested, AckWait: time.Minute}

	idle := bustest.Another(t, b)
	var early deliveries
	first := start(t, idle, c, func(ctx context.Context, m *bus.Msg) error {
		early.add(m)
		return nil
	})
	// Wait until the consumer has a pull request waiting on the server.
	bustest.WaitFor(t, wait, func() error {
		cons, err := b.JetStream().Consumer(ctx, b.Name(bus.StreamPipeline), c.Name)
		if err != nil {
			return err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumWaiting == 0 {
			return fmt.Errorf("no pull request waiting yet")
		}
		return nil
	})
	// Publish while the stopping consumer's pull request may still be
	// open on the server.
	first.cancel()
	if _, err := b.Publish(ctx, runRequested(11)); err != nil {
		t.Fatal(err)
	}
	if err := first.stop(t); err != nil {
		t.Fatalf("Consume returned %v", err)
	}

	var got deliveries
	start(t, b, c, func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		return nil
	})
	// Well inside the minute of AckWait: the message was not left hanging.
	bustest.WaitFor(t, 15*time.Second, func() error {
		if len(early.all())+len(got.all()) == 0 {
			return fmt.Errorf("nobody has the message")
		}
		return nil
	})
	all := append(early.all(), got.all()...)
	if len(all) != 1 || all[0].numDelivered != 1 {
		t.Errorf("message handled %d times (deliveries %v), want once, first delivery", len(all), all)
	}
}
