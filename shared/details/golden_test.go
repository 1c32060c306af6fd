package details

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The pages of the sample run, byte for byte. The clock and the secret are
// fixed, so the tokens in the links are too.
func TestGoldenPages(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := newSite(t, reporttest.Diffs(reporttest.GitHubRun()), Options{Now: func() time.Time { return now }})
	s.now = now
	for _, tc := range []struct{ name, model string }{
		{"run", ""},
		{"model_orders", "model.jaffle.orders"},
		{"model_customers", "model.jaffle.customers"},
		{"model_not_built", "model.jaffle.stg_payments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got, _ := get(t, s.url(tc.model))
			reporttest.Golden(t, filepath.Join("testdata", tc.name+".html.golden"), got, *update)
		})
	}
}
