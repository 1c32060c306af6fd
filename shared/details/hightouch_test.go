package details

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// The impact stage lists every Hightouch model it reaches among the plan's
// assets, the diffed ones included; the run page names each model once.
func TestADiffedHightouchModelIsListedOnce(t *testing.T) {
	in := reporttest.DiffsWithHightouchAsset(reporttest.GitHubRun())
	s := newSite(t, in, Options{})
	_, body, _ := get(t, s.url(""))
	i := strings.Index(body, `<h2 id="hightouch">`)
	if i < 0 {
		t.Fatalf("the run page has no Hightouch section:\n%s", body)
	}
	section := body[i:]
	if j := strings.Index(section, "</ul>"); j >= 0 {
		section = section[:j]
	}
	if n := strings.Count(section, "<li>"); n != 1 {
		t.Errorf("the Hightouch section lists %d models; want the one:\n%s", n, section)
	}
}
