package events

import (
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// Relation names one relation in the warehouse, as a dbt manifest names it.
// Dialects quote every part; a part dbt would not have quoted is first
// case-folded the way the warehouse folds unquoted names.
type Relation struct {
	Database   string  `json:"database,omitempty"`
	Schema     string  `json:"schema"`
	Identifier string  `json:"identifier"`
	Quoting    Quoting `json:"quoting"`
}

// Datadiff is the relation as the diff engine names it.
func (r Relation) Datadiff() datadiff.Relation {
	return datadiff.Relation{Database: r.Database, Schema: r.Schema, Identifier: r.Identifier,
		Quoting: datadiff.Quoting{Database: r.Quoting.Database, Schema: r.Quoting.Schema, Identifier: r.Quoting.Identifier}}
}

// Quoting says which parts of a relation name dbt quotes (the manifest's
// metadata.quoting, overridden by the node's config.quoting).
type Quoting struct {
	Database   bool `json:"database"`
	Schema     bool `json:"schema"`
	Identifier bool `json:"identifier"`
}

// String renders the relation for people: database.schema.identifier.
func (r Relation) String() string {
	parts := make([]string, 0, 3)
	for _, p := range []string{r.Database, r.Schema, r.Identifier} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

// DiffOptions are the per-model settings of one diff, from the model's
// meta.diffgate / meta.datafold.datadiff keys and the integration.
type DiffOptions struct {
	Filter         string   `json:"filter,omitempty"`
	IncludeColumns []string `json:"include_columns,omitempty"`
	ExcludeColumns []string `json:"exclude_columns,omitempty"`
	TimeColumn     string   `json:"time_column,omitempty"`
	ProdTimeTravel string   `json:"prod_time_travel,omitempty"`
	PRTimeTravel   string   `json:"pr_time_travel,omitempty"`
	// Tolerance maps a column to an absolute ("0.01") or relative ("0.1%")
	// numeric tolerance.
	Tolerance map[string]string `json:"tolerance,omitempty"`
	// SampleSize bounds each sample (differing rows, rows only in one
	// side); 0 disables samples.
	SampleSize int `json:"sample_size"`
	// SamplesOff says why samples are disabled when they are.
	SamplesOff string `json:"samples_off,omitempty"`
}

// Kind of a planned model.
type Kind string

const (
	KindDBT       Kind = "dbt"
	KindHightouch Kind = "hightouch"
)

// Change says why a model is in the plan.
type Change string

const (
	ChangeModified   Change = "modified"   // changed in the PR (state:modified)
	ChangeNew        Change = "new"        // absent from production
	ChangeDownstream Change = "downstream" // unchanged, but downstream of a modified node
)

// PlannedModel is one modified or impacted model and what to do with it.
type PlannedModel struct {
	ID           string `json:"id"` // dbt unique_id, or hightouch.<workspace>.<model id>
	Name         string `json:"name"`
	Kind         Kind   `json:"kind"`
	ResourceType string `json:"resource_type"` // model, seed, snapshot, hightouch_model
	Materialized string `json:"materialized,omitempty"`
	Path         string `json:"path,omitempty"` // original_file_path

	Change Change `json:"change"`
	// Reasons a modified model is modified: body, configs, relation,
	// persisted_descriptions, macros, contract.
	Reasons []string `json:"reasons,omitempty"`
	// Upstream are the modified nodes that make a downstream model impacted.
	Upstream []string `json:"upstream,omitempty"`

	Diff       bool   `json:"diff"`
	SkipReason string `json:"skip_reason,omitempty"` // why not diffed, for people

	PrimaryKey     []string `json:"primary_key,omitempty"`
	PrimaryKeyRule string   `json:"primary_key_rule,omitempty"` // which rule found it
	PrimaryKeyNote string   `json:"primary_key_note,omitempty"` // e.g. the fix when none was found

	Prod *Relation `json:"prod,omitempty"` // nil for a model new in the PR
	PR   *Relation `json:"pr,omitempty"`
	// Queries replace relations for Hightouch models: the model's SQL
	// against production, and the same SQL reading the PR relations.
	ProdQuery string `json:"prod_query,omitempty"`
	PRQuery   string `json:"pr_query,omitempty"`

	Options DiffOptions `json:"options"`

	// dbt metadata, filled when import_dbt_metadata is on.
	Tags        []string `json:"tags,omitempty"`
	Description string   `json:"description,omitempty"`
	Owner       string   `json:"owner,omitempty"`

	// Syncs are the Hightouch syncs reading a Hightouch model.
	Syncs []int64 `json:"syncs,omitempty"`
}

// Node is a dbt node reported without a diff (e.g. removed models).
type Node struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	ResourceType string `json:"resource_type"`
}

// Asset is something downstream that is not diffed as a table: a dbt
// exposure, a Hightouch model that is not diffed, a Hightouch sync.
type Asset struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"` // exposure, hightouch_model, hightouch_sync
	Name     string   `json:"name"`
	Type     string   `json:"type,omitempty"` // exposure type (dashboard, ...), sync destination
	URL      string   `json:"url,omitempty"`
	Owner    string   `json:"owner,omitempty"`
	Upstream []string `json:"upstream,omitempty"` // impacted ids it reads
}

// Lineage is the impacted subgraph, for the report's graph and the details
// page.
type Lineage struct {
	Nodes []LineageNode `json:"nodes"`
	Edges []Edge        `json:"edges"`
}

// LineageNode is one node of the impacted subgraph.
type LineageNode struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	ResourceType string   `json:"resource_type"` // model, seed, snapshot, source, exposure, hightouch_model, hightouch_sync
	Materialized string   `json:"materialized,omitempty"`
	Change       Change   `json:"change,omitempty"` // empty for context nodes (sources, parents)
	Tags         []string `json:"tags,omitempty"`
	Description  string   `json:"description,omitempty"`
	Owner        string   `json:"owner,omitempty"`
}

// Edge goes from a parent to a child.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// DBTCloudRun is the part of a dbt Cloud run the report shows.
type DBTCloudRun struct {
	AccountID  int64     `json:"account_id"`
	ProjectID  int64     `json:"project_id,omitempty"`
	JobID      int64     `json:"job_id"`
	RunID      int64     `json:"run_id"`
	Status     int       `json:"status"`
	StatusText string    `json:"status_text,omitempty"`
	GitSHA     string    `json:"git_sha,omitempty"`
	URL        string    `json:"url,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Plan is everything impact analysis decided for a run. It is stored in
// the object store (it can be large) and referenced by DiffPlanned.
type Plan struct {
	Version     int    `json:"version"`
	Run         *Run   `json:"run,omitempty"` // nil for `diffgate impact` on files
	Integration string `json:"integration,omitempty"`
	DataSource  string `json:"data_source,omitempty"`

	ProjectName string `json:"project_name,omitempty"`
	AdapterType string `json:"adapter_type,omitempty"`
	ProdSchema  string `json:"prod_schema_version,omitempty"` // manifest schema, e.g. v12
	PRSchema    string `json:"pr_schema_version,omitempty"`

	AccountName string       `json:"account_name,omitempty"`
	CIRun       *DBTCloudRun `json:"ci_run,omitempty"`
	ProdRun     *DBTCloudRun `json:"prod_run,omitempty"`
	ProdChoice  string       `json:"prod_choice,omitempty"` // why that production run

	SlimDiff          bool `json:"slim_diff"`
	DiffAllDownstream bool `json:"diff_all_downstream"` // the label was on the PR

	// Models holds every modified or impacted model: modified and new
	// first, then downstream; by name within each.
	Models    []PlannedModel `json:"models"`
	Removed   []Node         `json:"removed,omitempty"`
	Exposures []Asset        `json:"exposures,omitempty"`
	Hightouch []Asset        `json:"hightouch,omitempty"` // Hightouch models and syncs
	Lineage   Lineage        `json:"lineage"`
	Warnings  []string       `json:"warnings,omitempty"`
}

// DiffCount is the number of models the plan diffs.
func (p *Plan) DiffCount() int {
	n := 0
	for i := range p.Models {
		if p.Models[i].Diff {
			n++
		}
	}
	return n
}
