package bustest_test

import (
	"context"
	"errors"
	"fmt"
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
