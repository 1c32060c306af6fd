// Package mysql is the MySQL and MariaDB dialect of the diff engine, on
// go-sql-driver/mysql.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	driver "github.com/go-sql-driver/mysql"
)

// ParseDSN reads a DSN in the driver's form (user:pass@tcp(host:3306)/db)
// or as a URL (mysql://user:pass@host:3306/db?param=value).
func ParseDSN(dsn string) (*driver.Config, error) {
	if !strings.HasPrefix(dsn, "mysql://") && !strings.HasPrefix(dsn, "mariadb://") {
		cfg, err := driver.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("mysql: bad DSN: %w", err)
		}
		return cfg, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, errors.New("mysql: bad DSN URL") // url errors repeat the URL, password included
	}
	cfg := driver.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, port)
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	for k, vs := range u.Query() {
		if len(vs) > 0 {
			if cfg.Params == nil {
				cfg.Params = map[string]string{}
			}
			cfg.Params[k] = vs[0]
		}
	}
	return cfg, nil
}

// Open connects to MySQL or MariaDB. Statements go one per string (multi
// statements are off) and a cancelled context kills the running statement
// on the server with KILL QUERY from a connection of its own.
func Open(ctx context.Context, dsn string, o datadiff.Options) (*datadiff.Source, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MultiStatements = false
	cfg.InterpolateParams = false
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	control := sql.OpenDB(conn)
	control.SetMaxOpenConns(1)
	var version string
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.QueryRowContext(pctx, "SELECT VERSION()").Scan(&version); err != nil {
		db.Close()
		control.Close()
		return nil, fmt.Errorf("mysql: connect to %s: %w", cfg.Addr, datadiff.ConnectError(&Dialect{}, err))
	}
	d := &Dialect{MariaDB: strings.Contains(strings.ToLower(version), "mariadb"), control: control}
	o.OnClose = control.Close
	return datadiff.NewSource(db, d, o), nil
}

// Dialect is MySQL (8.0 and later) or MariaDB (10.6 and later).
type Dialect struct {
	// MariaDB selects MariaDB's session settings and collations.
	MariaDB bool
	control *sql.DB // kills statements; nil disables Interrupt
}

// Name implements datadiff.Dialect.
func (*Dialect) Name() string { return "mysql" }

// QuoteIdent implements datadiff.Dialect.
func (*Dialect) QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// QuoteString implements datadiff.Dialect (backslashes are escapes).
func (*Dialect) QuoteString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}

// Relation implements datadiff.Dialect. MySQL has databases, not schemas
// within them: the schema part names the database (dbt-mysql's
// convention), else the database part. Names are not folded.
func (d *Dialect) Relation(r datadiff.Relation) (string, error) {
	db := r.Schema
	if db == "" {
		db = r.Database
	}
	for _, p := range []string{db, r.Identifier} {
		if strings.ContainsRune(p, 0) {
			return "", fmt.Errorf("name %q contains a NUL byte", p)
		}
	}
	if db == "" {
		return d.QuoteIdent(r.Identifier), nil
	}
	return d.QuoteIdent(db) + "." + d.QuoteIdent(r.Identifier), nil
}

// SameName implements datadiff.Dialect: column names match without regard
// to case.
func (*Dialect) SameName(a, b string) bool { return strings.EqualFold(a, b) }

// Lexical implements datadiff.Dialect.
func (*Dialect) Lexical() datadiff.Lexical {
	return datadiff.Lexical{BackslashEscapes: true, DoubleQuoteStrings: true, Backticks: true, HashComments: true, DashCommentNeedsSpace: true}
}

// FullOuterJoin implements datadiff.Dialect: MySQL has no FULL JOIN.
func (*Dialect) FullOuterJoin() bool { return false }

// Begin implements datadiff.Dialect. On MariaDB the join cache settings
// let the unindexed equi-joins of a diff use hashed join buffers instead
// of nested loops.
func (d *Dialect) Begin(timeout time.Duration) []string {
	var set string
	if d.MariaDB {
		set = "SET SESSION max_statement_time = " + strconv.FormatFloat(timeout.Seconds(), 'f', 3, 64) +
			", time_zone = '+00:00', join_cache_level = 4, join_buffer_size = 134217728, join_buffer_space_limit = 268435456"
	} else {
		set = "SET SESSION max_execution_time = " + strconv.FormatInt(timeout.Milliseconds(), 10) + ", time_zone = '+00:00'"
	}
	return []string{set, "START TRANSACTION READ ONLY"}
}

// Interrupt implements datadiff.Interrupter: the driver only closes its
// socket when a context ends, and the server would finish the statement.
func (d *Dialect) Interrupt(ctx context.Context, conn *sql.Conn) (func(), error) {
	if d.control == nil {
		return func() {}, nil
	}
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		return nil, err
	}
	return func() {
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = d.control.ExecContext(kctx, "KILL QUERY "+strconv.FormatInt(id, 10))
	}, nil
}

var intWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)`)

// Columns implements datadiff.Dialect: the query runs with LIMIT 0, which
// checks names and privileges without reading a row. Types come from
// information_schema for relations and from the result's metadata for
// queries.
func (d *Dialect) Columns(ctx context.Context, conn *sql.Conn, query string, rel *datadiff.Relation) ([]datadiff.Column, error) {
	rows, err := conn.QueryContext(ctx, query+"\nLIMIT 0")
	if err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, err
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cols := make([]datadiff.Column, len(cts))
	for i, ct := range cts {
		t := strings.ToLower(ct.DatabaseTypeName())
		if rest, ok := strings.CutPrefix(t, "unsigned "); ok {
			t = rest + " unsigned"
		}
		if p, s, ok := ct.DecimalSize(); ok && t == "decimal" {
			t = fmt.Sprintf("decimal(%d,%d)", p, s)
		}
		cols[i] = datadiff.Column{Name: ct.Name(), Type: t}
	}
	if rel == nil {
		return cols, nil
	}
	db := rel.Schema
	if db == "" {
		db = rel.Database
	}
	irows, err := conn.QueryContext(ctx,
		"SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?",
		db, rel.Identifier)
	if err != nil {
		return nil, err
	}
	defer irows.Close()
	types := map[string]string{}
	for irows.Next() {
		var name, typ string
		if err := irows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		typ = strings.ToLower(typ)
		if !strings.HasPrefix(typ, "tinyint(1)") {
			typ = intWidth.ReplaceAllString(typ, "$1")
		}
		types[strings.ToLower(name)] = typ
	}
	if err := irows.Err(); err != nil {
		return nil, err
	}
	for i := range cols {
		if t, ok := types[strings.ToLower(cols[i].Name)]; ok {
			cols[i].Type = t
		}
	}
	return cols, nil
}

// Classify implements datadiff.Dialect.
func (*Dialect) Classify(err error) error {
	var me *driver.MySQLError
	if !errors.As(err, &me) {
		if errors.Is(err, driver.ErrInvalidConn) {
			// The driver's word for a connection that broke mid-statement.
			return datadiff.ErrUnavailable
		}
		return nil
	}
	switch me.Number {
	case 1146, 1049: // no such table, unknown database
		return datadiff.ErrRelationMissing
	case 1142, 1143, 1044, 1227: // table, column, database access denied; needs a privilege
		return datadiff.ErrPermissionDenied
	case 1969, 3024: // MariaDB max_statement_time, MySQL max_execution_time
		return datadiff.ErrTimeout
	case 1317: // query interrupted
		return datadiff.ErrCancelled
	case 1792, 1290: // read-only transaction, read-only server
		return datadiff.ErrBadFilter
	case 1040, 1053, 1205, 1213, 1927: // too many connections, shutting down, lock wait timeout, deadlock, connection killed (MariaDB)
		return datadiff.ErrUnavailable
	}
	return nil
}

// base returns a type's name without its parameters.
func base(typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	return t
}

// Kind implements datadiff.Dialect.
func (*Dialect) Kind(typ string) datadiff.Kind {
	switch base(typ) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return datadiff.KindInteger
	case "decimal", "numeric":
		return datadiff.KindDecimal
	case "float":
		return datadiff.KindReal
	case "double", "real":
		return datadiff.KindFloat
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return datadiff.KindText
	case "json":
		return datadiff.KindJSON
	case "date":
		return datadiff.KindDate
	case "datetime":
		return datadiff.KindTimestamp
	case "timestamp":
		return datadiff.KindTimestampTZ
	case "time":
		return datadiff.KindTime
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return datadiff.KindBinary
	}
	return datadiff.KindOther
}

// binCollation compares strings byte by byte, trailing spaces included.
func (d *Dialect) binCollation() string {
	if d.MariaDB {
		return "utf8mb4_nopad_bin"
	}
	return "utf8mb4_0900_bin"
}

// Comparable implements datadiff.Dialect: strings compare byte by byte,
// not by the column's (usually case-insensitive) collation.
func (d *Dialect) Comparable(expr, typ string) string {
	if d.Kind(typ) == datadiff.KindText {
		return "(CONVERT(" + expr + " USING utf8mb4) COLLATE " + d.binCollation() + ")"
	}
	return expr
}

// Distinct implements datadiff.Dialect with the null-safe equality <=>.
func (*Dialect) Distinct(x, y string) string { return "NOT (" + x + " <=> " + y + ")" }

// Text implements datadiff.Dialect: binary values as hex, everything else
// as utf8mb4 text compared byte by byte.
func (d *Dialect) Text(expr, typ string) string {
	if d.Kind(typ) == datadiff.KindBinary {
		return "HEX(" + expr + ")"
	}
	return "(CAST(" + expr + " AS CHAR CHARACTER SET utf8mb4) COLLATE " + d.binCollation() + ")"
}

// Integer implements datadiff.Dialect: booleans are integers already.
func (*Dialect) Integer(expr string) string { return expr }

// TimeTravel implements datadiff.Dialect.
func (*Dialect) TimeTravel(string, string) (string, error) {
	return "", fmt.Errorf("MySQL cannot read a table as of a past time: %w", datadiff.ErrUnsupported)
}
