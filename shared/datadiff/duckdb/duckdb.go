// Package duckdb is the DuckDB dialect of the diff engine, embedded
// through duckdb-go: the default for the demo and for local use.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	duckdbdrv "github.com/duckdb/duckdb-go/v2"
)

// Open opens a DuckDB database: dsn is a file path (opened read-only
// unless the DSN sets access_mode) or empty for a new in-memory database.
//
// A file opened read-only cannot be opened read-write by the same process
// at the same time (DuckDB keeps one instance per file), and another
// process holding it read-write blocks the open.
func Open(ctx context.Context, dsn string, o datadiff.Options) (*datadiff.Source, error) {
	if dsn != "" && dsn != ":memory:" && !strings.Contains(dsn, "access_mode=") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "access_mode=read_only"
	}
	c, err := duckdbdrv.NewConnector(dsn, initConn)
	if err != nil {
		return nil, fmt.Errorf("duckdb: open: %w", err)
	}
	db := sql.OpenDB(c)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("duckdb: open: %w", err)
	}
	return datadiff.NewSource(db, Dialect{}, o), nil
}

// initConn sets every connection's session time zone to UTC, so that
// timestamps compare and print alike on both sides.
func initConn(e driver.ExecerContext) error {
	_, err := e.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil)
	return err
}

// Dialect is DuckDB.
type Dialect struct{}

// Name implements datadiff.Dialect.
func (Dialect) Name() string { return "duckdb" }

// QuoteIdent implements datadiff.Dialect.
func (Dialect) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString implements datadiff.Dialect.
func (Dialect) QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Relation implements datadiff.Dialect. DuckDB matches names without
// regard to case whether quoted or not, so nothing is folded.
func (d Dialect) Relation(r datadiff.Relation) (string, error) {
	var parts []string
	for _, p := range []string{r.Database, r.Schema, r.Identifier} {
		if p == "" {
			continue
		}
		if strings.ContainsRune(p, 0) {
			return "", fmt.Errorf("name %q contains a NUL byte", p)
		}
		parts = append(parts, d.QuoteIdent(p))
	}
	return strings.Join(parts, "."), nil
}

// SameName implements datadiff.Dialect: column names match without
// regard to case.
func (Dialect) SameName(a, b string) bool { return strings.EqualFold(a, b) }

// Lexical implements datadiff.Dialect.
func (Dialect) Lexical() datadiff.Lexical {
	return datadiff.Lexical{DollarQuotes: true, EscapeStrings: true}
}

// FullOuterJoin implements datadiff.Dialect: DuckDB runs it in parallel.
func (Dialect) FullOuterJoin() bool { return true }

// Begin implements datadiff.Dialect. DuckDB has no statement timeout; the
// engine interrupts a statement from the client when its time is up.
func (Dialect) Begin(time.Duration) []string { return []string{"BEGIN TRANSACTION READ ONLY"} }

// CheckSingle implements datadiff.StatementGuard: duckdb-go runs every
// statement of a string, so each statement is first parsed by DuckDB
// itself (json_serialize_sql accepts only SELECT statements).
func (Dialect) CheckSingle(ctx context.Context, conn *sql.Conn, stmt string) error {
	var n sql.NullInt64
	var failed sql.NullBool
	var msg sql.NullString
	err := conn.QueryRowContext(ctx,
		"SELECT json_array_length(j->'statements'), (j->>'error')::BOOLEAN, j->>'error_message' FROM (SELECT json_serialize_sql(?::VARCHAR) AS j)", stmt).
		Scan(&n, &failed, &msg)
	if err != nil {
		return err
	}
	if failed.Bool || n.Int64 != 1 {
		detail := msg.String
		if detail == "" {
			detail = fmt.Sprintf("%d statements", n.Int64)
		}
		return &datadiff.Error{Kind: datadiff.ErrBadFilter, Msg: "the statement is not a single SELECT (" + detail + ")",
			Hint: datadiff.Hint(datadiff.ErrBadFilter)}
	}
	return nil
}

// Columns implements datadiff.Dialect with DESCRIBE, which binds the
// query without running it.
func (d Dialect) Columns(ctx context.Context, conn *sql.Conn, query string, _ *datadiff.Relation) ([]datadiff.Column, error) {
	if err := d.CheckSingle(ctx, conn, query); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var cols []datadiff.Column
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		cols = append(cols, datadiff.Column{Name: fmt.Sprint(vals[0]), Type: fmt.Sprint(vals[1])})
	}
	return cols, rows.Err()
}

// Classify implements datadiff.Dialect.
func (Dialect) Classify(err error) error {
	var de *duckdbdrv.Error
	if !errors.As(err, &de) {
		return nil
	}
	msg := de.Msg
	switch {
	case de.Type == duckdbdrv.ErrorTypeCatalog && strings.Contains(msg, "does not exist"):
		return datadiff.ErrRelationMissing
	case de.Type == duckdbdrv.ErrorTypeInterrupt:
		return datadiff.ErrCancelled
	case de.Type == duckdbdrv.ErrorTypePermission:
		return datadiff.ErrPermissionDenied
	case strings.Contains(msg, "read-only"):
		return datadiff.ErrBadFilter
	}
	return nil
}

var decimalType = regexp.MustCompile(`^DECIMAL\(\d+,\s*\d+\)$`)

// Kind implements datadiff.Dialect for DuckDB's type names.
func (Dialect) Kind(typ string) datadiff.Kind {
	t := strings.ToUpper(strings.TrimSpace(typ))
	switch t {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT":
		return datadiff.KindInteger
	case "FLOAT":
		return datadiff.KindReal
	case "DOUBLE":
		return datadiff.KindFloat
	case "VARCHAR":
		return datadiff.KindText
	case "BOOLEAN":
		return datadiff.KindBoolean
	case "DATE":
		return datadiff.KindDate
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return datadiff.KindTimestamp
	case "TIMESTAMP WITH TIME ZONE":
		return datadiff.KindTimestampTZ
	case "TIME", "TIME WITH TIME ZONE":
		return datadiff.KindTime
	case "JSON":
		return datadiff.KindJSON
	case "UUID":
		return datadiff.KindUUID
	case "BLOB":
		return datadiff.KindBinary
	}
	if t == "DECIMAL" || decimalType.MatchString(t) {
		return datadiff.KindDecimal
	}
	return datadiff.KindOther
}

// Comparable implements datadiff.Dialect: DuckDB compares strings byte by
// byte and every type it has with =.
func (Dialect) Comparable(expr, _ string) string { return expr }

// Distinct implements datadiff.Dialect.
func (Dialect) Distinct(x, y string) string { return x + " IS DISTINCT FROM " + y }

// Text implements datadiff.Dialect.
func (Dialect) Text(expr, _ string) string { return "CAST(" + expr + " AS VARCHAR)" }

// Integer implements datadiff.Dialect.
func (Dialect) Integer(expr string) string { return "CAST(" + expr + " AS INTEGER)" }

// TimeTravel implements datadiff.Dialect: DuckDB tables have none.
func (Dialect) TimeTravel(string, string) (string, error) {
	return "", fmt.Errorf("DuckDB tables cannot be read as of a past time: %w", datadiff.ErrUnsupported)
}
