package sandbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	duckdbdrv "github.com/duckdb/duckdb-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver

	"github.com/diffgate/diffgate/shared/config"
)

// ErrWarehouse wraps a failure to build the sample tables.
var ErrWarehouse = errors.New("sandbox: warehouse")

// Warehouse is where the sample project's builds live.
type Warehouse interface {
	// Type is the data source type of diffgate.yaml.
	Type() string
	// DSN is the data source's dsn.
	DSN() string
	// Database is the database name dbt writes in relation names.
	Database() string
	// Build replaces schema with the tables.
	Build(ctx context.Context, schema string, tables []*Table) error
	// Close releases the warehouse (and drops what it created, for a
	// PostgreSQL database of its own).
	Close() error
}

// DuckDB is a warehouse in a DuckDB file. Build every schema before
// diffgate opens the file: a process that holds it open read-only (the
// differ) cannot open it for writing too.
type DuckDB struct{ path string }

// NewDuckDB returns a warehouse in the DuckDB file path (created when
// missing); the database is named after the file, as DuckDB names it.
func NewDuckDB(path string) *DuckDB { return &DuckDB{path: path} }

// Type implements Warehouse.
func (*DuckDB) Type() string { return config.TypeDuckDB }

// DSN implements Warehouse.
func (d *DuckDB) DSN() string { return d.path }

// Database implements Warehouse.
func (d *DuckDB) Database() string {
	return strings.TrimSuffix(filepath.Base(d.path), filepath.Ext(d.path))
}

// Build implements Warehouse.
func (d *DuckDB) Build(ctx context.Context, schema string, tables []*Table) error {
	c, err := duckdbdrv.NewConnector(d.path, nil)
	if err != nil {
		return fmt.Errorf("%w: open %s: %w", ErrWarehouse, d.path, err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	return buildSchema(ctx, db, schema, tables)
}

// Close implements Warehouse; the file stays.
func (*DuckDB) Close() error { return nil }

// Postgres is a PostgreSQL database of the warehouse's own, created by
// NewPostgres and dropped by Close (unless Keep).
type Postgres struct {
	admin *sql.DB
	db    *sql.DB
	name  string
	dsn   string
	keep  bool
}

// postgresURL is the server's URL for database (e.g. "postgres").
func postgresURL(server, database string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("%w: server URL: %w", ErrWarehouse, err)
	}
	u.Path = "/" + database
	return u.String(), nil
}

// NewPostgres creates a database named prefix_<random> on the server at
// serverURL (a URL whose path names any database the user may connect
// to).
func NewPostgres(ctx context.Context, serverURL, prefix string) (*Postgres, error) {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return OpenPostgres(ctx, serverURL, prefix+"_"+hex.EncodeToString(b[:]), false)
}

// OpenPostgres opens database name on the server, creating it when it
// does not exist; keep leaves it there on Close (a benchmark's cache).
func OpenPostgres(ctx context.Context, serverURL, name string, keep bool) (*Postgres, error) {
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWarehouse, err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("%w: PostgreSQL at %s: %w", ErrWarehouse, redactURL(serverURL), err)
	}
	var exists bool
	if err := admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		admin.Close()
		return nil, fmt.Errorf("%w: %w", ErrWarehouse, err)
	}
	if !exists {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+quote(name)); err != nil {
			admin.Close()
			return nil, fmt.Errorf("%w: create database %s: %w", ErrWarehouse, name, err)
		}
	}
	dsn, err := postgresURL(serverURL, name)
	if err != nil {
		admin.Close()
		return nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("%w: %w", ErrWarehouse, err)
	}
	return &Postgres{admin: admin, db: db, name: name, dsn: dsn, keep: keep}, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable URL)"
	}
	return u.Redacted()
}

// Type implements Warehouse.
func (*Postgres) Type() string { return config.TypePostgres }

// DSN implements Warehouse.
func (p *Postgres) DSN() string { return p.dsn }

// Database implements Warehouse.
func (p *Postgres) Database() string { return p.name }

// DB is a pool on the database.
func (p *Postgres) DB() *sql.DB { return p.db }

// Build implements Warehouse.
func (p *Postgres) Build(ctx context.Context, schema string, tables []*Table) error {
	return buildSchema(ctx, p.db, schema, tables)
}

// Close implements Warehouse: it drops the database unless kept.
func (p *Postgres) Close() error {
	p.db.Close()
	defer p.admin.Close()
	if p.keep {
		return nil
	}
	if _, err := p.admin.Exec("DROP DATABASE IF EXISTS " + quote(p.name) + " WITH (FORCE)"); err != nil {
		return fmt.Errorf("%w: drop database %s: %w", ErrWarehouse, p.name, err)
	}
	return nil
}

// quote quotes an identifier the way PostgreSQL and DuckDB both read it.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// buildSchema replaces schema with the tables, in one transaction.
func buildSchema(ctx context.Context, db *sql.DB, schema string, tables []*Table) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWarehouse, err)
	}
	defer func() { _ = tx.Rollback() }()
	stmts := []string{"DROP SCHEMA IF EXISTS " + quote(schema) + " CASCADE", "CREATE SCHEMA " + quote(schema)}
	for _, t := range tables {
		stmts = append(stmts, tableSQL(schema, t)...)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrWarehouse, firstLine(s), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: %w", ErrWarehouse, err)
	}
	return nil
}

// tableSQL creates a table and inserts its rows, 500 a statement.
func tableSQL(schema string, t *Table) []string {
	name := quote(schema) + "." + quote(t.Name)
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quote(c.Name) + " " + c.Type
	}
	out := []string{"CREATE TABLE " + name + " (" + strings.Join(cols, ", ") + ")"}
	for start := 0; start < len(t.Rows); start += 500 {
		var b strings.Builder
		b.WriteString("INSERT INTO " + name + " VALUES ")
		for i, r := range t.Rows[start:min(start+500, len(t.Rows))] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j, v := range r {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(literal(v))
			}
			b.WriteByte(')')
		}
		out = append(out, b.String())
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
