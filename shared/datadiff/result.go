package datadiff

import "time"

// ResultVersion is bumped when a field of Result changes meaning. Adding a
// field does not bump it.
const ResultVersion = 1

// Status says what kind of comparison a Result holds.
type Status string

const (
	// StatusDiffed: both relations exist and were compared.
	StatusDiffed Status = "diffed"
	// StatusNew: the production relation does not exist; only the PR side
	// was measured (row count and columns).
	StatusNew Status = "new"
	// StatusNotBuilt: the PR relation does not exist, typically because the
	// CI job deferred to production and built only state:modified+.
	StatusNotBuilt Status = "not_built"
)

// Result is everything one diff of one model found. Its JSON form is part
// of the wire contract (events.DiffResult) and of the stored report, so
// field names are stable.
type Result struct {
	Version int    `json:"version"`
	Status  Status `json:"status"`

	// Key is the list of key columns the rows were matched on.
	Key []string `json:"key"`

	Prod SideStats `json:"prod"`
	PR   SideStats `json:"pr"`

	// Row-level outcome of the join on the key. Rows whose key is NULL or
	// duplicated on either side are not matched; see Prod/PR KeyNulls and
	// DuplicateRows, and Caveats.
	Added     int64 `json:"added"`     // keys only in PR
	Removed   int64 `json:"removed"`   // keys only in production
	Changed   int64 `json:"changed"`   // keys on both sides with at least one compared column different
	Unchanged int64 `json:"unchanged"` // keys on both sides with every compared column equal

	// Columns has one entry per compared column, in the PR's column order.
	Columns []ColumnStats `json:"columns"`
	Schema  SchemaDiff    `json:"schema"`

	// Samples is nil when sampling is disabled (sample size 0, or the
	// integration marks the data sensitive); SamplesOff then says why.
	Samples    *Samples `json:"samples,omitempty"`
	SamplesOff string   `json:"samples_off,omitempty"`

	// Caveats are sentences a reader needs to trust the numbers, e.g.
	// "3 production rows have a NULL key and are not matched".
	Caveats []string `json:"caveats,omitempty"`

	// Queries are the statements that ran, in order, with no credentials.
	Queries  []string      `json:"queries,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// SideStats describes one side (production or PR) of a diff.
type SideStats struct {
	Rows          int64 `json:"rows"`
	KeyNulls      int64 `json:"key_nulls"`      // rows with a NULL in any key column
	DuplicateRows int64 `json:"duplicate_rows"` // rows whose (non-NULL) key appears more than once
	DistinctKeys  int64 `json:"distinct_keys"`  // distinct non-NULL keys
	ExclusiveKeys int64 `json:"exclusive_keys"` // distinct non-NULL keys absent from the other side
	// SetAside counts the rows left out of the match: a NULL key, or a key
	// duplicated on either side. Rows = SetAside + (Removed or Added) +
	// Changed + Unchanged.
	SetAside int64 `json:"set_aside"`
}

// ColumnStats is the outcome for one compared column.
type ColumnStats struct {
	Name       string  `json:"name"`
	ProdType   string  `json:"prod_type"`
	PRType     string  `json:"pr_type"`
	Mismatches int64   `json:"mismatches"` // matched rows where the values differ (beyond tolerance)
	MatchRate  float64 `json:"match_rate"` // 1 - Mismatches/matched rows; 1 when no rows matched
	// Tolerance is set when a numeric tolerance applied, e.g. "abs 0.01".
	Tolerance string `json:"tolerance,omitempty"`
}

// SchemaDiff lists how the two relations' columns differ.
type SchemaDiff struct {
	Added       []Column      `json:"added,omitempty"`   // in PR only
	Removed     []Column      `json:"removed,omitempty"` // in production only
	TypeChanged []TypeChange  `json:"type_changed,omitempty"`
	NotCompared []NotCompared `json:"not_compared,omitempty"`
}

// Column is a column name and the database's type for it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// TypeChange is a column present on both sides with different types.
type TypeChange struct {
	Name     string `json:"name"`
	ProdType string `json:"prod_type"`
	PRType   string `json:"pr_type"`
	// Compared is true when the types were normalised to a common form
	// (e.g. int → bigint) and the values still compared.
	Compared bool `json:"compared"`
}

// NotCompared is a column present on both sides that was not compared.
type NotCompared struct {
	Name   string `json:"name"`
	Reason string `json:"reason"` // "excluded by exclude_columns", "key column", "incompatible types", ...
}

// Samples holds a bounded set of example rows. Values are rendered as text
// by the database so both sides print alike; nil pointers are SQL NULLs.
type Samples struct {
	// Columns are the column names of every sampled row: key columns first.
	Columns []string `json:"columns"`
	// Changed rows: for each, the production and PR values and which
	// columns differ.
	Changed  []ChangedRow `json:"changed,omitempty"`
	ProdOnly []Row        `json:"prod_only,omitempty"` // removed rows
	PROnly   []Row        `json:"pr_only,omitempty"`   // added rows
}

// Row is one sampled row, aligned with Samples.Columns.
type Row []*string

// ChangedRow is one key present on both sides with differing values.
type ChangedRow struct {
	Prod Row `json:"prod"`
	PR   Row `json:"pr"`
	// Differs lists the names of the columns whose values differ.
	Differs []string `json:"differs"`
}
