package report_test

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// The impact stage lists every Hightouch model it reaches among the plan's
// assets, the diffed ones included (with the query type and the dbt models
// they read); the comment names each model once.
func TestADiffedHightouchModelIsListedOnce(t *testing.T) {
	in := reporttest.DiffsWithHightouchAsset(reporttest.GitHubRun())
	r := build(t, in)
	md := report.Markdown(r, report.Options{Flavor: report.FlavorGitHub, ModelURL: modelURL(r)})
	if !strings.Contains(md, "· 1 Hightouch model</summary>") {
		t.Errorf("the impact summary does not count one Hightouch model:\n%s", md)
	}
	if n := strings.Count(md, "- <code>Sales accounts</code>"); n != 1 {
		t.Errorf("the Hightouch model is listed %d times; want once:\n%s", n, md)
	}
}
