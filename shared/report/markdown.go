package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report/human"
)

// StickyMarker is the hidden line that opens every diffgate comment. The
// apps find the PR's comment by it and edit that comment in place. User
// text can never produce it: Text escapes "<".
const StickyMarker = "<!-- diffgate:sticky-comment -->"

// Size limits of the places a rendering goes, in bytes (a safe bound for
// the providers' character limits).
const (
	MaxGitHubComment = 65535     // a GitHub issue comment body
	MaxGitLabNote    = 1_000_000 // a GitLab note body
	MaxCheckSummary  = 65535     // a GitHub check run's output.summary
	// DefaultCommentLimit applies to both flavours: a GitLab note may be
	// far longer, but a comment longer than GitHub's is one nobody reads,
	// so both fold detail into the details page at the same size.
	DefaultCommentLimit = 65535
)

// Flavor is the Markdown dialect of a comment.
type Flavor string

const (
	FlavorGitHub Flavor = "github"
	FlavorGitLab Flavor = "gitlab"
)

// Options tune a rendering.
type Options struct {
	// Flavor defaults to the run's provider.
	Flavor Flavor
	// MaxLen bounds the output in bytes; 0 means DefaultCommentLimit (or
	// MaxCheckSummary for CheckSummary). It is capped at the flavour's
	// own limit.
	MaxLen int
	// ModelURL returns the details page of one model of this run; nil
	// leaves per-model links out. The apps take it from details.Signer.
	ModelURL func(modelID string) string
	// MaxGraphNodes caps the lineage graph; 0 means 40.
	MaxGraphNodes int
}

// Markdown renders the sticky PR comment. It never exceeds the size limit:
// past it, per-model tables become one summary table, then lists are cut
// with a pointer to the details page, and at worst only the headline and
// the link remain.
func Markdown(r *Report, opt Options) string {
	return fit(r, opt, false)
}

// CheckSummary renders the GitHub check run's output.summary: the
// headline figures, errors, key issues and the table of models, without
// the sticky marker, the commit table or the lineage graph (the check run
// shows its own title and head SHA).
func CheckSummary(r *Report, opt Options) string {
	return fit(r, opt, true)
}

// Description is the status line of a GitLab commit status (at most max
// characters, 255 if max is 0): the title, then as much of the summary as
// fits.
func Description(r *Report, max int) string {
	if max <= 0 {
		max = MaxSummary
	}
	s := r.Title
	if r.Summary != "" && r.Summary != r.Title {
		s += ". " + r.Summary
	}
	return Clip(oneLine(s), max)
}

func fit(r *Report, opt Options, check bool) string {
	w := newWriter(r, opt, check)
	limit := w.limit
	// Levels: 0 full, 1 one summary table, 2 cut lists, 3 headline only.
	for level := 0; level <= 1; level++ {
		if check && level == 0 {
			continue
		}
		if s := w.render(level, -1); len(s) <= limit {
			return s
		}
	}
	// Find the largest number of listed items per list that fits.
	lo, hi := 0, w.maxItems()
	best := ""
	for lo <= hi {
		mid := (lo + hi) / 2
		if s := w.render(2, mid); len(s) <= limit {
			best, lo = s, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best != "" {
		return best
	}
	s := w.render(3, 0)
	if len(s) > limit {
		// Only a tiny limit gets here: the marker and the link still
		// come first.
		s = cutBytes(s, limit)
	}
	return s
}

// cutBytes cuts s to at most n bytes at a rune boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

type writer struct {
	r      *Report
	opt    Options
	check  bool
	flavor Flavor
	words  Words
	limit  int
	models []Model
	byID   map[string]*Model
	count  Counts

	level int
	items int // at level 2, how many items each list shows
	b     strings.Builder
}

func newWriter(r *Report, opt Options, check bool) *writer {
	w := &writer{r: r, opt: opt, check: check, flavor: opt.Flavor}
	if w.flavor == "" {
		w.flavor = FlavorGitHub
		if r.Run.Provider == events.GitLab {
			w.flavor = FlavorGitLab
		}
	}
	if w.flavor == FlavorGitLab {
		w.words = WordsFor(events.GitLab)
	} else {
		w.words = WordsFor(events.GitHub)
	}
	w.limit = opt.MaxLen
	if w.limit <= 0 {
		w.limit = DefaultCommentLimit
		if check {
			w.limit = MaxCheckSummary
		}
	}
	ceiling := MaxGitHubComment
	switch {
	case check:
		ceiling = MaxCheckSummary
	case w.flavor == FlavorGitLab:
		ceiling = MaxGitLabNote
	}
	w.limit = min(w.limit, ceiling)
	if w.opt.MaxGraphNodes <= 0 {
		w.opt.MaxGraphNodes = 40
	}
	w.models = r.Models()
	w.byID = make(map[string]*Model, len(w.models))
	for i := range w.models {
		w.byID[w.models[i].ID] = &w.models[i]
	}
	w.count = r.Count()
	return w
}

func (w *writer) maxItems() int {
	n := len(w.models)
	if p := w.r.Plan; p != nil {
		n = max(n, len(p.Exposures), len(p.Hightouch), len(p.Removed))
	}
	return n
}

func (w *writer) render(level, items int) string {
	w.level, w.items = level, items
	w.b.Reset()
	w.header()
	w.outcome()
	if w.r.Outcome == OutcomeDiffed && level < 3 {
		w.errors()
		w.keyIssues()
		w.differing()
		w.others()
		if !w.check {
			w.impact()
		}
	}
	if level == 3 {
		w.para("The full report is too large for a " + w.words.Comment + ".")
	}
	w.footer()
	return strings.TrimRight(w.b.String(), "\n") + "\n"
}

func (w *writer) line(s string)    { w.b.WriteString(s); w.b.WriteByte('\n') }
func (w *writer) para(s string)    { w.line(s); w.b.WriteByte('\n') }
func (w *writer) heading(s string) { w.para("#### " + s) }

// cap limits how many of n items a list shows at the current level.
func (w *writer) cap(n, full int) int {
	if w.level == 2 {
		return min(n, w.items, full)
	}
	if w.level >= 3 {
		return 0
	}
	return min(n, full)
}

// clipText limits a user-supplied message: long ones are cut harder as
// the comment has to shrink.
func (w *writer) clipText(s string) string {
	n := 2000
	if w.level >= 2 {
		n = 300
	}
	return Text(Clip(oneLine(s), n))
}

func (w *writer) code(s string) string { return Code(Clip(s, 200)) }

// prose is clipText for diffgate's own sentences that quote values.
func (w *writer) prose(s string) string {
	n := 2000
	if w.level >= 2 {
		n = 300
	}
	return Prose(Clip(oneLine(s), n))
}

func (w *writer) modelName(m *Model) string {
	name := w.code(m.Name)
	if w.opt.ModelURL != nil {
		if u := w.opt.ModelURL(m.ID); u != "" {
			return link(name, u)
		}
	}
	return name
}

func icon(c events.Conclusion) string {
	switch c {
	case events.ConclusionSuccess:
		return "✅"
	case events.ConclusionFailure:
		return "❌"
	case events.ConclusionCancelled:
		return "🚫"
	}
	return "⏭️"
}

func (w *writer) commitURL(sha string) string { return CommitURL(w.r.Run, sha) }

func (w *writer) header() {
	r := w.r
	if w.check {
		if r.Outcome == OutcomeDiffed {
			w.para(w.prose(r.Summary))
		}
	} else {
		w.line(StickyMarker)
		w.para("### " + icon(r.Conclusion) + " diffgate: " + w.prose(r.Title))
		if r.Summary != "" && r.Outcome == OutcomeDiffed {
			w.para(w.prose(r.Summary))
		}
		w.line("| | Base | " + UpperFirst(w.words.PR) + " |")
		w.line("|---|---|---|")
		if r.Run.BaseRef != "" || r.Run.HeadRef != "" {
			w.line("| Branch | " + orDash(r.Run.BaseRef, w.code) + " | " + orDash(r.Run.HeadRef, w.code) + " |")
		}
		w.line("| Commit | " + w.sha(r.Run.BaseSHA) + " | " + w.sha(r.Run.HeadSHA) + " |")
		w.b.WriteByte('\n')
	}
	var dbt []string
	if r.CIRun != nil && r.CIRun.RunID != 0 {
		dbt = append(dbt, "CI run "+link(fmt.Sprintf("#%d", r.CIRun.RunID), r.CIRun.URL))
	}
	if r.ProdRun != nil && r.ProdRun.RunID != 0 {
		s := "production manifest from run " + link(fmt.Sprintf("#%d", r.ProdRun.RunID), r.ProdRun.URL)
		if r.ProdChoice != "" {
			s += " (" + w.clipText(r.ProdChoice) + ")"
		}
		dbt = append(dbt, s)
	}
	if r.AccountName != "" {
		dbt = append(dbt, "account "+w.clipText(r.AccountName))
	}
	if len(dbt) > 0 {
		w.para("dbt Cloud: " + strings.Join(dbt, " · "))
	}
}

func orDash(s string, f func(string) string) string {
	if s == "" {
		return "—"
	}
	return f(s)
}

func (w *writer) sha(sha string) string {
	if sha == "" {
		return "—"
	}
	return link(Code(events.Short(sha)), w.commitURL(sha))
}

func (w *writer) outcome() {
	r := w.r
	switch r.Outcome {
	case OutcomeSkipped:
		w.para("**Skipped:** " + w.prose(sentence(r.Skip.Reason)))
		if r.Skip.Hint != "" {
			w.para("**To run it:** " + w.prose(sentence(r.Skip.Hint)))
		}
	case OutcomeCancelled:
		msg := r.Summary
		if r.Cancel.Reason == events.CancelSuperseded && r.Cancel.By != "" {
			msg = "Superseded by " + events.Short(r.Cancel.By) + ": its run replaces this one."
		}
		w.para("**Cancelled:** " + w.prose(msg))
	case OutcomeFailed:
		f := r.Failure
		w.para(fmt.Sprintf("**❌ The %s stage failed:** %s", Text(string(f.Stage)), w.prose(sentence(f.Message))))
		if f.Hint != "" {
			w.para("**What to do:** " + w.prose(sentence(f.Hint)))
		}
		if u := SafeURL(f.Link); u != "" {
			w.para(link("Open the failed run", u))
		}
	case OutcomeDiffed:
		c := w.count
		if c.Total == 0 {
			w.para("No dbt model changed in a way that needs a diff.")
			return
		}
		parts := []string{"**" + human.Plural(int64(c.Total), "model", "models") + "**"}
		add := func(n int, s string) {
			if n > 0 {
				parts = append(parts, human.Int(int64(n))+" "+s)
			}
		}
		add(c.Differs, pick(c.Differs == 1, "differs", "differ"))
		add(c.Unchanged, "unchanged")
		add(c.New, "new")
		add(c.NotBuilt, "not built")
		add(c.Skipped, "not diffed")
		add(c.Errors, "failed")
		if !r.StartedAt.IsZero() && r.FinishedAt.After(r.StartedAt) {
			parts = append(parts, "took "+human.Duration(r.FinishedAt.Sub(r.StartedAt)))
		}
		w.para(strings.Join(parts, " · "))
	}
}

func (w *writer) errors() {
	var errs []*Model
	for i := range w.models {
		if m := &w.models[i]; m.State == StateError || m.State == StateMissing {
			errs = append(errs, m)
		}
	}
	if len(errs) == 0 {
		return
	}
	w.heading("❌ Could not diff " + human.Plural(int64(len(errs)), "model", "models"))
	n := w.cap(len(errs), len(errs))
	for _, m := range errs[:n] {
		s := "- " + w.modelName(m)
		if e := m.Err(); e != nil {
			s += ": " + w.prose(sentence(e.Message))
			if e.Hint != "" {
				s += " **What to do:** " + w.prose(sentence(e.Hint))
			}
		}
		w.line(s)
	}
	w.more(len(errs)-n, "model", "models")
	w.b.WriteByte('\n')
}

func (w *writer) more(n int, one, many string) {
	if n <= 0 {
		return
	}
	s := "- … and " + human.Plural(int64(n), "more "+one, "more "+many)
	if u := SafeURL(w.r.DetailsURL); u != "" {
		s += " on the " + link("details page", u)
	}
	w.line(s)
}

func (w *writer) keyIssues() {
	var bad []*Model
	for i := range w.models {
		if len(w.models[i].KeyIssues) > 0 {
			bad = append(bad, &w.models[i])
		}
	}
	if len(bad) == 0 {
		return
	}
	w.heading("⚠️ Primary key issues in " + human.Plural(int64(len(bad)), "model", "models"))
	if w.r.FailOnPrimaryKeyIssues {
		w.para("They fail this check because " + Code("fail_on_primary_key_issues") + " is on.")
	} else {
		w.para("Rows with a NULL or duplicated key are not matched, so the figures below leave them out.")
	}
	n := w.cap(len(bad), len(bad))
	for _, m := range bad[:n] {
		var issues []string
		for _, k := range m.KeyIssues {
			issues = append(issues, k.Text(w.words))
		}
		s := "- " + w.modelName(m)
		if key := modelKey(m); len(key) > 0 {
			s += " (key " + w.codeList(key) + ")"
		}
		s += ": " + Text(strings.Join(issues, "; ")) + "."
		if m.Planned != nil && m.Planned.PrimaryKeyNote != "" && m.KeyIssues[0].Kind == KeyMissing {
			s += " **What to do:** " + w.prose(sentence(m.Planned.PrimaryKeyNote))
		} else if m.KeyIssues[0].Kind == KeyMissing {
			s += " **What to do:** tag the key column " + Code("primary-key") + " (or the integration's primary key tag) in the model's YAML."
		}
		w.line(s)
	}
	w.more(len(bad)-n, "model", "models")
	w.b.WriteByte('\n')
}

func modelKey(m *Model) []string {
	if res := m.Result(); res != nil && len(res.Key) > 0 {
		return res.Key
	}
	if m.Planned != nil {
		return m.Planned.PrimaryKey
	}
	return nil
}

func (w *writer) codeList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = w.code(n)
	}
	return strings.Join(out, ", ")
}

// differing renders the models that differ: modified ones first, the
// downstream ones folded.
func (w *writer) differing() {
	var mod, down []*Model
	for i := range w.models {
		m := &w.models[i]
		if m.State != StateDiffers {
			continue
		}
		if m.Downstream() {
			down = append(down, m)
		} else {
			mod = append(mod, m)
		}
	}
	if len(mod) > 0 {
		w.heading("Models with differences (" + human.Int(int64(len(mod))) + ")")
		w.modelTables(mod)
	}
	if len(down) > 0 {
		w.line("<details><summary>Downstream models with differences (" + human.Int(int64(len(down))) + ")</summary>")
		w.line("")
		w.modelTables(down)
		w.para("</details>")
	}
}

func (w *writer) modelTables(ms []*Model) {
	if w.level == 0 {
		for _, m := range ms {
			w.modelTable(m)
		}
		return
	}
	n := w.cap(len(ms), len(ms))
	if n > 0 {
		w.line("| Model | Rows (prod → " + w.words.Short + ") | Added | Removed | Changed | Columns with differences | Key issues | Schema |")
		w.line("|---|--:|--:|--:|--:|---|---|---|")
		for _, m := range ms[:n] {
			res := m.Result()
			keys := "—"
			if len(m.KeyIssues) > 0 {
				keys = "⚠️ " + Text(keyIssueShort(m.KeyIssues, w.words))
			}
			w.line(fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |",
				w.modelName(m), rowsCell(res), plus(res.Added), minus(res.Removed), human.Int(res.Changed),
				w.columnsCell(res, 2), keys, w.schemaShort(res.Schema, false)))
		}
	}
	if n < len(ms) {
		if n > 0 {
			w.b.WriteByte('\n')
		}
		w.more(len(ms)-n, "model", "models")
	}
	w.b.WriteByte('\n')
}

func plus(n int64) string {
	if n == 0 {
		return "0"
	}
	return "+" + human.Int(n)
}

func minus(n int64) string {
	if n == 0 {
		return "0"
	}
	return human.Minus + human.Int(n)
}

func rowsCell(res *datadiff.Result) string {
	s := human.Compact(res.Prod.Rows) + " → " + human.Compact(res.PR.Rows)
	if c := human.Change(res.Prod.Rows, res.PR.Rows); c != "" && c != "0%" {
		s += " (" + c + ")"
	}
	return s
}

func keyIssueShort(ks []KeyIssue, wd Words) string {
	var p []string
	for _, k := range ks {
		side := "prod"
		if k.Side == SidePR {
			side = wd.Short
		}
		switch k.Kind {
		case KeyNulls:
			p = append(p, side+" "+human.Compact(k.Rows)+" NULL")
		case KeyDuplicate:
			p = append(p, side+" "+human.Compact(k.Rows)+" dup")
		default:
			p = append(p, "no key")
		}
	}
	return strings.Join(p, ", ")
}

// differingColumns are the columns with mismatches, worst first.
func differingColumns(res *datadiff.Result) []datadiff.ColumnStats {
	var cs []datadiff.ColumnStats
	for _, c := range res.Columns {
		if c.Mismatches > 0 {
			cs = append(cs, c)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].MatchRate < cs[j].MatchRate })
	return cs
}

func (w *writer) columnsCell(res *datadiff.Result, show int) string {
	cs := differingColumns(res)
	if len(cs) == 0 {
		return "—"
	}
	var p []string
	for _, c := range cs[:min(show, len(cs))] {
		p = append(p, w.code(c.Name)+" "+human.Percent(c.MatchRate))
	}
	s := strings.Join(p, ", ")
	if len(cs) > show {
		s += fmt.Sprintf(", +%d more", len(cs)-show)
	}
	return s
}

// schemaShort counts column changes: "+1 −2, 1 retyped"; with words, "1
// added, 2 removed, 1 retyped".
func (w *writer) schemaShort(s datadiff.SchemaDiff, words bool) string {
	if !SchemaChanged(s) {
		return "same"
	}
	var p []string
	if n := len(s.Added); n > 0 {
		p = append(p, pick(words, human.Int(int64(n))+" added", "+"+human.Int(int64(n))))
	}
	if n := len(s.Removed); n > 0 {
		p = append(p, pick(words, human.Int(int64(n))+" removed", human.Minus+human.Int(int64(n))))
	}
	counts := strings.Join(p, pick(words, ", ", " "))
	if n := len(s.TypeChanged); n > 0 {
		if counts != "" {
			counts += ", "
		}
		counts += human.Int(int64(n)) + " retyped"
	}
	return counts
}

// modelTable is the full per-model table of level 0.
func (w *writer) modelTable(m *Model) {
	res := m.Result()
	title := "##### " + w.code(m.Name)
	var meta []string
	if m.Planned != nil {
		ch := string(m.Planned.Change)
		if len(m.Planned.Reasons) > 0 {
			ch += ": " + strings.Join(m.Planned.Reasons, ", ")
		}
		meta = append(meta, Text(ch))
	}
	if len(res.Key) > 0 {
		meta = append(meta, "key "+w.codeList(res.Key))
	}
	if w.opt.ModelURL != nil {
		if u := w.opt.ModelURL(m.ID); u != "" {
			meta = append(meta, link("details", u))
		}
	}
	w.para(title)
	if len(meta) > 0 {
		w.para(strings.Join(meta, " · "))
	}
	w.line("| | Production | " + UpperFirst(w.words.PR) + " | Difference |")
	w.line("|---|--:|--:|--:|")
	diff := human.Signed(res.PR.Rows - res.Prod.Rows)
	if c := human.Change(res.Prod.Rows, res.PR.Rows); c != "" && c != "0%" {
		diff += " (" + c + ")"
	}
	w.line(fmt.Sprintf("| Rows | %s | %s | %s |", human.Int(res.Prod.Rows), human.Int(res.PR.Rows), diff))
	w.line(fmt.Sprintf("| Rows added · removed · changed | | | %s · %s · %s |", plus(res.Added), minus(res.Removed), human.Int(res.Changed)))
	w.line(fmt.Sprintf("| Rows with a NULL key | %s | %s | %s |", human.Int(res.Prod.KeyNulls), human.Int(res.PR.KeyNulls), warnIf(res.Prod.KeyNulls+res.PR.KeyNulls > 0)))
	w.line(fmt.Sprintf("| Rows with a duplicate key | %s | %s | %s |", human.Int(res.Prod.DuplicateRows), human.Int(res.PR.DuplicateRows), warnIf(res.Prod.DuplicateRows+res.PR.DuplicateRows > 0)))
	w.line(fmt.Sprintf("| Columns | | | %s |", w.schemaShort(res.Schema, true)))
	w.b.WriteByte('\n')
	if cs := differingColumns(res); len(cs) > 0 {
		w.para("**Columns with differences:** " + w.columnsCell(res, 5))
	}
	if sc := w.schemaLong(res.Schema); sc != "" {
		w.para("**Schema:** " + sc)
	}
}

func warnIf(b bool) string {
	if b {
		return "⚠️"
	}
	return ""
}

func (w *writer) schemaLong(s datadiff.SchemaDiff) string {
	const show = 5
	var p []string
	list := func(verb string, cols []datadiff.Column) {
		if len(cols) == 0 {
			return
		}
		var names []string
		for _, c := range cols[:min(show, len(cols))] {
			names = append(names, w.code(c.Name)+" ("+Text(c.Type)+")")
		}
		s := verb + " " + strings.Join(names, ", ")
		if len(cols) > show {
			s += fmt.Sprintf(" and %d more", len(cols)-show)
		}
		p = append(p, s)
	}
	list("added", s.Added)
	list("removed", s.Removed)
	if len(s.TypeChanged) > 0 {
		var names []string
		for _, c := range s.TypeChanged[:min(show, len(s.TypeChanged))] {
			names = append(names, w.code(c.Name)+" "+Text(c.ProdType)+" → "+Text(c.PRType))
		}
		t := "retyped " + strings.Join(names, ", ")
		if len(s.TypeChanged) > show {
			t += fmt.Sprintf(" and %d more", len(s.TypeChanged)-show)
		}
		p = append(p, t)
	}
	return strings.Join(p, " · ")
}

// others folds the models that need no table into one line each.
func (w *writer) others() {
	group := func(st State) []*Model {
		var out []*Model
		for i := range w.models {
			if w.models[i].State == st {
				out = append(out, &w.models[i])
			}
		}
		return out
	}
	names := func(ms []*Model, full int, extra func(*Model) string) string {
		n := w.cap(len(ms), full)
		var p []string
		for _, m := range ms[:n] {
			s := w.modelName(m)
			if extra != nil {
				if e := extra(m); e != "" {
					s += " (" + e + ")"
				}
			}
			p = append(p, s)
		}
		s := strings.Join(p, ", ")
		if rest := len(ms) - n; rest > 0 {
			if s != "" {
				s += " and "
			}
			s += human.Plural(int64(rest), "more", "more")
		}
		return s
	}
	if ms := group(StateUnchanged); len(ms) > 0 {
		w.para("✅ **No differences** (" + human.Int(int64(len(ms))) + "): " + names(ms, 50, nil))
	}
	if ms := group(StateNew); len(ms) > 0 {
		w.para("🆕 **New in this " + w.words.PR + "** (" + human.Int(int64(len(ms))) + "): " + names(ms, 30, func(m *Model) string {
			res := m.Result()
			s := human.Rows(res.PR.Rows)
			if n := len(res.Columns) + len(res.Schema.Added); n > 0 {
				s += ", " + human.Plural(int64(n), "column", "columns")
			}
			return s
		}))
	}
	if ms := group(StateNotBuilt); len(ms) > 0 {
		w.para("**Not built in this " + w.words.PR + "** (" + human.Int(int64(len(ms))) + "): " + names(ms, 30, nil) +
			". The dbt Cloud CI job deferred " + pick(len(ms) == 1, "it", "them") + " to production, so there is nothing to compare.")
	}
	if ms := group(StateSkipped); len(ms) > 0 {
		w.para("**Not diffed** (" + human.Int(int64(len(ms))) + "): " + names(ms, 30, func(m *Model) string {
			if m.Planned != nil {
				return w.prose(m.Planned.SkipReason)
			}
			return ""
		}))
	}
	if p := w.r.Plan; p != nil && len(p.Removed) > 0 {
		n := w.cap(len(p.Removed), 30)
		var rm []string
		for _, nd := range p.Removed[:n] {
			rm = append(rm, w.code(nd.Name))
		}
		s := strings.Join(rm, ", ")
		if rest := len(p.Removed) - n; rest > 0 {
			if s != "" {
				s += " and "
			}
			s += human.Int(int64(rest)) + " more"
		}
		w.para("**Removed in this " + w.words.PR + "** (" + human.Int(int64(len(p.Removed))) + "): " + s)
	}
}

// impact lists what the change reaches and draws it.
func (w *writer) impact() {
	p := w.r.Plan
	if p == nil {
		return
	}
	var down []*Model
	for i := range w.models {
		if w.models[i].Downstream() {
			down = append(down, &w.models[i])
		}
	}
	hts := w.r.HightouchModels()
	nHT := len(hts)
	if len(down) == 0 && len(p.Exposures) == 0 && nHT == 0 && len(p.Lineage.Nodes) == 0 {
		return
	}
	var sum []string
	if len(down) > 0 {
		sum = append(sum, human.Plural(int64(len(down)), "downstream model", "downstream models"))
	}
	if len(p.Exposures) > 0 {
		sum = append(sum, human.Plural(int64(len(p.Exposures)), "exposure", "exposures"))
	}
	if nHT > 0 {
		sum = append(sum, human.Plural(int64(nHT), "Hightouch model", "Hightouch models"))
	}
	if len(sum) == 0 {
		sum = append(sum, "lineage of the change")
	}
	open := ""
	if len(p.Lineage.Nodes) <= 15 {
		open = " open"
	}
	w.line("<details" + open + "><summary>Impact: " + htmlText(strings.Join(sum, " · ")) + "</summary>")
	w.line("")
	if len(down) > 0 {
		n := w.cap(len(down), 50)
		var names []string
		for _, m := range down[:n] {
			names = append(names, w.modelName(m))
		}
		s := strings.Join(names, ", ")
		if rest := len(down) - n; rest > 0 {
			if s != "" {
				s += " and "
			}
			s += human.Int(int64(rest)) + " more"
		}
		w.para("**Downstream models:** " + s)
	}
	if len(p.Exposures) > 0 {
		n := w.cap(len(p.Exposures), 30)
		w.line("**Exposures:**")
		w.line("")
		for _, a := range p.Exposures[:n] {
			s := "- " + link(w.clipText(a.Name), a.URL)
			var d []string
			if a.Type != "" {
				d = append(d, Text(a.Type))
			}
			if a.Owner != "" {
				d = append(d, "owner "+w.clipText(a.Owner))
			}
			if len(d) > 0 {
				s += " (" + strings.Join(d, ", ") + ")"
			}
			w.line(s)
		}
		w.more(len(p.Exposures)-n, "exposure", "exposures")
		w.line("")
	}
	if nHT > 0 {
		w.line("**Hightouch models and their syncs:**")
		w.line("")
		n := w.cap(len(hts), 30)
		for _, h := range hts[:n] {
			var syncs []string
			for _, s := range h.Syncs {
				name := link(w.clipText(s.Name), s.URL)
				if s.Type != "" {
					name += " → " + Text(s.Type)
				}
				syncs = append(syncs, name)
			}
			if len(syncs) == 0 {
				for _, id := range h.SyncIDs {
					syncs = append(syncs, fmt.Sprintf("sync %d", id))
				}
			}
			s := "- " + link(w.code(h.Name), h.URL)
			if len(syncs) > 0 {
				s += ", syncs: " + strings.Join(syncs, ", ")
			} else {
				s += ", no syncs"
			}
			w.line(s)
		}
		w.more(len(hts)-n, "Hightouch model", "Hightouch models")
		w.line("")
	}
	if w.level < 2 {
		maxNodes := w.opt.MaxGraphNodes
		if w.level == 1 {
			maxNodes = min(maxNodes, 20)
		}
		if g := w.graph(maxNodes); g != "" {
			w.b.WriteString(g)
			w.line("")
		}
	}
	w.para("</details>")
}

func (w *writer) footer() {
	if u := SafeURL(w.r.DetailsURL); u != "" {
		if w.r.Outcome == OutcomeDiffed && len(w.models) > 0 {
			w.para("**" + link("Open the details page", u) + "** for every column's match rate, sampled rows and the SQL that ran.")
		} else {
			w.para("**" + link("Open the details page", u) + "**")
		}
	}
	if w.check {
		return
	}
	var p []string
	if w.r.Integration != "" {
		p = append(p, "integration "+w.code(w.r.Integration))
	}
	p = append(p, "run "+Code(w.r.RunID))
	if w.r.Outcome != OutcomeDiffed && !w.r.StartedAt.IsZero() && w.r.FinishedAt.After(w.r.StartedAt) {
		p = append(p, "took "+human.Duration(w.r.FinishedAt.Sub(w.r.StartedAt)))
	}
	w.line("<sub>diffgate · " + strings.Join(p, " · ") + "</sub>")
}

// CommitURL is the web page of a commit of the run's repository, derived
// from the PR's URL; "" when it cannot be derived.
func CommitURL(run events.Run, sha string) string {
	if run.URL == "" || sha == "" {
		return ""
	}
	u := run.URL
	switch {
	case strings.Contains(u, "/-/merge_requests/"):
		return u[:strings.Index(u, "/-/merge_requests/")] + "/-/commit/" + sha
	case strings.Contains(u, "/pull/"):
		return u[:strings.LastIndex(u, "/pull/")] + "/commit/" + sha
	}
	return ""
}
