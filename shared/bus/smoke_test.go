package bus_test

import (
	"context"
	"testing"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
)

func TestSmoke(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	if _, err := b.Publish(ctx, runRequested(1)); err != nil {
		t.Fatal(err)
	}
	var got deliveries
	start(t, b, bus.Consumer{Name: "smoke", Subject: events.SubjectRunRequested}, func(ctx context.Context, m *bus.Msg) error {
		got.add(m)
		return nil
	})
	bustest.WaitFor(t, wait, got.count(1))
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}
