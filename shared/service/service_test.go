package service_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/testenv"
)

// stubborn is a component that does not stop when asked, and fails once
// released.
type stubborn struct {
	release chan struct{}
	named   atomic.Int32
}

func (s *stubborn) Name() string { s.named.Add(1); return "stubborn" }

func (s *stubborn) Run(ctx context.Context) error {
	<-ctx.Done()
	<-s.release
	return errors.New("failed on the way out")
}

// TestRunReturnsAfterTheDrainTimeout: a component that outlives the drain
// does not hold the process, and its failure afterwards (a report with
// nowhere to go) must not bring the process down.
func TestRunReturnsAfterTheDrainTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	comp := &stubborn{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := serviceConfig(t)
	done := make(chan error, 1)
	var logs testenv.Buffer
	go func() {
		done <- service.Run(ctx, service.Options{Name: "test", Config: cfg, Embedded: true, Listener: ln,
			LogOutput: &logs, DrainTimeout: 100 * time.Millisecond,
			Build: func(context.Context, *service.Env) ([]service.Component, error) {
				return []service.Component{comp}, nil
			},
			Ready: func(string) { cancel() }})
	}()
	select {
	case err := <-done:
		// Nothing failed before the drain ended; the process exits 0 and
		// says why it did not wait longer.
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
		if !strings.Contains(logs.String(), "drain timed out; unacknowledged messages will be redelivered") {
			t.Errorf("no drain timeout logged:\n%s", logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its drain timeout")
	}
	close(comp.release)
	// The component's goroutine names it again as it reports the failure.
	deadline := time.Now().Add(10 * time.Second)
	for comp.named.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
	if comp.named.Load() < 2 {
		t.Fatal("the component never reported its failure")
	}
}
