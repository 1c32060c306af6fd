package details

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// BenchmarkPages renders a run of 500 models and the page of a model with
// 10,000 sampled changed rows (and 1,000 rows only on each side), read
// from a real JetStream object store, as a browser asks for them. The
// target is well under a second per page.
func BenchmarkPages(b *testing.B) {
	in := reporttest.Big(500)
	heavy := in.Results[1].ModelID
	in.Results[1].Result = reporttest.WithSamples(in.Results[1].Result, 10_000, 12)
	lean, full := reporttest.Split(in)
	r := buildReport(b, lean)
	obj := objectStore(b)
	store(b, obj, r, full)
	sig := signer(b)
	now := time.Now()
	h := NewHandler(NewObjectStore(obj), sig, Options{Now: func() time.Time { return now }})

	for _, page := range []struct{ name, model string }{{"run_500_models", ""}, {"model_10000_rows", heavy}} {
		b.Run(page.name, func(b *testing.B) {
			u, _ := url.Parse(sig.URL("http://diffgate.test", r.RunID, page.model, now))
			var size int
			start := time.Now()
			n := 0
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
				n++
			}
			b.ReportMetric(float64(size)/1e6, "MB/page")
			b.Logf("%s: %v per page, %.1f MB of HTML", page.name, time.Since(start)/time.Duration(n), float64(size)/1e6)
		})
	}
}
