// Package difftest is the conformance suite every dialect of the diff
// engine runs against a real database: tables written so that every
// expected count is known, and the engine's result checked against them.
package difftest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// Type is a column type in the fixtures, spelled by each Env.
type Type struct {
	Base string // int, bigint, decimal, double, real, text, varchar, bool, date, timestamp, timestamptz
	P, S int
}

// Fixture types.
var (
	Int         = Type{Base: "int"}
	BigInt      = Type{Base: "bigint"}
	Double      = Type{Base: "double"}
	Real        = Type{Base: "real"}
	Text        = Type{Base: "text"}
	Bool        = Type{Base: "bool"}
	Date        = Type{Base: "date"}
	Timestamp   = Type{Base: "timestamp"}
	TimestampTZ = Type{Base: "timestamptz"}
)

// Decimal is decimal(p, s).
func Decimal(p, s int) Type { return Type{Base: "decimal", P: p, S: s} }

// Varchar is varchar(n).
func Varchar(n int) Type { return Type{Base: "varchar", P: n} }

// Col is a fixture column.
type Col struct {
	Name string
	Type Type
}

// Table is a fixture table: columns and rows of Go values (nil for NULL,
// int, float64, string, bool; dates and timestamps as strings).
type Table struct {
	Cols []Col
	Rows [][]any
}

// Env is one database the suite runs on.
type Env struct {
	// Name of the dialect, for messages.
	Name string
	// Exec runs a statement with write access, while fixtures are built.
	Exec func(ctx context.Context, sql string) error
	// QuoteIdent quotes a name for Exec's statements.
	QuoteIdent func(string) string
	// TypeSQL spells a fixture type.
	TypeSQL func(Type) string
	// Lit renders a value of a fixture type as a literal.
	Lit func(v any, t Type) string
	// Rel names a fixture table for the engine.
	Rel func(table string) datadiff.Relation
	// Source opens the engine's source once the fixtures are built.
	Source func(t *testing.T, o datadiff.Options) *datadiff.Source
	// Strategies are the join plans to run every case with.
	Strategies []datadiff.JoinStrategy
	// Ready is called after the fixtures are built and before Source
	// (DuckDB closes its writer so the engine can open the file
	// read-only). May be nil.
	Ready func(t *testing.T)

	dialect datadiff.Dialect // set by Run once a source is open
}

// Create (re)creates a table from a fixture.
func Create(ctx context.Context, env *Env, name string, tb Table) error {
	q := env.QuoteIdent(name)
	if err := env.Exec(ctx, "DROP TABLE IF EXISTS "+q); err != nil {
		return err
	}
	defs := make([]string, len(tb.Cols))
	for i, c := range tb.Cols {
		defs[i] = env.QuoteIdent(c.Name) + " " + env.TypeSQL(c.Type)
	}
	if err := env.Exec(ctx, "CREATE TABLE "+q+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return err
	}
	for start := 0; start < len(tb.Rows); start += 500 {
		end := min(start+500, len(tb.Rows))
		vals := make([]string, 0, end-start)
		for _, row := range tb.Rows[start:end] {
			lits := make([]string, len(row))
			for i, v := range row {
				lits[i] = env.Lit(v, tb.Cols[i].Type)
			}
			vals = append(vals, "("+strings.Join(lits, ", ")+")")
		}
		if err := env.Exec(ctx, "INSERT INTO "+q+" VALUES "+strings.Join(vals, ", ")); err != nil {
			return err
		}
	}
	return nil
}

// Lit renders a fixture value as a SQL literal, strings quoted by quote:
// the Env.Lit of a database that writes every fixture type's values as
// Go prints them (MySQL wraps it for time zones).
func Lit(quote func(string) string) func(v any, t Type) string {
	return func(v any, _ Type) string {
		switch x := v.(type) {
		case nil:
			return "NULL"
		case string:
			return quote(x)
		case bool:
			return strings.ToUpper(strconv.FormatBool(x))
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		return fmt.Sprint(v)
	}
}
