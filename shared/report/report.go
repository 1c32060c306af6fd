// Package report is the end of every run: the report model that the
// reporter stores in the object store, the rules that decide a run's
// conclusion, and the renderings people read — the sticky pull request
// comment (GitHub and GitLab Markdown), the check run summary and the short
// status description. The details pages (shared/details) render the same
// model as HTML.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report/human"
)

// Version of the stored report. Adding a field does not bump it.
const Version = 1

// ErrInvalid is returned for a report or an input that cannot be used.
var ErrInvalid = errors.New("report: invalid")

// ErrVersion is returned by Decode for a report written by a newer
// diffgate.
var ErrVersion = errors.New("report: unknown version")

// Outcome is how a run ended, before it is reduced to a conclusion.
type Outcome string

const (
	OutcomeDiffed    Outcome = "diffed"    // the pipeline ran to the end
	OutcomeSkipped   Outcome = "skipped"   // a gate decided not to run
	OutcomeFailed    Outcome = "failed"    // a stage failed for good
	OutcomeCancelled Outcome = "cancelled" // superseded, closed, CI cancelled
)

// Report is everything a person can learn about one run. Its JSON form is
// stored under events.ReportObject(RunID) and read back by the apps and the
// details pages, so field names are stable.
type Report struct {
	Version     int        `json:"version"`
	RunID       string     `json:"run_id"`
	Run         events.Run `json:"run"`
	Integration string     `json:"integration,omitempty"`

	Outcome    Outcome           `json:"outcome"`
	Conclusion events.Conclusion `json:"conclusion"`
	// Title is one short line (a check run title); Summary one sentence or
	// two, at most MaxSummary characters (a GitLab status description).
	Title   string `json:"title"`
	Summary string `json:"summary"`

	// FailOnPrimaryKeyIssues is the integration setting the conclusion
	// was decided with.
	FailOnPrimaryKeyIssues bool `json:"fail_on_primary_key_issues"`

	Skip    *Skip    `json:"skip,omitempty"`    // OutcomeSkipped
	Failure *Failure `json:"failure,omitempty"` // OutcomeFailed
	Cancel  *Cancel  `json:"cancel,omitempty"`  // OutcomeCancelled

	// Plan is what impact analysis decided; nil when the run ended before
	// it (skipped, CI failed, cancelled while waiting).
	Plan *events.Plan `json:"plan,omitempty"`
	// Results are the per-model outcomes, keyed by model id.
	Results map[string]*ModelResult `json:"results,omitempty"`

	AccountName string              `json:"account_name,omitempty"` // dbt Cloud account
	CIRun       *events.DBTCloudRun `json:"ci_run,omitempty"`
	ProdRun     *events.DBTCloudRun `json:"prod_run,omitempty"`
	ProdChoice  string              `json:"prod_choice,omitempty"`

	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`

	// DetailsURL is the details page of the run, with its token. The app
	// sets it before rendering; a stored report does not carry it.
	DetailsURL string `json:"details_url,omitempty"`
}

// Skip says why a gate did not run the diff.
type Skip struct {
	// Code is a machine-readable reason: disabled, label, draft,
	// files_ignored, base_branch, ...
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`         // for people: "all changed files match files_to_ignore"
	Hint   string `json:"hint,omitempty"` // what to do: "add the label `diffgate` to run"
}

// Failure is a run-level error a person can act on.
type Failure struct {
	Stage   events.Stage `json:"stage"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Hint    string       `json:"hint,omitempty"`
	Link    string       `json:"link,omitempty"`
}

// Cancel says why a run was cancelled.
type Cancel struct {
	Reason  string `json:"reason"` // events.CancelSuperseded, CancelClosed, CancelCI
	By      string `json:"by,omitempty"`
	Message string `json:"message,omitempty"`
}

// ModelResult is the outcome of one model's diff: a result without its
// samples, or an error. Full names the stored result with samples.
type ModelResult struct {
	ModelID   string            `json:"model_id"`
	ModelName string            `json:"model_name"`
	Result    *datadiff.Result  `json:"result,omitempty"`
	Error     *events.Error     `json:"error,omitempty"`
	Full      *events.ObjectRef `json:"full,omitempty"`
	At        time.Time         `json:"at,omitzero"`
}

// Encode is the stored form of the report.
func (r *Report) Encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("report: encode %s: %w", r.RunID, err)
	}
	return b, nil
}

// Decode reads a stored report.
func Decode(data []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrInvalid, err)
	}
	if r.Version > Version {
		return nil, fmt.Errorf("%w: %d (this diffgate reads up to %d)", ErrVersion, r.Version, Version)
	}
	if r.RunID == "" {
		return nil, fmt.Errorf("%w: no run_id", ErrInvalid)
	}
	return &r, nil
}

// State is what a reader needs to know first about one model.
type State string

const (
	StateDiffers   State = "differs"   // rows, values or columns differ
	StateUnchanged State = "unchanged" // compared, identical
	StateNew       State = "new"       // no production relation
	StateNotBuilt  State = "not_built" // the PR relation was not built (deferral)
	StateError     State = "error"     // the diff failed
	StateSkipped   State = "skipped"   // the plan decided not to diff it
	StateMissing   State = "missing"   // planned, but no result arrived
)

// Model joins a planned model with its result: what the renderers walk.
type Model struct {
	ID   string
	Name string
	// Planned is nil when the report has no plan (or the model is not in
	// it).
	Planned *events.PlannedModel
	*ModelResult
	State State
	// KeyIssues are the primary key's problems; empty when the key is
	// sound or the model was not compared.
	KeyIssues []KeyIssue
}

// Result is the model's diff result, nil when there is none.
func (m *Model) Result() *datadiff.Result {
	if m.ModelResult == nil {
		return nil
	}
	return m.ModelResult.Result
}

// Err is the model's error, nil when there is none.
func (m *Model) Err() *events.Error {
	if m.ModelResult == nil {
		return nil
	}
	return m.ModelResult.Error
}

// Change is why the model is in the plan ("modified", "new",
// "downstream"), empty without a plan.
func (m *Model) Change() events.Change {
	if m.Planned == nil {
		return ""
	}
	return m.Planned.Change
}

// Downstream reports whether the model is only impacted, not modified.
func (m *Model) Downstream() bool { return m.Change() == events.ChangeDownstream }

// Models lists the report's models in the plan's order (modified and new
// first, then downstream, by name within each), followed by results the
// plan does not name, by name.
func (r *Report) Models() []Model {
	var out []Model
	seen := make(map[string]bool)
	if r.Plan != nil {
		for i := range r.Plan.Models {
			pm := &r.Plan.Models[i]
			if seen[pm.ID] {
				continue
			}
			seen[pm.ID] = true
			out = append(out, newModel(pm, r.Results[pm.ID]))
		}
	}
	var extra []string
	for id := range r.Results {
		if !seen[id] {
			extra = append(extra, id)
		}
	}
	sort.Slice(extra, func(i, j int) bool {
		a, b := r.Results[extra[i]], r.Results[extra[j]]
		if a.ModelName != b.ModelName {
			return a.ModelName < b.ModelName
		}
		return extra[i] < extra[j]
	})
	for _, id := range extra {
		out = append(out, newModel(nil, r.Results[id]))
	}
	return out
}

// Model finds one model by id.
func (r *Report) Model(id string) (Model, bool) {
	if r.Plan != nil {
		for i := range r.Plan.Models {
			if r.Plan.Models[i].ID == id {
				return newModel(&r.Plan.Models[i], r.Results[id]), true
			}
		}
	}
	if mr, ok := r.Results[id]; ok {
		return newModel(nil, mr), true
	}
	return Model{}, false
}

func newModel(pm *events.PlannedModel, mr *ModelResult) Model {
	m := Model{Planned: pm, ModelResult: mr}
	switch {
	case pm != nil:
		m.ID, m.Name = pm.ID, pm.Name
	case mr != nil:
		m.ID, m.Name = mr.ModelID, mr.ModelName
	}
	if m.Name == "" && mr != nil {
		m.Name = mr.ModelName
	}
	res := m.Result()
	switch {
	case m.Err() != nil:
		m.State = StateError
	case pm != nil && !pm.Diff && res == nil:
		m.State = StateSkipped
	case res == nil:
		m.State = StateMissing
	case res.Status == datadiff.StatusNew:
		m.State = StateNew
	case res.Status == datadiff.StatusNotBuilt:
		m.State = StateNotBuilt
	case Differs(res):
		m.State = StateDiffers
	default:
		m.State = StateUnchanged
	}
	m.KeyIssues = keyIssues(pm, res, m.State)
	return m
}

// Differs reports whether a diffed result found any difference: rows
// added, removed or changed, a different row count, or a schema change.
func Differs(res *datadiff.Result) bool {
	if res == nil || res.Status != datadiff.StatusDiffed {
		return false
	}
	return res.Added > 0 || res.Removed > 0 || res.Changed > 0 ||
		res.Prod.Rows != res.PR.Rows || SchemaChanged(res.Schema)
}

// SchemaChanged reports whether columns were added, removed or retyped.
func SchemaChanged(s datadiff.SchemaDiff) bool {
	return len(s.Added) > 0 || len(s.Removed) > 0 || len(s.TypeChanged) > 0
}

// KeyIssue is one problem with a diffed model's primary key.
type KeyIssue struct {
	Kind KeyIssueKind `json:"kind"`
	Side Side         `json:"side,omitempty"` // empty for KeyMissing
	Rows int64        `json:"rows,omitempty"`
}

// KeyIssueKind names a primary key problem.
type KeyIssueKind string

const (
	KeyMissing   KeyIssueKind = "no_key"    // no primary key was found
	KeyNulls     KeyIssueKind = "null"      // rows with a NULL in a key column
	KeyDuplicate KeyIssueKind = "duplicate" // rows whose key is not unique
)

// Side of a diff.
type Side string

const (
	SideProd Side = "prod"
	SidePR   Side = "pr"
)

// Text describes the issue in a sentence, naming the PR side with the
// provider's word ("PR" or "MR").
func (k KeyIssue) Text(w Words) string {
	side := "production"
	if k.Side == SidePR {
		side = w.Short
	}
	switch k.Kind {
	case KeyNulls:
		return fmt.Sprintf("%s %s a NULL key", human.Plural(k.Rows, side+" row", side+" rows"), hasHave(k.Rows))
	case KeyDuplicate:
		return fmt.Sprintf("%s %s a duplicated key", human.Plural(k.Rows, side+" row", side+" rows"), hasHave(k.Rows))
	}
	return "no primary key"
}

// keyIssues lists what is wrong with a diffed model's primary key. A model
// that was not compared (new, not built, skipped, errored) has none: "not
// built in this PR" is not a key problem.
func keyIssues(pm *events.PlannedModel, res *datadiff.Result, st State) []KeyIssue {
	switch st {
	case StateNew, StateNotBuilt, StateSkipped, StateError:
		return nil
	}
	if res == nil || res.Status != datadiff.StatusDiffed {
		// Planned to be diffed without a key: that is the issue, whether
		// or not a result arrived.
		if pm != nil && pm.Diff && len(pm.PrimaryKey) == 0 {
			return []KeyIssue{{Kind: KeyMissing}}
		}
		return nil
	}
	if len(res.Key) == 0 {
		return []KeyIssue{{Kind: KeyMissing}}
	}
	var out []KeyIssue
	for _, s := range []struct {
		side Side
		st   datadiff.SideStats
	}{{SideProd, res.Prod}, {SidePR, res.PR}} {
		if s.st.KeyNulls > 0 {
			out = append(out, KeyIssue{Kind: KeyNulls, Side: s.side, Rows: s.st.KeyNulls})
		}
		if s.st.DuplicateRows > 0 {
			out = append(out, KeyIssue{Kind: KeyDuplicate, Side: s.side, Rows: s.st.DuplicateRows})
		}
	}
	return out
}

func hasHave(n int64) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

// Words are the provider's names for things.
type Words struct {
	PR      string // "pull request" / "merge request"
	Short   string // "PR" / "MR"
	Ref     string // how a PR number is written: "#12" / "!12"
	Comment string // "comment" / "note"
}

// WordsFor returns the words of a provider; GitHub's for an unknown one.
func WordsFor(p events.Provider) Words {
	if p == events.GitLab {
		return Words{PR: "merge request", Short: "MR", Ref: "!", Comment: "note"}
	}
	return Words{PR: "pull request", Short: "PR", Ref: "#", Comment: "comment"}
}
