package bustest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
)

// A killed test run leaves its namespace behind; the next run removes it,
// and every test's own namespace is gone after the test.
func TestNamespacesAreCleanedUp(t *testing.T) {
	ctx := bustest.Context(t)
	plain, err := bus.Connect(ctx, bus.Options{URL: bustest.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	js := plain.JetStream()
	stale := fmt.Sprintf("t%dx00ff", time.Now().Add(-3*time.Hour).Unix())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stale + "_LEFTOVER", Subjects: []string{stale + ".>"}}); err != nil {
		t.Fatal(err)
	}

	var ns string
	t.Run("test", func(t *testing.T) {
		b := bustest.New(t)
		ns = b.Namespace()
		if _, err := b.Publish(bustest.Context(t), events.RunCancelled{Version: events.Version, Run: events.Run{Provider: events.GitHub, Repository: "github.com/a/b", PR: 1, HeadSHA: "abc"}, Reason: events.CancelClosed}); err != nil {
			t.Fatal(err)
		}
	})

	if _, err := js.Stream(ctx, stale+"_LEFTOVER"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("stale namespace's stream still there (%v)", err)
	}
	for _, name := range []string{ns + "_" + bus.StreamPipeline, "KV_" + ns + "_" + events.BucketPRs, "OBJ_" + ns + "_" + events.ObjectStore} {
		if _, err := js.Stream(context.Background(), name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("%s still there after the test (%v)", name, err)
		}
	}
}

const wait = 15 * time.Second

func TestStoredReadsOneSubjectOldestFirst(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	run := func(pr int) events.Run {
		return events.Run{Provider: events.GitHub, Repository: "github.com/a/b", PR: pr, HeadSHA: fmt.Sprintf("%040d", pr)}
	}
	for pr := 1; pr <= 3; pr++ {
		if _, err := b.Publish(ctx, events.RunCancelled{Version: events.Version, Run: run(pr), Reason: events.CancelClosed}); err != nil {
			t.Fatal(err)
		}
		// Another subject of the same stream is not read.
		if _, err := b.Publish(ctx, events.RunFailed{Version: events.Version, Run: run(pr), Code: events.FailConfig}); err != nil {
			t.Fatal(err)
		}
	}
	got := bustest.Stored[events.RunCancelled](t, b, events.SubjectRunCancelled)
	if len(got) != 3 || got[0].Run.PR != 1 || got[1].Run.PR != 2 || got[2].Run.PR != 3 {
		t.Errorf("Stored = %+v, want the three cancellations in order", got)
	}
	if got := bustest.Stored[events.RunRequested](t, b, events.SubjectRunRequested); len(got) != 0 {
		t.Errorf("Stored of an empty subject = %+v", got)
	}
}

func TestIdleSaysWhatAConsumerHolds(t *testing.T) {
	b := bustest.New(t)
	ctx, cancel := context.WithCancel(bustest.Context(t))
	if _, err := b.Publish(ctx, events.RunCancelled{Version: events.Version, Run: events.Run{Provider: events.GitHub, Repository: "github.com/a/b", PR: 1, HeadSHA: "abc"}, Reason: events.CancelClosed}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(ctx, bus.Consumer{Name: "idle", Subject: events.SubjectRunCancelled}, func(context.Context, *bus.Msg) error {
			<-release
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	// While the handler holds the message, Idle says so.
	bustest.WaitFor(t, wait, func() error {
		if err := bustest.Idle(t, b, bus.StreamPipeline, "idle"); err == nil || !strings.Contains(err.Error(), "idle still holds 1 messages") {
			return fmt.Errorf("Idle = %v while the handler holds the message", err)
		}
		return nil
	})
	close(release)
	bustest.WaitFor(t, wait, func() error { return bustest.Idle(t, b, bus.StreamPipeline, "idle") })
}
