package details

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/human"
)

// The views below hold every figure already formatted, so the templates
// only place text: html/template escapes each value once, and the pages
// stay fast with thousands of rows.

type page struct {
	Title   string
	Refresh int // seconds; 0 for none
	Body    any
}

type link struct {
	Text string
	URL  string
}

type fact struct {
	Term  string
	Value string
	Link  string
	Code  bool
}

type runView struct {
	Heading    string
	Conclusion string
	Title      string
	Summary    string
	Facts      []fact
	Outcome    *outcomeView
	Words      report.Words
	Counts     string
	Errors     []modelNote
	KeyIssues  []modelNote
	FailOnPK   bool
	Models     []modelRow
	NotDiffed  []modelNote
	Removed    []string
	Lineage    []lineageRow
	Changes    []reachView
	Exposures  []assetView
	Hightouch  []assetView
	Warnings   []string
	HasLineage bool
	RunID      string
}

type outcomeView struct {
	Heading string
	Lines   []fact
}

type modelNote struct {
	Name string
	URL  string
	Text string
	Hint string
}

type modelRow struct {
	Name, URL      string
	Change         string
	State          string
	StateClass     string
	ProdRows       string
	PRRows         string
	RowsDelta      string
	Added, Removed string
	Changed        string
	Columns        string
	KeyIssues      string
	Schema         string
}

type lineageRow struct {
	Name        string
	URL         string
	Kind        string
	Change      string
	Result      string
	Parents     string
	Children    string
	Tags        string
	Owner       string
	Description string
}

type reachView struct {
	Name  string
	URL   string
	Kind  string
	Reach []link
	More  int
}

type assetView struct {
	Name  string
	URL   string
	Type  string
	Owner string
	Reads string
	Syncs []string
}

const maxReach = 50

func repoName(run events.Run) string {
	r := run.Repository
	if i := strings.Index(r, "/"); i >= 0 {
		return r[i+1:]
	}
	return r
}

func runHeading(r *report.Report) string {
	w := report.WordsFor(r.Run.Provider)
	return fmt.Sprintf("%s %s%d", repoName(r.Run), w.Ref, r.Run.PR)
}

func stateText(m *report.Model, w report.Words) (string, string) {
	switch m.State {
	case report.StateDiffers:
		return "differs", "differs"
	case report.StateUnchanged:
		return "no differences", "same"
	case report.StateNew:
		return "new in this " + w.PR, "new"
	case report.StateNotBuilt:
		return "not built in this " + w.PR, "muted"
	case report.StateError:
		return "error", "error"
	case report.StateMissing:
		return "no result", "error"
	case report.StateSkipped:
		return "not diffed", "muted"
	}
	return string(m.State), ""
}

func dbtRunText(run *events.DBTCloudRun) string {
	s := fmt.Sprintf("run #%d", run.RunID)
	if run.StatusText != "" {
		s += " (" + strings.ToLower(run.StatusText) + ")"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// buildRun turns a report into the run page. modelURL links a model's
// page.
func buildRun(r *report.Report, modelURL func(string) string) *runView {
	w := report.WordsFor(r.Run.Provider)
	v := &runView{
		Heading:    runHeading(r),
		Conclusion: string(r.Conclusion),
		Title:      r.Title,
		Summary:    r.Summary,
		Words:      w,
		FailOnPK:   r.FailOnPrimaryKeyIssues,
		RunID:      r.RunID,
	}
	if r.Run.Title != "" {
		v.Heading += ": " + r.Run.Title
	}
	v.Facts = append(v.Facts, fact{Term: report.UpperFirst(w.PR), Value: fmt.Sprintf("%s %s%d", r.Run.Repository, w.Ref, r.Run.PR), Link: r.Run.URL})
	ref := func(branch, sha string) fact {
		val := events.Short(sha)
		if branch != "" {
			val = branch + " @ " + val
		}
		return fact{Value: val, Link: report.CommitURL(r.Run, sha), Code: true}
	}
	if r.Run.BaseSHA != "" || r.Run.BaseRef != "" {
		f := ref(r.Run.BaseRef, r.Run.BaseSHA)
		f.Term = "Base"
		v.Facts = append(v.Facts, f)
	}
	f := ref(r.Run.HeadRef, r.Run.HeadSHA)
	f.Term = "Head"
	v.Facts = append(v.Facts, f)
	if r.CIRun != nil && r.CIRun.RunID != 0 {
		v.Facts = append(v.Facts, fact{Term: "dbt Cloud CI run", Value: dbtRunText(r.CIRun), Link: r.CIRun.URL})
	}
	if r.ProdRun != nil && r.ProdRun.RunID != 0 {
		val := dbtRunText(r.ProdRun)
		if r.ProdChoice != "" {
			val += ": " + r.ProdChoice
		}
		v.Facts = append(v.Facts, fact{Term: "Production manifest", Value: val, Link: r.ProdRun.URL})
	}
	if r.AccountName != "" {
		v.Facts = append(v.Facts, fact{Term: "dbt Cloud account", Value: r.AccountName})
	}
	if p := r.Plan; p != nil {
		if p.ProjectName != "" {
			val := p.ProjectName
			if p.AdapterType != "" {
				val += " (" + p.AdapterType + ")"
			}
			v.Facts = append(v.Facts, fact{Term: "dbt project", Value: val})
		}
		mode := "every impacted model"
		if p.SlimDiff {
			mode = "Slim Diff: modified models and those asked for"
			if p.DiffAllDownstream {
				mode = "Slim Diff, with every downstream model (label)"
			}
		}
		v.Facts = append(v.Facts, fact{Term: "Diffed", Value: mode})
		v.Warnings = p.Warnings
	}
	if r.Integration != "" {
		v.Facts = append(v.Facts, fact{Term: "Integration", Value: r.Integration, Code: true})
	}
	if s := when(r.StartedAt); s != "" {
		v.Facts = append(v.Facts, fact{Term: "Started", Value: s})
	}
	if s := when(r.FinishedAt); s != "" {
		val := s
		if !r.StartedAt.IsZero() && r.FinishedAt.After(r.StartedAt) {
			val += " (took " + human.Duration(r.FinishedAt.Sub(r.StartedAt)) + ")"
		}
		v.Facts = append(v.Facts, fact{Term: "Finished", Value: val})
	}

	switch r.Outcome {
	case report.OutcomeSkipped:
		o := &outcomeView{Heading: "Skipped"}
		o.Lines = append(o.Lines, fact{Term: "Why", Value: r.Skip.Reason})
		if r.Skip.Hint != "" {
			o.Lines = append(o.Lines, fact{Term: "To run it", Value: r.Skip.Hint})
		}
		v.Outcome = o
	case report.OutcomeCancelled:
		o := &outcomeView{Heading: "Cancelled"}
		msg := r.Summary
		if r.Cancel.By != "" {
			o.Lines = append(o.Lines, fact{Term: "Superseded by", Value: events.Short(r.Cancel.By), Link: report.CommitURL(r.Run, r.Cancel.By), Code: true})
		}
		o.Lines = append(o.Lines, fact{Term: "Why", Value: msg})
		v.Outcome = o
	case report.OutcomeFailed:
		fl := r.Failure
		o := &outcomeView{Heading: "What went wrong"}
		o.Lines = append(o.Lines, fact{Term: "Stage", Value: string(fl.Stage)}, fact{Term: "What happened", Value: fl.Message})
		if fl.Hint != "" {
			o.Lines = append(o.Lines, fact{Term: "What to do", Value: fl.Hint})
		}
		if fl.Link != "" {
			o.Lines = append(o.Lines, fact{Term: "Link", Value: fl.Link, Link: fl.Link})
		}
		v.Outcome = o
	}

	models := r.Models()
	c := r.Count()
	if r.Outcome == report.OutcomeDiffed {
		parts := []string{human.Plural(int64(c.Total), "model", "models")}
		add := func(n int, s string) {
			if n > 0 {
				parts = append(parts, human.Int(int64(n))+" "+s)
			}
		}
		add(c.Differs, "with differences")
		add(c.Unchanged, "unchanged")
		add(c.New, "new")
		add(c.NotBuilt, "not built")
		add(c.Skipped, "not diffed")
		add(c.Errors, "failed")
		v.Counts = strings.Join(parts, " · ")
	}
	for i := range models {
		m := &models[i]
		u := modelURL(m.ID)
		if e := m.Err(); e != nil {
			v.Errors = append(v.Errors, modelNote{Name: m.Name, URL: u, Text: e.Message, Hint: e.Hint})
		}
		if len(m.KeyIssues) > 0 {
			var t []string
			for _, k := range m.KeyIssues {
				t = append(t, k.Text(w))
			}
			note := modelNote{Name: m.Name, URL: u, Text: strings.Join(t, "; ")}
			if m.Planned != nil && m.KeyIssues[0].Kind == report.KeyMissing {
				note.Hint = m.Planned.PrimaryKeyNote
			}
			v.KeyIssues = append(v.KeyIssues, note)
		}
		if m.State == report.StateSkipped {
			reason := ""
			if m.Planned != nil {
				reason = m.Planned.SkipReason
			}
			v.NotDiffed = append(v.NotDiffed, modelNote{Name: m.Name, URL: u, Text: reason})
		}
		v.Models = append(v.Models, buildRow(m, u, w))
	}
	if p := r.Plan; p != nil {
		for _, n := range p.Removed {
			v.Removed = append(v.Removed, n.Name)
		}
		v.Lineage, v.Changes = buildLineage(r, p, modelURL)
		v.HasLineage = len(v.Lineage) > 0
		for _, a := range p.Exposures {
			v.Exposures = append(v.Exposures, assetView{Name: a.Name, URL: a.URL, Type: a.Type, Owner: a.Owner, Reads: names(p, a.Upstream)})
		}
		v.Hightouch = buildHightouch(r)
	}
	return v
}

func buildRow(m *report.Model, u string, w report.Words) modelRow {
	row := modelRow{Name: m.Name, URL: u, Change: string(m.Change())}
	row.State, row.StateClass = stateText(m, w)
	if m.Planned != nil && len(m.Planned.Reasons) > 0 {
		row.Change += ": " + strings.Join(m.Planned.Reasons, ", ")
	}
	res := m.Result()
	if res == nil {
		return row
	}
	switch res.Status {
	case datadiff.StatusNew:
		row.PRRows = human.Int(res.PR.Rows)
		return row
	case datadiff.StatusNotBuilt:
		row.ProdRows = human.Int(res.Prod.Rows)
		return row
	}
	row.ProdRows, row.PRRows = human.Int(res.Prod.Rows), human.Int(res.PR.Rows)
	row.RowsDelta = human.Signed(res.PR.Rows - res.Prod.Rows)
	if c := human.Change(res.Prod.Rows, res.PR.Rows); c != "" && c != "0%" {
		row.RowsDelta += " (" + c + ")"
	}
	row.Added, row.Removed, row.Changed = signedOrZero(res.Added, "+"), signedOrZero(res.Removed, human.Minus), human.Int(res.Changed)
	var cols []string
	cs := worstColumns(res)
	for _, c := range cs {
		if c.Mismatches == 0 || len(cols) == 3 {
			break
		}
		cols = append(cols, c.Name+" "+human.Percent(c.MatchRate))
	}
	if n := countMismatched(cs) - len(cols); n > 0 {
		cols = append(cols, fmt.Sprintf("+%d more", n))
	}
	row.Columns = strings.Join(cols, ", ")
	var ki []string
	for _, k := range m.KeyIssues {
		ki = append(ki, k.Text(w))
	}
	row.KeyIssues = strings.Join(ki, "; ")
	row.Schema = schemaText(res.Schema)
	return row
}

func signedOrZero(n int64, sign string) string {
	if n == 0 {
		return "0"
	}
	return sign + human.Int(n)
}

func countMismatched(cs []datadiff.ColumnStats) int {
	n := 0
	for _, c := range cs {
		if c.Mismatches > 0 {
			n++
		}
	}
	return n
}

// worstColumns sorts a copy of the columns by match rate, worst first,
// then by name.
func worstColumns(res *datadiff.Result) []datadiff.ColumnStats {
	cs := append([]datadiff.ColumnStats(nil), res.Columns...)
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].MatchRate != cs[j].MatchRate {
			return cs[i].MatchRate < cs[j].MatchRate
		}
		return cs[i].Name < cs[j].Name
	})
	return cs
}

func schemaText(s datadiff.SchemaDiff) string {
	if !report.SchemaChanged(s) {
		return "same"
	}
	var p []string
	if n := len(s.Added); n > 0 {
		p = append(p, human.Int(int64(n))+" added")
	}
	if n := len(s.Removed); n > 0 {
		p = append(p, human.Int(int64(n))+" removed")
	}
	if n := len(s.TypeChanged); n > 0 {
		p = append(p, human.Int(int64(n))+" retyped")
	}
	return strings.Join(p, ", ")
}

func names(p *events.Plan, ids []string) string {
	byID := make(map[string]string, len(p.Lineage.Nodes))
	for _, n := range p.Lineage.Nodes {
		byID[n.ID] = n.Name
	}
	var out []string
	for _, id := range ids {
		if n, ok := byID[id]; ok && n != "" {
			out = append(out, n)
		} else {
			out = append(out, id)
		}
	}
	return strings.Join(out, ", ")
}

func kindText(n events.LineageNode) string {
	switch n.ResourceType {
	case "hightouch_model":
		return "Hightouch model"
	case "hightouch_sync":
		return "Hightouch sync"
	}
	k := n.ResourceType
	if n.Materialized != "" {
		k += " (" + n.Materialized + ")"
	}
	return k
}

// buildLineage lists every node of the impacted subgraph with its parents
// and children, and for each modified or new node what it reaches.
func buildLineage(r *report.Report, p *events.Plan, modelURL func(string) string) ([]lineageRow, []reachView) {
	nodes := p.Lineage.Nodes
	byID := make(map[string]*events.LineageNode, len(nodes))
	for i := range nodes {
		byID[nodes[i].ID] = &nodes[i]
	}
	parents := make(map[string][]string)
	children := make(map[string][]string)
	for _, e := range p.Lineage.Edges {
		children[e.From] = append(children[e.From], e.To)
		parents[e.To] = append(parents[e.To], e.From)
	}
	nameOf := func(id string) string {
		if n, ok := byID[id]; ok && n.Name != "" {
			return n.Name
		}
		return id
	}
	join := func(ids []string) string {
		out := make([]string, 0, len(ids))
		for _, id := range ids {
			out = append(out, nameOf(id))
		}
		return strings.Join(out, ", ")
	}
	urlOf := func(id string) string {
		if _, ok := r.Model(id); ok {
			return modelURL(id)
		}
		return ""
	}
	w := report.WordsFor(r.Run.Provider)
	var rows []lineageRow
	var reach []reachView
	for i := range nodes {
		n := &nodes[i]
		row := lineageRow{
			Name: nameOf(n.ID), URL: urlOf(n.ID), Kind: kindText(*n), Change: string(n.Change),
			Parents: join(parents[n.ID]), Children: join(children[n.ID]),
			Tags: strings.Join(n.Tags, ", "), Owner: n.Owner, Description: n.Description,
		}
		if m, ok := r.Model(n.ID); ok {
			row.Result, _ = stateText(&m, w)
		}
		rows = append(rows, row)
		if n.Change != events.ChangeModified && n.Change != events.ChangeNew {
			continue
		}
		rv := reachView{Name: row.Name, URL: row.URL, Kind: row.Kind}
		// Breadth first, so the nearest descendants are listed first when
		// the list is cut.
		seen := map[string]bool{n.ID: true}
		queue := append([]string(nil), children[n.ID]...)
		for _, id := range queue {
			seen[id] = true
		}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			if len(rv.Reach) < maxReach {
				rv.Reach = append(rv.Reach, link{Text: nameOf(id), URL: urlOf(id)})
			} else {
				rv.More++
			}
			for _, c := range children[id] {
				if !seen[c] {
					seen[c] = true
					queue = append(queue, c)
				}
			}
		}
		reach = append(reach, rv)
	}
	return rows, reach
}

func buildHightouch(r *report.Report) []assetView {
	var out []assetView
	for _, h := range r.HightouchModels() {
		var syncs []string
		for _, s := range h.Syncs {
			name := s.Name
			if s.Type != "" {
				name += " → " + s.Type
			}
			syncs = append(syncs, name)
		}
		if len(syncs) == 0 {
			for _, id := range h.SyncIDs {
				syncs = append(syncs, fmt.Sprintf("sync %d", id))
			}
		}
		out = append(out, assetView{Name: h.Name, URL: h.URL, Type: h.Type, Owner: h.Owner,
			Reads: names(r.Plan, h.Upstream), Syncs: syncs})
	}
	return out
}
