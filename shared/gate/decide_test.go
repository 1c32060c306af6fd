package gate

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
)

func integ(mod func(*config.CI)) *config.Integration {
	in := &config.Integration{Name: "analytics", Repository: "github.com/acme/analytics"}
	in.CI.DiffAllDownstreamLabel = config.DefaultDiffAllDownstreamLabel
	if mod != nil {
		mod(&in.CI)
	}
	return in
}

func ev(action string, mod func(*events.PREvent)) events.PREvent {
	e := events.PREvent{Provider: events.GitHub, DeliveryID: "d1", Action: action,
		Run: events.Run{Provider: events.GitHub, Repository: "github.com/acme/analytics", PR: 7, HeadSHA: "abc", BaseRef: "main"}}
	if mod != nil {
		mod(&e)
	}
	return e
}

func TestDecide(t *testing.T) {
	off := false
	tests := map[string]struct {
		in         Input
		verdict    Verdict
		rerun      bool
		needsFiles bool
		reason     string // substring of Reason + Hint
	}{
		"no integration":      {in: Input{Event: ev("opened", nil)}, verdict: Ignore, reason: "no integration"},
		"opened":              {in: Input{Event: ev("opened", nil), Integration: integ(nil)}, verdict: Start},
		"synchronize":         {in: Input{Event: ev("synchronize", nil), Integration: integ(nil)}, verdict: Start},
		"reopened":            {in: Input{Event: ev("reopened", nil), Integration: integ(nil)}, verdict: Start},
		"ready for review":    {in: Input{Event: ev("ready_for_review", nil), Integration: integ(nil)}, verdict: Start},
		"re-run button":       {in: Input{Event: ev("rerun", nil), Integration: integ(nil)}, verdict: Start, rerun: true},
		"edited title":        {in: Input{Event: ev("edited", nil), Integration: integ(nil)}, verdict: Ignore},
		"closed":              {in: Input{Event: ev("closed", nil), Integration: integ(nil)}, verdict: Cancel},
		"gitlab merge":        {in: Input{Event: ev("merge", nil), Integration: integ(nil)}, verdict: Cancel},
		"disabled":            {in: Input{Event: ev("opened", nil), Integration: integ(func(c *config.CI) { c.Enabled = &off })}, verdict: Skip, reason: "disabled"},
		"other base branch":   {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Run.BaseRef = "dev" }), Integration: integ(func(c *config.CI) { c.BaseBranch = "main" })}, verdict: Skip, reason: "only for pull requests into main"},
		"gitlab draft words":  {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Run.Provider, e.Draft = events.GitLab, true }), Integration: integ(nil)}, verdict: Skip, reason: "draft merge request: diffgate runs once it is marked as ready"},
		"gitlab label words":  {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Run.Provider = events.GitLab }), Integration: integ(func(c *config.CI) { c.PRLabel = "diffgate" })}, verdict: Skip, reason: "runs only on merge requests labelled `diffgate`"},
		"gitlab base words":   {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Run.Provider, e.Run.BaseRef = events.GitLab, "dev" }), Integration: integ(func(c *config.CI) { c.BaseBranch = "main" })}, verdict: Skip, reason: "only for merge requests into main"},
		"right base branch":   {in: Input{Event: ev("opened", nil), Integration: integ(func(c *config.CI) { c.BaseBranch = "main" })}, verdict: Start},
		"draft waits":         {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Draft = true }), Integration: integ(nil)}, verdict: Skip, reason: "ready for review"},
		"draft allowed":       {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Draft = true }), Integration: integ(func(c *config.CI) { c.RunOnDraft = true })}, verdict: Start},
		"label missing":       {in: Input{Event: ev("opened", nil), Integration: integ(func(c *config.CI) { c.PRLabel = "diffgate" })}, verdict: Skip, reason: "add the label `diffgate`"},
		"label present":       {in: Input{Event: ev("opened", func(e *events.PREvent) { e.Labels = []string{"Diffgate"} }), Integration: integ(func(c *config.CI) { c.PRLabel = "diffgate" })}, verdict: Start},
		"trigger label added": {in: Input{Event: ev("labeled", func(e *events.PREvent) { e.Label = "diffgate"; e.Labels = []string{"diffgate"} }), Integration: integ(func(c *config.CI) { c.PRLabel = "diffgate" })}, verdict: Start},
		"other label added":   {in: Input{Event: ev("labeled", func(e *events.PREvent) { e.Label = "bug" }), Integration: integ(nil)}, verdict: Ignore},
		"diff-all label":      {in: Input{Event: ev("labeled", func(e *events.PREvent) { e.Label = "diffgate:diff-all-downstream" }), Integration: integ(nil)}, verdict: Start, rerun: true},
		"datafold diff-all":   {in: Input{Event: ev("labeled", func(e *events.PREvent) { e.Label = "datafold:diff-all-downstream" }), Integration: integ(nil)}, verdict: Start, rerun: true},
		"unlabeled":           {in: Input{Event: ev("unlabeled", func(e *events.PREvent) { e.Label = "diffgate" }), Integration: integ(func(c *config.CI) { c.PRLabel = "diffgate" })}, verdict: Ignore},
		"files not fetched":   {in: Input{Event: ev("opened", nil), Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*.md"} })}, verdict: Ignore, needsFiles: true},
		"all files ignored": {
			in:      Input{Event: ev("opened", nil), Files: []string{"README.md", "docs/a.md", "models/x.yml"}, Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*.md", "models/*.yml"} })},
			verdict: Skip, reason: "3 changed files, matched by `*.md` (2), `models/*.yml` (1)",
		},
		"one file not ignored": {
			in:      Input{Event: ev("opened", nil), Files: []string{"README.md", "models/x.sql"}, Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*.md"} })},
			verdict: Start,
		},
		"negation keeps dbt files": {
			in:      Input{Event: ev("opened", nil), Files: []string{"README.md", "dbt/models/orders.sql"}, Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*", "!dbt/*", "dbt/*.md"} })},
			verdict: Start,
		},
		"negation then re-ignore": {
			in:      Input{Event: ev("opened", nil), Files: []string{"README.md", "dbt/README.md"}, Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*", "!dbt/*", "dbt/*.md"} })},
			verdict: Skip, reason: "`*` (1), `dbt/*.md` (1)",
		},
		"no files at all": {
			in:      Input{Event: ev("opened", nil), Files: []string{}, Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*"} })},
			verdict: Start,
		},
		"truncated file list never skips": {
			in:      Input{Event: ev("opened", nil), Files: []string{"a.md"}, FilesTruncated: true, Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*.md"} })},
			verdict: Start,
		},
		"gates before files": {
			in:      Input{Event: ev("opened", func(e *events.PREvent) { e.Draft = true }), Integration: integ(func(c *config.CI) { c.FilesToIgnore = []string{"*.md"} })},
			verdict: Skip, reason: "draft",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := Decide(tc.in)
			if d.Verdict != tc.verdict || d.Rerun != tc.rerun || d.NeedsFiles != tc.needsFiles {
				t.Fatalf("Decide = %+v; want verdict %s rerun %v needsFiles %v", d, tc.verdict, tc.rerun, tc.needsFiles)
			}
			if got := d.Reason + " " + d.Hint; !strings.Contains(got, tc.reason) {
				t.Errorf("reason %q does not contain %q", got, tc.reason)
			}
		})
	}
}
