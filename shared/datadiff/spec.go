package datadiff

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxSampleSize bounds Spec.SampleSize: samples are for reading, and their
// keys travel in the statements that fetch them.
const MaxSampleSize = 1000

// Spec is one diff: two sides, the key that matches their rows, and the
// options of the model.
type Spec struct {
	// Prod is the production side; nil when the model is new in the PR.
	Prod *Side
	// PR is the pull request's side.
	PR Side
	// Key lists the key columns. Names are matched against each side's
	// columns the way the database matches names (see Dialect.SameName).
	Key []string
	// Include, when not empty, limits the compared columns to these.
	Include []string
	// Exclude removes columns from the comparison.
	Exclude []string
	// Filter is a SQL condition applied to both sides before comparing.
	// It comes from a pull request and is treated as untrusted: it must
	// be a single condition (no statement separators, balanced
	// parentheses) and runs only inside read-only transactions.
	Filter string
	// Tolerance maps a column name to the numeric difference under which
	// two values count as equal.
	Tolerance map[string]Tolerance
	// SampleSize bounds each sample (changed rows, rows only in
	// production, rows only in the PR). 0 disables samples; more than
	// MaxSampleSize counts as MaxSampleSize.
	SampleSize int
	// SamplesOff, when not empty, disables samples and says why (e.g.
	// "the integration marks this data sensitive").
	SamplesOff string
}

// Side is a relation or a SQL query.
type Side struct {
	// Relation names a table or view; nil when Query is set.
	Relation *Relation
	// Query is a SELECT statement (e.g. a Hightouch model); used when
	// Relation is nil. A trailing semicolon is allowed.
	Query string
	// TimeTravel reads the relation as of this point (a timestamp or a
	// dialect-specific offset) where the dialect supports it.
	TimeTravel string
}

// String names the side for people.
func (s Side) String() string {
	if s.Relation != nil {
		return s.Relation.String()
	}
	return "query"
}

// Relation is a table or view name in parts, with dbt's quoting flags.
type Relation struct {
	Database   string
	Schema     string
	Identifier string
	// Quoting says which parts are quoted (kept exactly as written); the
	// others are folded the way the database folds unquoted names.
	Quoting Quoting
}

// Quoting says which parts of a relation name are quoted.
type Quoting struct {
	Database   bool
	Schema     bool
	Identifier bool
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

// ParseRelation reads a relation name as a person types it:
// [database.][schema.]identifier, where a part in double quotes keeps its
// case and may contain dots and spaces ("" inside stands for one ").
// Unquoted parts are folded by the dialect later.
func ParseRelation(s string) (Relation, error) {
	var parts []string
	var quoted []bool
	i := 0
	for {
		if i >= len(s) {
			return Relation{}, fmt.Errorf("relation %q: empty name part: %w", s, ErrBadSpec)
		}
		var part strings.Builder
		q := false
		if s[i] == '"' {
			q = true
			i++
			closed := false
			for i < len(s) {
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						part.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				part.WriteByte(s[i])
				i++
			}
			if !closed {
				return Relation{}, fmt.Errorf("relation %q: unterminated quote: %w", s, ErrBadSpec)
			}
		} else {
			for i < len(s) && s[i] != '.' {
				if s[i] == '"' {
					return Relation{}, fmt.Errorf("relation %q: quote inside an unquoted part: %w", s, ErrBadSpec)
				}
				part.WriteByte(s[i])
				i++
			}
		}
		if part.Len() == 0 {
			return Relation{}, fmt.Errorf("relation %q: empty name part: %w", s, ErrBadSpec)
		}
		parts = append(parts, part.String())
		quoted = append(quoted, q)
		if i == len(s) {
			break
		}
		if s[i] != '.' {
			return Relation{}, fmt.Errorf("relation %q: expected a dot after a quoted part: %w", s, ErrBadSpec)
		}
		i++
	}
	if len(parts) > 3 {
		return Relation{}, fmt.Errorf("relation %q: at most database.schema.identifier: %w", s, ErrBadSpec)
	}
	var r Relation
	n := len(parts)
	r.Identifier, r.Quoting.Identifier = parts[n-1], quoted[n-1]
	if n >= 2 {
		r.Schema, r.Quoting.Schema = parts[n-2], quoted[n-2]
	}
	if n == 3 {
		r.Database, r.Quoting.Database = parts[0], quoted[0]
	}
	return r, nil
}

// Tolerance is the numeric difference under which two values count as
// equal. At most one of Abs and Rel is set.
type Tolerance struct {
	// Abs: |prod - pr| <= Abs.
	Abs float64
	// Rel: |prod - pr| <= Rel * max(|prod|, |pr|).
	Rel float64
}

// ParseTolerance reads "0.01" or "1e-9" (absolute) and "0.1%" (relative).
func ParseTolerance(s string) (Tolerance, error) {
	t := strings.TrimSpace(s)
	rel := strings.HasSuffix(t, "%")
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return Tolerance{}, fmt.Errorf("tolerance %q: want a non-negative number like 0.01 or a percentage like 0.1%%: %w", s, ErrBadSpec)
	}
	if rel {
		return Tolerance{Rel: v / 100}, nil
	}
	return Tolerance{Abs: v}, nil
}

// String renders the tolerance as it appears in ColumnStats.Tolerance:
// "abs 0.01" or "rel 0.1%".
func (t Tolerance) String() string {
	if t.Rel > 0 {
		return "rel " + strconv.FormatFloat(t.Rel*100, 'g', 12, 64) + "%"
	}
	return "abs " + strconv.FormatFloat(t.Abs, 'g', -1, 64)
}

// zero reports whether the tolerance allows no difference at all.
func (t Tolerance) zero() bool { return t.Abs == 0 && t.Rel == 0 }
