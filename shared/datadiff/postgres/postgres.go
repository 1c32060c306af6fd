// Package postgres is the PostgreSQL dialect of the diff engine, on pgx.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib"
)

// Open connects to PostgreSQL with a DSN in URL or key=value form and
// returns a Source. Statements use the extended protocol (one statement
// per string) and a cancelled context sends a cancel request to the
// server, so the statement stops there too.
func Open(ctx context.Context, dsn string, o datadiff.Options) (*datadiff.Source, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("postgres: bad DSN: %w", err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "diffgate"
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	db := stdlib.OpenDB(*cfg)
	var version int
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.QueryRowContext(pctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.Host, cfg.Port, datadiff.ConnectError(Dialect{}, err))
	}
	return datadiff.NewSource(db, Dialect{FullJoin: version >= 160000}, o), nil
}

// Dialect is PostgreSQL. FullJoin is set for servers from 16 on, which run
// a FULL OUTER JOIN in parallel; older servers get a LEFT JOIN plus an
// anti-join, which they do run in parallel.
type Dialect struct {
	FullJoin bool
}

// Name implements datadiff.Dialect.
func (Dialect) Name() string { return "postgres" }

// QuoteIdent implements datadiff.Dialect.
func (Dialect) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString implements datadiff.Dialect. Backslashes are escaped too, so
// the literal means the same whatever standard_conforming_strings says.
func (Dialect) QuoteString(s string) string {
	if strings.ContainsRune(s, '\\') {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Relation implements datadiff.Dialect: PostgreSQL folds unquoted names to
// lower case.
func (d Dialect) Relation(r datadiff.Relation) (string, error) {
	var parts []string
	for _, p := range []struct {
		name   string
		quoted bool
	}{{r.Database, r.Quoting.Database}, {r.Schema, r.Quoting.Schema}, {r.Identifier, r.Quoting.Identifier}} {
		if p.name == "" {
			continue
		}
		if strings.ContainsRune(p.name, 0) {
			return "", fmt.Errorf("name %q contains a NUL byte", p.name)
		}
		n := p.name
		if !p.quoted {
			n = foldLower(n)
		}
		parts = append(parts, d.QuoteIdent(n))
	}
	return strings.Join(parts, "."), nil
}

// foldLower lowers ASCII letters only, as PostgreSQL does for unquoted
// names in UTF-8 databases.
func foldLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// SameName implements datadiff.Dialect: quoted names are exact.
func (Dialect) SameName(a, b string) bool { return a == b }

// Lexical implements datadiff.Dialect.
func (Dialect) Lexical() datadiff.Lexical {
	return datadiff.Lexical{DollarQuotes: true, EscapeStrings: true}
}

// FullOuterJoin implements datadiff.Dialect.
func (d Dialect) FullOuterJoin() bool { return d.FullJoin }

// Begin implements datadiff.Dialect.
func (Dialect) Begin(timeout time.Duration) []string {
	return []string{
		"BEGIN READ ONLY",
		"SET LOCAL statement_timeout = " + strconv.FormatInt(timeout.Milliseconds(), 10),
		"SET LOCAL TIME ZONE 'UTC'",
		// The diff's statements are long expressions over many rows; their
		// estimated cost makes PostgreSQL spend seconds optimising them with
		// LLVM, which the comparison never wins back.
		"SET LOCAL jit = off",
	}
}

// Columns implements datadiff.Dialect: the query runs with LIMIT 0, so
// the server checks that it compiles and that the user may read what it
// reads, without reading a row; the server's type names come from
// format_type.
func (Dialect) Columns(ctx context.Context, conn *sql.Conn, query string, _ *datadiff.Relation) ([]datadiff.Column, error) {
	var cols []datadiff.Column
	err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: connection is a %T, not pgx", dc)
		}
		pc := sc.Conn()
		rows, err := pc.Query(ctx, query+"\nLIMIT 0")
		if err != nil {
			return err
		}
		fields := rows.FieldDescriptions()
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(fields) == 0 {
			return nil
		}
		oids := make([]uint32, len(fields))
		mods := make([]int32, len(fields))
		for i, f := range fields {
			oids[i], mods[i] = f.DataTypeOID, f.TypeModifier
			cols = append(cols, datadiff.Column{Name: f.Name})
		}
		rows, err = pc.Query(ctx, "SELECT format_type(o, m) FROM unnest($1::oid[], $2::int4[]) WITH ORDINALITY AS x(o, m, i) ORDER BY i", oids, mods)
		if err != nil {
			return err
		}
		i := 0
		for rows.Next() {
			if err := rows.Scan(&cols[i].Type); err != nil {
				rows.Close()
				return err
			}
			i++
		}
		rows.Close()
		return rows.Err()
	})
	return cols, err
}

// Classify implements datadiff.Dialect.
func (Dialect) Classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "42P01", "3F000", "3D000": // undefined_table, invalid_schema_name, invalid_catalog_name
		return datadiff.ErrRelationMissing
	case "42501": // insufficient_privilege
		return datadiff.ErrPermissionDenied
	case "57014": // query_canceled
		if strings.Contains(pe.Message, "statement timeout") {
			return datadiff.ErrTimeout
		}
		return datadiff.ErrCancelled
	case "55P03": // lock_not_available
		return datadiff.ErrTimeout
	case "25006": // read_only_sql_transaction
		return datadiff.ErrBadFilter
	case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now (starting up)
		"40001", "40P01": // serialization_failure, deadlock_detected
		return datadiff.ErrUnavailable
	}
	if strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") {
		// connection_exception; insufficient_resources (too many
		// connections, out of memory or disk)
		return datadiff.ErrUnavailable
	}
	return nil
}

// Kind implements datadiff.Dialect for format_type's names.
func (Dialect) Kind(typ string) datadiff.Kind {
	t := strings.ToLower(typ)
	if strings.HasSuffix(t, "[]") {
		return datadiff.KindOther
	}
	base := t
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = strings.TrimSpace(base[:i]) + base[strings.IndexByte(base, ')')+1:]
	}
	switch base {
	case "smallint", "integer", "bigint":
		return datadiff.KindInteger
	case "numeric":
		return datadiff.KindDecimal
	case "real":
		return datadiff.KindReal
	case "double precision":
		return datadiff.KindFloat
	case "text", "character varying", "character", `"char"`, "name", "citext":
		return datadiff.KindText
	case "boolean":
		return datadiff.KindBoolean
	case "date":
		return datadiff.KindDate
	case "timestamp without time zone":
		return datadiff.KindTimestamp
	case "timestamp with time zone":
		return datadiff.KindTimestampTZ
	case "time without time zone", "time with time zone":
		return datadiff.KindTime
	case "json", "jsonb":
		return datadiff.KindJSON
	case "uuid":
		return datadiff.KindUUID
	case "bytea":
		return datadiff.KindBinary
	}
	return datadiff.KindOther
}

// noEquality lists types without an equality operator; their values are
// compared as text.
var noEquality = map[string]bool{
	"xml": true, "point": true, "line": true, "lseg": true, "box": true, "path": true, "polygon": true, "circle": true,
}

// Comparable implements datadiff.Dialect: json compares as jsonb (key
// order and white space do not matter); types without equality compare as
// text.
func (Dialect) Comparable(expr, typ string) string {
	t := strings.ToLower(typ)
	switch {
	case t == "json":
		return "CAST(" + expr + " AS jsonb)"
	case noEquality[t], strings.HasSuffix(t, "[]") && (noEquality[strings.TrimSuffix(t, "[]")] || t == "json[]"):
		return "CAST(" + expr + " AS text)"
	}
	return expr
}

// Distinct implements datadiff.Dialect.
func (Dialect) Distinct(x, y string) string { return x + " IS DISTINCT FROM " + y }

// Text implements datadiff.Dialect.
func (Dialect) Text(expr, _ string) string { return "CAST(" + expr + " AS text)" }

// Integer implements datadiff.Dialect.
func (Dialect) Integer(expr string) string { return "CAST(" + expr + " AS integer)" }

// TimeTravel implements datadiff.Dialect: PostgreSQL has none.
func (Dialect) TimeTravel(string, string) (string, error) {
	return "", fmt.Errorf("PostgreSQL cannot read a table as of a past time: %w", datadiff.ErrUnsupported)
}
