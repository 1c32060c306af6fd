package gitlab_test

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
)

// BenchmarkHookIntake measures the webhook path alone: token check,
// normalisation, JetStream PubAck, answer, with 8 senders at once. It
// prints deliveries per second and the 99th percentile answer time.
func BenchmarkHookIntake(b *testing.B) {
	h := newBot(b, nil)
	body := h.mr("update", headB, func(e *gitlabtest.MergeRequestEvent) { e.OldRev = headA }).Payload()
	took := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				sent := time.Now()
				code, _, err := h.hook.Send(h.ctx, gitlabtest.Delivery{Event: gitlabtest.MergeRequestHook, Body: body,
					IdempotencyKey: "bench-" + strconv.Itoa(i)})
				took[i] = time.Since(sent)
				if err != nil || code != http.StatusOK {
					b.Errorf("delivery %d: %d %v", i, code, err)
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(began)
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "deliveries/s")
	b.ReportMetric(float64(took[b.N*99/100].Microseconds())/1000, "p99-ms")
}
