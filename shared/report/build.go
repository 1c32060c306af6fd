package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report/human"
)

// MaxSummary bounds Report.Summary: a GitLab commit status description
// takes at most 255 characters.
const MaxSummary = 255

// MaxTitle bounds Report.Title, so it reads as one line in a check run.
const MaxTitle = 120

// Input is what a run produced, gathered by the reporter (or by an app for
// a run a gate skipped). Set at most one of Skip, Failure, DeadLetter and
// Cancelled; with none of them the run is taken as diffed and Plan plus
// Results describe it.
type Input struct {
	Run         events.Run
	Integration string

	// FailOnPrimaryKeyIssues is the integration's
	// ci.fail_on_primary_key_issues.
	FailOnPrimaryKeyIssues bool

	Plan    *events.Plan
	Results []events.DiffResult

	Skip       *Skip
	Failure    *events.RunFailed
	DeadLetter *events.DeadLetter
	Cancelled  *events.RunCancelled

	// AccountName and the dbt Cloud runs, when known before a plan exists
	// (the plan's own values win when it has them).
	AccountName string
	CIRun       *events.DBTCloudRun
	ProdRun     *events.DBTCloudRun

	StartedAt  time.Time
	FinishedAt time.Time
}

// Build turns what a run produced into its report and decides the
// conclusion (see Conclude).
func Build(in Input) (*Report, error) {
	if err := in.Run.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	ends := 0
	for _, set := range []bool{in.Skip != nil, in.Failure != nil, in.DeadLetter != nil, in.Cancelled != nil} {
		if set {
			ends++
		}
	}
	if ends > 1 {
		return nil, fmt.Errorf("%w: a run ends one way: set only one of Skip, Failure, DeadLetter, Cancelled", ErrInvalid)
	}
	r := &Report{
		Version:                Version,
		RunID:                  in.Run.ID(),
		Run:                    in.Run,
		Integration:            in.Integration,
		FailOnPrimaryKeyIssues: in.FailOnPrimaryKeyIssues,
		Plan:                   in.Plan,
		AccountName:            in.AccountName,
		CIRun:                  in.CIRun,
		ProdRun:                in.ProdRun,
		StartedAt:              in.StartedAt,
		FinishedAt:             in.FinishedAt,
	}
	if p := in.Plan; p != nil {
		if p.AccountName != "" {
			r.AccountName = p.AccountName
		}
		if p.CIRun != nil {
			r.CIRun = p.CIRun
		}
		if p.ProdRun != nil {
			r.ProdRun = p.ProdRun
		}
		r.ProdChoice = p.ProdChoice
		if r.Integration == "" {
			r.Integration = p.Integration
		}
	}
	if len(in.Results) > 0 {
		r.Results = make(map[string]*ModelResult, len(in.Results))
		for _, dr := range in.Results {
			if dr.ModelID == "" {
				return nil, fmt.Errorf("%w: a diff result without model_id", ErrInvalid)
			}
			r.Results[dr.ModelID] = &ModelResult{
				ModelID: dr.ModelID, ModelName: dr.ModelName,
				Result: dr.Result, Error: dr.Error, Full: dr.Full, At: dr.At,
			}
		}
	}
	switch {
	case in.Skip != nil:
		s := *in.Skip
		r.Outcome, r.Skip = OutcomeSkipped, &s
	case in.Cancelled != nil:
		r.Outcome = OutcomeCancelled
		r.Cancel = &Cancel{Reason: in.Cancelled.Reason, By: in.Cancelled.By, Message: in.Cancelled.Message}
	case in.Failure != nil:
		f := in.Failure
		r.Outcome = OutcomeFailed
		r.Failure = &Failure{Stage: f.Stage, Code: f.Code, Message: f.Message, Hint: f.Hint, Link: f.Link}
		if f.CIRun != nil {
			r.CIRun = f.CIRun
		}
	case in.DeadLetter != nil:
		r.Outcome = OutcomeFailed
		r.Failure = failureFromDeadLetter(in.DeadLetter)
	default:
		r.Outcome = OutcomeDiffed
		// A planned model whose result never arrived is an error a person
		// must see, not a silent gap in the table.
		if in.Plan != nil {
			for _, pm := range in.Plan.Models {
				if !pm.Diff {
					continue
				}
				if _, ok := r.Results[pm.ID]; ok {
					continue
				}
				if r.Results == nil {
					r.Results = make(map[string]*ModelResult)
				}
				r.Results[pm.ID] = &ModelResult{ModelID: pm.ID, ModelName: pm.Name, Error: &events.Error{
					Code:    "no_result",
					Message: "no diff result was recorded for this model",
					Hint:    "re-run the check; if it happens again, look at the differ's logs for this run",
				}}
			}
		}
	}
	r.Conclusion = Conclude(r)
	r.Title, r.Summary = headline(r)
	return r, nil
}

// failureFromDeadLetter turns a message that exhausted its deliveries into
// the run's failure.
func failureFromDeadLetter(dl *events.DeadLetter) *Failure {
	stage := stageOfSubject(dl.OrigSubject)
	msg := fmt.Sprintf("the %s stage gave up on this run after %s", stage, human.Plural(int64(dl.Deliveries), "attempt", "attempts"))
	if dl.Error != "" {
		msg += ": " + dl.Error
	}
	return &Failure{
		Stage:   stage,
		Code:    events.FailInternal,
		Message: msg,
		Hint:    "re-run the check; if it fails again, an operator can find the message in the dead letter stream (consumer " + dl.Consumer + ")",
	}
}

// stageOfSubject says which stage consumes a subject, for dead letters.
func stageOfSubject(subject string) events.Stage {
	switch {
	case strings.HasPrefix(subject, events.SubjectPREventPrefix):
		return events.StageGate
	case subject == events.SubjectRunRequested, subject == events.SubjectDBTCloudEvent:
		return events.StageCIWait
	case subject == events.SubjectCICompleted:
		return events.StageManifests
	case subject == events.SubjectManifestsResolved:
		return events.StageImpact
	case strings.HasPrefix(subject, events.SubjectDiffTaskPrefix):
		return events.StageDiff
	}
	return events.StageReport
}

// Conclude decides a report's conclusion:
//   - cancelled: superseded by a newer head, the PR closed, or the CI run
//     cancelled;
//   - neutral: a gate skipped the run;
//   - failure: a stage failed (the CI run failed, timed out, ...), any model
//     errored, or — only with FailOnPrimaryKeyIssues — a compared model has
//     NULL or duplicated keys on either side, or a model to diff has no
//     primary key;
//   - success otherwise. Models not built in the PR are not errors.
func Conclude(r *Report) events.Conclusion {
	switch r.Outcome {
	case OutcomeCancelled:
		return events.ConclusionCancelled
	case OutcomeSkipped:
		return events.ConclusionNeutral
	case OutcomeFailed:
		return events.ConclusionFailure
	}
	models := r.Models()
	for i := range models {
		if models[i].State == StateError || models[i].State == StateMissing {
			return events.ConclusionFailure
		}
	}
	if r.FailOnPrimaryKeyIssues {
		for i := range models {
			if len(models[i].KeyIssues) > 0 {
				return events.ConclusionFailure
			}
		}
	}
	return events.ConclusionSuccess
}

// Counts tallies a report's models by state.
type Counts struct {
	Total      int // models in the report
	Compared   int // differs + unchanged
	Differs    int
	Unchanged  int
	New        int
	NotBuilt   int
	Errors     int // error + missing
	Skipped    int
	KeyIssues  int // models with primary key issues
	Downstream int // impacted, not modified
}

// Count tallies the report's models.
func (r *Report) Count() Counts {
	var c Counts
	for _, m := range r.Models() {
		c.Total++
		switch m.State {
		case StateDiffers:
			c.Differs++
			c.Compared++
		case StateUnchanged:
			c.Unchanged++
			c.Compared++
		case StateNew:
			c.New++
		case StateNotBuilt:
			c.NotBuilt++
		case StateError, StateMissing:
			c.Errors++
		case StateSkipped:
			c.Skipped++
		}
		if len(m.KeyIssues) > 0 {
			c.KeyIssues++
		}
		if m.Downstream() {
			c.Downstream++
		}
	}
	return c
}

// headline writes the title and the one-line summary. The title avoids
// the provider's words, so it reads the same on GitHub and GitLab; the
// summary names the pull request or merge request where it speaks of one.
func headline(r *Report) (title, summary string) {
	switch r.Outcome {
	case OutcomeSkipped:
		title = "Skipped"
		if r.Skip.Reason != "" {
			title += ": " + r.Skip.Reason
		}
		// The title says why; the summary says what to do.
		summary = sentence(r.Skip.Hint)
		if summary == "" {
			summary = sentence(r.Skip.Reason)
		}
	case OutcomeCancelled:
		switch r.Cancel.Reason {
		case events.CancelSuperseded:
			title = "Cancelled: superseded"
			if r.Cancel.By != "" {
				title += " by " + events.Short(r.Cancel.By)
			}
			summary = "A newer commit was pushed; its run replaces this one."
		case events.CancelClosed:
			title = "Cancelled: closed"
			summary = "The " + WordsFor(r.Run.Provider).PR + " was closed before the diff finished."
		case events.CancelCI:
			title = "Cancelled: the dbt Cloud CI run was cancelled"
			summary = "The dbt Cloud CI run for this commit was cancelled, so there is nothing to diff."
		default:
			title = "Cancelled"
		}
		if r.Cancel.Message != "" {
			summary = sentence(r.Cancel.Message)
		}
	case OutcomeFailed:
		title, summary = failureHeadline(r)
	default:
		title, summary = diffHeadline(r)
	}
	return Clip(oneLine(title), MaxTitle), Clip(strings.TrimSpace(oneLine(summary)), MaxSummary)
}

func failureHeadline(r *Report) (string, string) {
	f := r.Failure
	var title string
	switch f.Code {
	case events.FailCIError:
		title = "dbt Cloud CI run failed"
		if r.CIRun != nil && r.CIRun.RunID != 0 {
			title = fmt.Sprintf("dbt Cloud CI run #%d failed", r.CIRun.RunID)
		}
	case events.FailCITimeout:
		title = "No dbt Cloud CI run finished in time"
	case events.FailNoManifest, events.FailManifestSize:
		title = "Could not read the dbt manifest"
	case events.FailConfig:
		title = "diffgate is misconfigured for this repository"
	case events.FailDBTCloud:
		title = "The dbt Cloud API failed"
	case events.FailHightouch:
		title = "The Hightouch API failed"
	default:
		title = "Could not finish: the " + string(f.Stage) + " stage failed"
	}
	return title, sentence(f.Message) + " " + sentence(f.Hint)
}

func diffHeadline(r *Report) (string, string) {
	c := r.Count()
	var title string
	switch {
	case c.Total == 0:
		return "No models to diff", "No dbt model changed in a way that needs a diff."
	case c.Errors > 0:
		title = fmt.Sprintf("%s of %s could not be diffed", human.Int(int64(c.Errors)), models(c.Total))
	case r.FailOnPrimaryKeyIssues && c.KeyIssues > 0:
		title = fmt.Sprintf("Primary key issues in %s of %s", human.Int(int64(c.KeyIssues)), models(c.Total))
	case c.Differs > 0:
		title = fmt.Sprintf("%s of %s %s", human.Int(int64(c.Differs)), models(c.Compared), pick(c.Differs == 1, "differs", "differ"))
	case c.Compared > 0:
		title = fmt.Sprintf("No differences in %s", human.Plural(int64(c.Compared), "model", "models"))
	default:
		title = human.Plural(int64(c.Total), "model", "models") + " checked"
	}

	// The summary names the models that differ, most changed rows first,
	// then counts the rest; it is cut to MaxSummary at a model boundary.
	var parts []string
	models := r.Models()
	var differ []*Model
	for i := range models {
		if models[i].State == StateDiffers {
			differ = append(differ, &models[i])
		}
	}
	sort.SliceStable(differ, func(i, j int) bool { return changedRows(differ[i]) > changedRows(differ[j]) })
	var tail []string
	if c.Errors > 0 {
		tail = append(tail, fmt.Sprintf("%s failed", human.Plural(int64(c.Errors), "model", "models")))
	}
	if c.KeyIssues > 0 {
		tail = append(tail, fmt.Sprintf("%s primary key issues", pick(c.KeyIssues == 1, "1 model has", human.Int(int64(c.KeyIssues))+" models have")))
	}
	if c.Unchanged > 0 {
		tail = append(tail, human.Int(int64(c.Unchanged))+" unchanged")
	}
	if c.New > 0 {
		tail = append(tail, human.Int(int64(c.New))+" new")
	}
	if c.NotBuilt > 0 {
		tail = append(tail, human.Int(int64(c.NotBuilt))+" not built")
	}
	if c.Skipped > 0 {
		tail = append(tail, human.Int(int64(c.Skipped))+" not diffed")
	}
	tailText := strings.Join(tail, ", ")
	head := ""
	if len(differ) > 0 {
		head = pick(len(differ) == 1, "Differs: ", "Differ: ")
		budget := MaxSummary - len(tailText) - len(head) - 16
		for i, m := range differ {
			p := m.Name + " (" + shortDiff(m.Result()) + ")"
			if utf8.RuneCountInString(strings.Join(append(parts, p), ", ")) > budget {
				parts = append(parts, fmt.Sprintf("%d more", len(differ)-i))
				break
			}
			parts = append(parts, p)
		}
		head += strings.Join(parts, ", ")
	}
	summary := head
	if tailText != "" {
		if summary != "" {
			summary += "; "
		}
		summary += tailText
	}
	return title, summary + "."
}

func models(n int) string { return human.Plural(int64(n), "model", "models") }

func changedRows(m *Model) int64 {
	res := m.Result()
	if res == nil {
		return 0
	}
	return res.Added + res.Removed + res.Changed
}

// shortDiff is a model's difference in a few words: "+60 −10 rows, 25
// changed, schema", "rows 100 → 90".
func shortDiff(res *datadiff.Result) string {
	var p []string
	var rows []string
	if res.Added > 0 {
		rows = append(rows, "+"+human.Compact(res.Added))
	}
	if res.Removed > 0 {
		rows = append(rows, human.Minus+human.Compact(res.Removed))
	}
	if len(rows) > 0 {
		p = append(p, strings.Join(rows, " ")+" rows")
	}
	if res.Changed > 0 {
		p = append(p, human.Compact(res.Changed)+" changed")
	}
	if len(p) == 0 && res.Prod.Rows != res.PR.Rows {
		p = append(p, "rows "+human.Compact(res.Prod.Rows)+" → "+human.Compact(res.PR.Rows))
	}
	if SchemaChanged(res.Schema) {
		p = append(p, "schema")
	}
	return strings.Join(p, ", ")
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// sentence starts s with a capital (UpperFirst) and ends it with a full
// stop unless it has one.
func sentence(s string) string {
	s = UpperFirst(strings.TrimSpace(s))
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// UpperFirst capitalises the first letter of s, except that of dbt, which
// is always written in lower case: "dbt Cloud run #12 failed".
func UpperFirst(s string) string {
	if s == "dbt" || strings.HasPrefix(s, "dbt ") || strings.HasPrefix(s, "dbt'") {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// oneLine folds whitespace runs (newlines included) into single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Clip cuts s to at most n characters, ending with "…" when cut.
func Clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return strings.TrimSpace(string(rs[:n-1])) + "…"
}
