package bus_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
)

// BenchmarkPublish measures the webhook path's share: one publish waiting
// for the PubAck, with a fresh message id each time.
func BenchmarkPublish(b *testing.B) {
	bb := bustest.New(b)
	ctx := bustest.Context(b)
	ev := events.PREvent{Version: events.Version, Provider: events.GitHub, Action: "synchronize", Run: testRun(1)}
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := ev
			e.DeliveryID = fmt.Sprintf("bench-%d", n.Add(1))
			if _, err := bb.Publish(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
