package details

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/human"
)

type modelView struct {
	Name        string
	RunURL      string
	RunHeading  string
	Words       report.Words
	State       string
	StateClass  string
	Facts       []fact
	Tags        []string
	Owner       string
	Description string
	Error       *events.Error
	Notice      string // why there are no figures (not built, skipped, ...)
	Caveats     []string
	KeyIssues   []string

	HasResult bool
	Compared  bool // both sides were compared: samples may exist
	Rows      []statRow
	Outcomes  []statRow // rows added, removed, changed, unchanged
	Keys      []statRow
	Columns   []columnRow
	Schema    []schemaRow

	SamplesOff   string // set when samples are off: no row values at all
	SamplesGone  bool   // the full result is no longer stored
	SampleCols   []string
	Changed      []pairView
	ChangedTotal string
	ProdOnly     []template.HTML
	ProdOnlyOf   string
	PROnly       []template.HTML
	PROnlyOf     string

	Queries  []string
	Duration string
}

type statRow struct {
	Label string
	Prod  string
	PR    string
	Diff  string
	Warn  bool
}

type columnRow struct {
	Name       string
	ProdType   string
	PRType     string
	Mismatches string
	MatchRate  string
	Percent    float64 // for the bar, 0..100
	Tolerance  string
	Worse      bool
}

type schemaRow struct {
	Change string
	Name   string
	Detail string
}

type cell struct {
	Text    string
	Null    bool
	Differs bool
}

// pairView is one changed key: the production and PR rows, already
// rendered as table cells (see cellsHTML).
type pairView struct {
	Prod template.HTML
	PR   template.HTML
}

// cellsHTML renders a sampled row as <td> cells. The pages can show tens
// of thousands of cells; writing them here, with every value escaped,
// costs a fraction of a template call per cell.
func cellsHTML(cells []cell) template.HTML {
	var b strings.Builder
	for _, c := range cells {
		switch {
		case c.Differs:
			b.WriteString(`<td class="differs"><mark>`)
		default:
			b.WriteString(`<td>`)
		}
		if c.Null {
			b.WriteString(`<span class="null">NULL</span>`)
		} else {
			template.HTMLEscape(&b, []byte(c.Text))
		}
		if c.Differs {
			b.WriteString(`</mark>`)
		}
		b.WriteString(`</td>`)
	}
	return template.HTML(b.String()) // every value above is escaped
}

// buildModel turns one model of a report, and its full result when there
// is one, into the model page.
func buildModel(r *report.Report, m *report.Model, full *datadiff.Result, fullGone bool, runURL string) *modelView {
	w := report.WordsFor(r.Run.Provider)
	v := &modelView{Name: m.Name, RunURL: runURL, RunHeading: runHeading(r), Words: w}
	v.State, v.StateClass = stateText(m, w)
	v.Error = m.Err()
	v.Facts = append(v.Facts, fact{Term: "Id", Value: m.ID, Code: true})
	if pm := m.Planned; pm != nil {
		if pm.Path != "" {
			v.Facts = append(v.Facts, fact{Term: "File", Value: pm.Path, Code: true})
		}
		kind := pm.ResourceType
		if pm.Materialized != "" {
			kind += " (" + pm.Materialized + ")"
		}
		v.Facts = append(v.Facts, fact{Term: "Kind", Value: kind})
		ch := string(pm.Change)
		if len(pm.Reasons) > 0 {
			ch += ": " + strings.Join(pm.Reasons, ", ")
		}
		v.Facts = append(v.Facts, fact{Term: "In this run because", Value: ch})
		if len(pm.Upstream) > 0 && r.Plan != nil {
			v.Facts = append(v.Facts, fact{Term: "Downstream of", Value: names(r.Plan, pm.Upstream)})
		}
		side := func(term string, rel *events.Relation, q string) {
			switch {
			case rel != nil:
				v.Facts = append(v.Facts, fact{Term: term, Value: rel.String(), Code: true})
			case q != "":
				v.Facts = append(v.Facts, fact{Term: term, Value: "a query (see the SQL below)"})
			}
		}
		side("Production", pm.Prod, pm.ProdQuery)
		side(report.UpperFirst(w.PR), pm.PR, pm.PRQuery)
		if len(pm.PrimaryKey) > 0 {
			val := strings.Join(pm.PrimaryKey, ", ")
			if pm.PrimaryKeyRule != "" {
				val += " (found by " + pm.PrimaryKeyRule + ")"
			}
			v.Facts = append(v.Facts, fact{Term: "Primary key", Value: val})
		} else if pm.PrimaryKeyNote != "" {
			v.Facts = append(v.Facts, fact{Term: "Primary key", Value: "none: " + pm.PrimaryKeyNote})
		}
		o := pm.Options
		if o.Filter != "" {
			v.Facts = append(v.Facts, fact{Term: "Filter", Value: o.Filter, Code: true})
		}
		if len(o.IncludeColumns) > 0 {
			v.Facts = append(v.Facts, fact{Term: "Include columns", Value: strings.Join(o.IncludeColumns, ", ")})
		}
		if len(o.ExcludeColumns) > 0 {
			v.Facts = append(v.Facts, fact{Term: "Exclude columns", Value: strings.Join(o.ExcludeColumns, ", ")})
		}
		if o.TimeColumn != "" {
			v.Facts = append(v.Facts, fact{Term: "Time column", Value: o.TimeColumn})
		}
		v.Tags, v.Owner, v.Description = pm.Tags, pm.Owner, pm.Description
		switch m.State {
		case report.StateSkipped:
			v.Notice = "Not diffed: " + pm.SkipReason
		}
	}
	switch m.State {
	case report.StateNotBuilt:
		v.Notice = "The dbt Cloud CI job did not build this model (it deferred to production), so there is nothing to compare."
	case report.StateMissing:
		v.Notice = "No result was recorded for this model."
	}
	for _, k := range m.KeyIssues {
		v.KeyIssues = append(v.KeyIssues, k.Text(w))
	}

	res := full
	if res == nil {
		res = m.Result()
	}
	if res == nil || res.Status == datadiff.StatusNotBuilt {
		return v
	}
	v.HasResult = true
	v.Compared = res.Status == datadiff.StatusDiffed
	v.Caveats = res.Caveats
	if res.Duration > 0 {
		v.Duration = human.Duration(res.Duration)
	}
	v.Queries = res.Queries

	diff := func(prod, pr int64) string {
		if res.Status != datadiff.StatusDiffed {
			return ""
		}
		s := human.Signed(pr - prod)
		if c := human.Change(prod, pr); c != "" && c != "0%" {
			s += " (" + c + ")"
		}
		return s
	}
	num := func(n int64, show bool) string {
		if !show {
			return "—"
		}
		return human.Int(n)
	}
	hasProd := res.Status != datadiff.StatusNew
	hasPR := res.Status != datadiff.StatusNotBuilt
	v.Rows = []statRow{{Label: "Rows", Prod: num(res.Prod.Rows, hasProd), PR: num(res.PR.Rows, hasPR), Diff: diff(res.Prod.Rows, res.PR.Rows)}}
	if res.Status == datadiff.StatusDiffed {
		v.Outcomes = []statRow{
			{Label: "Added (keys only in the " + w.Short + ")", Diff: signedOrZero(res.Added, "+")},
			{Label: "Removed (keys only in production)", Diff: signedOrZero(res.Removed, human.Minus)},
			{Label: "Changed (a value differs)", Diff: human.Int(res.Changed)},
			{Label: "Unchanged", Diff: human.Int(res.Unchanged)},
		}
		v.Keys = []statRow{
			{Label: "Rows with a NULL key", Prod: human.Int(res.Prod.KeyNulls), PR: human.Int(res.PR.KeyNulls), Warn: res.Prod.KeyNulls+res.PR.KeyNulls > 0},
			{Label: "Rows with a duplicated key", Prod: human.Int(res.Prod.DuplicateRows), PR: human.Int(res.PR.DuplicateRows), Warn: res.Prod.DuplicateRows+res.PR.DuplicateRows > 0},
			{Label: "Distinct keys", Prod: human.Int(res.Prod.DistinctKeys), PR: human.Int(res.PR.DistinctKeys)},
			{Label: "Keys only on this side", Prod: human.Int(res.Prod.ExclusiveKeys), PR: human.Int(res.PR.ExclusiveKeys)},
		}
	}
	for _, c := range worstColumns(res) {
		v.Columns = append(v.Columns, columnRow{
			Name: c.Name, ProdType: c.ProdType, PRType: c.PRType, Mismatches: human.Int(c.Mismatches),
			MatchRate: human.Percent(c.MatchRate), Percent: c.MatchRate * 100, Tolerance: c.Tolerance, Worse: c.Mismatches > 0,
		})
	}
	for _, c := range res.Schema.Added {
		v.Schema = append(v.Schema, schemaRow{Change: "added in the " + w.Short, Name: c.Name, Detail: c.Type})
	}
	for _, c := range res.Schema.Removed {
		v.Schema = append(v.Schema, schemaRow{Change: "removed in the " + w.Short, Name: c.Name, Detail: c.Type})
	}
	for _, c := range res.Schema.TypeChanged {
		d := c.ProdType + " → " + c.PRType
		if c.Compared {
			d += " (values still compared)"
		} else {
			d += " (not compared)"
		}
		v.Schema = append(v.Schema, schemaRow{Change: "type changed", Name: c.Name, Detail: d})
	}
	for _, c := range res.Schema.NotCompared {
		v.Schema = append(v.Schema, schemaRow{Change: "not compared", Name: c.Name, Detail: c.Reason})
	}

	// Samples: none at all unless the result carries them. A result
	// whose samples are off carries none, and nothing else on the page
	// shows a row value.
	switch {
	case res.SamplesOff != "" || (full != nil && full.Samples == nil):
		v.SamplesOff = res.SamplesOff
		if v.SamplesOff == "" {
			v.SamplesOff = "sampling is disabled for this model"
		}
	case full == nil:
		v.SamplesGone = fullGone
		if !fullGone {
			v.SamplesOff = "no samples were stored for this model"
		}
	default:
		buildSamples(v, res, full.Samples)
	}
	return v
}

func buildSamples(v *modelView, res *datadiff.Result, s *datadiff.Samples) {
	v.SampleCols = s.Columns
	idx := make(map[string]int, len(s.Columns))
	for i, c := range s.Columns {
		idx[c] = i
	}
	row := func(r datadiff.Row, differs []bool) []cell {
		out := make([]cell, len(s.Columns))
		for i := range out {
			if i < len(r) && r[i] != nil {
				out[i].Text = *r[i]
			} else {
				out[i].Null = true
			}
			if differs != nil {
				out[i].Differs = differs[i]
			}
		}
		return out
	}
	v.Changed = make([]pairView, 0, len(s.Changed))
	for _, cr := range s.Changed {
		differs := make([]bool, len(s.Columns))
		for _, name := range cr.Differs {
			if i, ok := idx[name]; ok {
				differs[i] = true
			}
		}
		v.Changed = append(v.Changed, pairView{Prod: cellsHTML(row(cr.Prod, differs)), PR: cellsHTML(row(cr.PR, differs))})
	}
	for _, r := range s.ProdOnly {
		v.ProdOnly = append(v.ProdOnly, cellsHTML(row(r, nil)))
	}
	for _, r := range s.PROnly {
		v.PROnly = append(v.PROnly, cellsHTML(row(r, nil)))
	}
	of := func(shown int, total int64) string {
		if int64(shown) >= total {
			return human.Plural(int64(shown), "row", "rows")
		}
		return fmt.Sprintf("%s of %s", human.Int(int64(shown)), human.Plural(total, "row", "rows"))
	}
	v.ChangedTotal = of(len(s.Changed), res.Changed)
	v.ProdOnlyOf = of(len(s.ProdOnly), res.Removed)
	v.PROnlyOf = of(len(s.PROnly), res.Added)
}
