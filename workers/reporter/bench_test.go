package reporter

import (
	"fmt"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// BenchmarkFanIn is one run of n models through two reporter processes on
// the shared server: the plan, then every result as fast as one publisher
// sends them, until the run is reported. It prints results gathered per
// second and the time from the last result to the report.
func BenchmarkFanIn(b *testing.B) {
	for _, n := range []int{20, 500} {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			h := newHarness(b)
			cfg := loadConfig(b, false)
			h.start(cfg, Options{})
			h.start(cfg, Options{})
			var tail time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				big := reporttest.Big(n)
				big.Run.PR = 1000 + i
				in, _ := reporttest.Split(big)
				for j := range in.Results {
					in.Results[j].Run = in.Run
				}
				b.StartTimer()
				h.plan(in)
				for _, dr := range in.Results {
					h.publish(dr)
				}
				last := time.Now()
				h.waitReported(in.Run)
				tail += time.Since(last)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "results/s")
			b.ReportMetric(float64(tail.Milliseconds())/float64(b.N), "ms-last-result-to-report")
		})
	}
}
