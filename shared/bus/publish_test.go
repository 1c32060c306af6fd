package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// A webhook event names its repository and PR but no run id: the gate
// settles the run, and the bus must not log a provisional id beside it.
func TestWebhookEventCarriesNoRunID(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	ev := events.PREvent{Version: events.Version, Provider: events.GitHub, DeliveryID: "d-1", Action: "opened",
		Run: runRequested(12).Run}
	res, err := b.Publish(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.JetStream().Stream(ctx, b.Name(bus.StreamEvents))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetMsg(ctx, res.Seq)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range []string{events.HeaderRunID, events.HeaderRepo, events.HeaderPR, events.HeaderDeliveryID} {
		got[k] = stored.Header.Get(k)
	}
	want := map[string]string{events.HeaderRunID: "", events.HeaderRepo: "github.com/acme/analytics", events.HeaderPR: "12",
		events.HeaderDeliveryID: "d-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
}

func TestPublishSameMsgIDTwiceStoresOneMessage(t *testing.T) {
	b := bustest.New(t)
	ctx := observe.WithDeliveryID(bustest.Context(t), "gh:72d3162e-cc78-11e3-81ab-4c9367dc0958")
	m := runRequested(12)

	first, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate {
		t.Fatal("first publish reported as a duplicate")
	}
	second, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate {
		t.Error("second publish of the same message id not reported as a duplicate")
	}
	if second.Seq != first.Seq {
		t.Errorf("duplicate points at seq %d, want the original %d", second.Seq, first.Seq)
	}

	st, err := b.JetStream().Stream(ctx, b.Name(bus.StreamPipeline))
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1", info.State.Msgs)
	}

	stored, err := st.GetMsg(ctx, first.Seq)
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{}
	for _, k := range []string{events.HeaderMsgID, events.HeaderRunID, events.HeaderRepo, events.HeaderPR, events.HeaderDeliveryID, events.HeaderVersion} {
		headers[k] = stored.Header.Get(k)
	}
	want := map[string]string{
		events.HeaderMsgID:      m.MsgID(),
		events.HeaderRunID:      m.Run.ID(),
		events.HeaderRepo:       "github.com/acme/analytics",
		events.HeaderPR:         "12",
		events.HeaderDeliveryID: "gh:72d3162e-cc78-11e3-81ab-4c9367dc0958",
		events.HeaderVersion:    "1",
	}
	if diff := cmp.Diff(want, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	var back events.RunRequested
	if err := (&bus.Msg{Subject: stored.Subject, Data: stored.Data}).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, back); diff != "" {
		t.Errorf("stored message (-published +stored):\n%s", diff)
	}
}

func TestPublishWebhookEventCarriesItsDeliveryID(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	ev := events.PREvent{Version: events.Version, Provider: events.GitLab, DeliveryID: "6d2f1a0e-0b7c-4a57-9f0e-3e1c9d7f2a11", Action: "opened", Run: testRun(3)}
	res, err := b.Publish(ctx, ev, bus.WithHeader("Diffgate-Test", "yes"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stream != b.Name(bus.StreamEvents) {
		t.Errorf("stored in %s, want %s", res.Stream, b.Name(bus.StreamEvents))
	}
	st, err := b.JetStream().Stream(ctx, res.Stream)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetMsg(ctx, res.Seq)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{stored.Header.Get(events.HeaderMsgID), stored.Header.Get(events.HeaderDeliveryID), stored.Header.Get("Diffgate-Test")}
	want := []string{"gl:6d2f1a0e-0b7c-4a57-9f0e-3e1c9d7f2a11", "6d2f1a0e-0b7c-4a57-9f0e-3e1c9d7f2a11", "yes"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("msg id, delivery id, extra header (-want +got):\n%s", diff)
	}
}

func TestPublishRefusesIncompleteMessages(t *testing.T) {
	b := bustest.New(t)
	tests := []struct {
		name string
		m    events.Message
		want error
	}{
		{"no event id", events.DBTCloudEvent{Version: events.Version}, bus.ErrNoMsgID},
		{"no delivery id", events.PREvent{Version: events.Version, Provider: events.GitHub}, bus.ErrNoMsgID},
		{"no provider", events.PREvent{Version: events.Version, DeliveryID: "d1"}, bus.ErrBadSubject},
		{"no data source", events.DiffTask{Version: events.Version, Run: testRun(1), ModelID: "model.x.orders"}, bus.ErrBadSubject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Publish(bustest.Context(t), tt.m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPublishFailsWhenNoStreamCapturesTheSubject(t *testing.T) {
	b := bustest.NewBare(t) // no topology
	ctx, cancel := context.WithTimeout(bustest.Context(t), wait)
	defer cancel()
	if _, err := b.Publish(ctx, runRequested(1)); err == nil {
		t.Fatal("publish without a stream succeeded; the message would be lost")
	}
}
