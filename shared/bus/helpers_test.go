package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
)

const wait = 15 * time.Second

func testRun(pr int) events.Run {
	return events.Run{
		Provider:   events.GitHub,
		Repository: "github.com/acme/analytics",
		PR:         pr,
		HeadSHA:    fmt.Sprintf("%040x", pr*7919),
		BaseSHA:    fmt.Sprintf("%040x", pr*104729),
	}
}

func runRequested(pr int) events.RunRequested {
	return events.RunRequested{
		Version:     events.Version,
		Run:         testRun(pr),
		Integration: "analytics",
		Trigger:     "opened",
		RequestedAt: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
	}
}

// running is a Consume running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// start runs b.Consume until stop (or the end of the test).
func start(t *testing.T, b *bus.Bus, c bus.Consumer, h bus.Handler) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(bustest.Context(t))
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Consume(ctx, c, h) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop cancels the Consume and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(wait):
		t.Fatal("Consume did not return after its context was cancelled")
		return nil
	}
}

// deliveries records what a handler saw.
type deliveries struct {
	mu   sync.Mutex
	msgs []delivery
}

type delivery struct {
	at           time.Time
	subject      string
	numDelivered uint64
	seq          uint64
	data         []byte
}

func (d *deliveries) add(m *bus.Msg) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, delivery{time.Now(), m.Subject, m.NumDelivered, m.StreamSeq, m.Data})
	return len(d.msgs)
}

func (d *deliveries) all() []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery(nil), d.msgs...)
}

func (d *deliveries) count(n int) func() error {
	return func() error {
		if got := len(d.all()); got < n {
			return fmt.Errorf("%d deliveries, want %d", got, n)
		}
		return nil
	}
}

// deadLetter waits for the dead letter of consumer and decodes it.
func deadLetter(t *testing.T, b *bus.Bus, consumer string) events.DeadLetter {
	t.Helper()
	ctx := bustest.Context(t)
	st, err := b.JetStream().Stream(ctx, b.Name(bus.StreamDeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	var raw *jetstream.RawStreamMsg
	bustest.WaitFor(t, wait, func() error {
		raw, err = st.GetLastMsgForSubject(ctx, b.Subject(events.SubjectDeadLetterPrefix+consumer))
		return err
	})
	m := &bus.Msg{Subject: raw.Subject, Data: raw.Data, Header: raw.Header}
	var dl events.DeadLetter
	if err := m.Decode(&dl); err != nil {
		t.Fatalf("dead letter: %v", err)
	}
	return dl
}

// consumerInfo reads the consumer's state on the server.
func consumerInfo(t *testing.T, b *bus.Bus, stream, name string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx := bustest.Context(t)
	c, err := b.JetStream().Consumer(ctx, b.Name(stream), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

var errTransient = errors.New("warehouse said: too many connections")
