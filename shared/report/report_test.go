package report_test

import (
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func build(t *testing.T, in report.Input) *report.Report {
	t.Helper()
	r, err := report.Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return r
}

func modelURL(r *report.Report) func(string) string {
	return func(id string) string {
		return "https://diffgate.example.com/details/" + r.RunID + "/models/" + id + "?t=TOKEN"
	}
}

// volatile is text that may change without the rendering changing: none
// of the fixtures' values are volatile today except the run id, a hash
// of the run identity, which changes with events.Run.ID's algorithm.
var volatile = regexp.MustCompile(`\br[0-9a-f]{24}\b`)

func golden(t *testing.T, name, got string) {
	t.Helper()
	got = volatile.ReplaceAllString(got, "r<run-id>")
	reporttest.Golden(t, filepath.Join("testdata", name+".golden"), got, *update)
}

func renderAll(r *report.Report, flavor report.Flavor) string {
	var b strings.Builder
	opt := report.Options{Flavor: flavor, ModelURL: modelURL(r)}
	b.WriteString("== conclusion ==\n" + string(r.Conclusion) + "\n")
	b.WriteString("== title ==\n" + r.Title + "\n")
	b.WriteString("== summary ==\n" + r.Summary + "\n")
	b.WriteString("== description ==\n" + report.Description(r, 0) + "\n")
	b.WriteString("== comment ==\n" + report.Markdown(r, opt))
	b.WriteString("== check summary ==\n" + report.CheckSummary(r, opt))
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     report.Input
		flavor report.Flavor
	}{
		{"clean", reporttest.Clean(), report.FlavorGitHub},
		{"diffs", reporttest.Diffs(reporttest.GitHubRun()), report.FlavorGitHub},
		{"pk_failure", reporttest.PKFailure(), report.FlavorGitHub},
		{"dbt_cloud_failure", reporttest.CIFailure(), report.FlavorGitHub},
		{"skipped", reporttest.Skipped(), report.FlavorGitHub},
		{"cancelled", report.Input{Run: reporttest.GitHubRun(), Integration: "analytics", Cancelled: &events.RunCancelled{
			Run: reporttest.GitHubRun(), Reason: events.CancelSuperseded, By: "0badc0ffee0badc0ffee0badc0ffee0badc0ffee"}}, report.FlavorGitHub},
		{"gitlab_diffs", reporttest.Diffs(reporttest.GitLabRun()), report.FlavorGitLab},
		{"models_500", reporttest.Big(500), report.FlavorGitHub},
		{"hostile", reporttest.Hostile(), report.FlavorGitHub},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, tc.in)
			r.DetailsURL = "https://diffgate.example.com/details/" + r.RunID + "?t=TOKEN"
			golden(t, tc.name, renderAll(r, tc.flavor))
		})
	}
}

func TestMarkdownStaysUnderTheLimit(t *testing.T) {
	r := build(t, reporttest.Big(500))
	r.DetailsURL = "https://diffgate.example.com/details/" + r.RunID + "?t=TOKEN"
	for _, tc := range []struct {
		name  string
		opt   report.Options
		limit int
	}{
		{"github default", report.Options{Flavor: report.FlavorGitHub, ModelURL: modelURL(r)}, report.MaxGitHubComment},
		{"gitlab default", report.Options{Flavor: report.FlavorGitLab, ModelURL: modelURL(r)}, report.DefaultCommentLimit},
		{"gitlab asks for more than GitHub", report.Options{Flavor: report.FlavorGitLab, MaxLen: 200_000}, 200_000},
		{"github cannot exceed its limit", report.Options{Flavor: report.FlavorGitHub, MaxLen: 200_000}, report.MaxGitHubComment},
		{"tight", report.Options{MaxLen: 8_000, ModelURL: modelURL(r)}, 8_000},
		{"tiny", report.Options{MaxLen: 600}, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := report.Markdown(r, tc.opt)
			if len(md) > tc.limit {
				t.Fatalf("comment is %d bytes, over the limit of %d", len(md), tc.limit)
			}
			if !strings.HasPrefix(md, report.StickyMarker+"\n") {
				t.Errorf("comment does not start with the sticky marker: %.80q", md)
			}
			if tc.limit >= 8_000 && !strings.Contains(md, "details page") {
				t.Errorf("a folded comment must point to the details page")
			}
			if !utf8.ValidString(md) {
				t.Errorf("comment is not valid UTF-8")
			}
			if tc.limit >= 8_000 && strings.Count(md, "<details") != strings.Count(md, "</details>") {
				t.Errorf("unbalanced <details> in the folded comment")
			}
			cs := report.CheckSummary(r, tc.opt)
			if len(cs) > min(tc.limit, report.MaxCheckSummary) {
				t.Errorf("check summary is %d bytes, over %d", len(cs), tc.limit)
			}
		})
	}
	// The 500-model comment still names the first models with their
	// figures, and says how many more the details page has.
	md := report.Markdown(r, report.Options{})
	if !strings.Contains(md, "int\\_marketing\\_attribution\\_touchpoints\\_by\\_channel\\_001") {
		t.Errorf("the first models are not listed")
	}
	if !regexp.MustCompile(`… and [0-9,]+ more models on the \[details page\]`).MatchString(md) {
		t.Errorf("the cut is not explained")
	}
}

// A comment whose models' user text is hostile keeps its structure: one
// marker, tables with a constant number of cells, no raw HTML from the
// data.
func TestMarkdownEscapesUserText(t *testing.T) {
	r := build(t, reporttest.Hostile())
	for _, flavor := range []report.Flavor{report.FlavorGitHub, report.FlavorGitLab} {
		md := report.Markdown(r, report.Options{Flavor: flavor, ModelURL: modelURL(r)})
		if n := strings.Count(md, report.StickyMarker); n != 1 {
			t.Errorf("%s: the marker appears %d times, want 1", flavor, n)
		}
		for _, bad := range []string{"<script>", "<b>", "y`z", "**b**", "@team"} {
			if strings.Contains(md, bad) {
				t.Errorf("%s: comment contains raw %q", flavor, bad)
			}
		}
		if !strings.Contains(md, "<code>x\\|y\\`z&lt;script&gt;") {
			t.Errorf("%s: the hostile model name is not shown escaped", flavor)
		}
		prose := regexp.MustCompile("(?s)```mermaid.*?```").ReplaceAllString(md, "")
		if strings.Count(prose, "-->") != 1 {
			t.Errorf("%s: a --> other than the marker's reached the comment", flavor)
		}
		checkTables(t, md)
	}
}

// checkTables fails when a report.Markdown table row has a different number of
// unescaped cell separators than its header.
func checkTables(t *testing.T, md string) {
	t.Helper()
	pipes := func(line string) int {
		n := 0
		for i := 0; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == '|' {
				n++
			}
		}
		return n
	}
	want := -1
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			want = -1
			continue
		}
		n := pipes(line)
		if want < 0 {
			want = n
			continue
		}
		if n != want {
			t.Errorf("table row has %d separators, header has %d: %q", n, want, line)
		}
	}
}

func TestCommitURL(t *testing.T) {
	for _, tc := range []struct {
		run  events.Run
		want string
	}{
		{reporttest.GitHubRun(), "https://github.com/acme/analytics/commit/abc"},
		{reporttest.GitLabRun(), "https://gitlab.com/acme/data/analytics/-/commit/abc"},
		{events.Run{URL: "https://ghe.example.com/acme/analytics/pull/4"}, "https://ghe.example.com/acme/analytics/commit/abc"},
		{events.Run{}, ""},
	} {
		if got := report.CommitURL(tc.run, "abc"); got != tc.want {
			t.Errorf("CommitURL(%q) = %q, want %q", tc.run.URL, got, tc.want)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	r := build(t, reporttest.Diffs(reporttest.GitHubRun()))
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := report.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("round trip changed the report (-want +got):\n%s", diff)
	}
	if _, err := report.Decode([]byte(`{"version": 99, "run_id": "r1"}`)); err == nil {
		t.Errorf("a report from a newer version decoded without error")
	}
	if _, err := report.Decode([]byte(`{"version": 1}`)); err == nil {
		t.Errorf("a report without run_id decoded without error")
	}
}

func TestDescriptionFitsGitLab(t *testing.T) {
	for _, in := range []report.Input{reporttest.Big(500), reporttest.PKFailure(), reporttest.CIFailure(), reporttest.Hostile()} {
		r := build(t, in)
		if d := report.Description(r, 0); utf8.RuneCountInString(d) > 255 {
			t.Errorf("description is %d characters: %q", utf8.RuneCountInString(d), d)
		}
		if n := utf8.RuneCountInString(r.Summary); n > report.MaxSummary {
			t.Errorf("summary is %d characters", n)
		}
	}
}
