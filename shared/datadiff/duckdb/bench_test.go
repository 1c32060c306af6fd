package duckdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/internal/difftest"
)

// benchFile is where the benchmark tables are kept between runs.
func benchFile() string {
	return filepath.Join(os.TempDir(), "diffgate_bench_"+difftest.BenchVersion+".duckdb")
}

// benchTables builds the tables of BenchVersion the first time.
func benchTables(b *testing.B) string {
	b.Helper()
	path := benchFile()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var ready bool
	if err := db.QueryRow("SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'ready'").Scan(&ready); err != nil {
		b.Fatal(err)
	}
	if ready {
		return path
	}
	b.Logf("building the %s benchmark tables in %s (once)", difftest.BenchVersion, path)
	stmts := []string{"DROP TABLE IF EXISTS prod", "DROP TABLE IF EXISTS pr"}
	stmts = append(stmts, difftest.BenchTablesSQL(difftest.BenchDialect{
		Series:  func(n int) string { return "range(1, " + strconv.Itoa(n+1) + ") AS g(i)" },
		Types:   map[string]string{"double precision": "DOUBLE"},
		Seconds: func(e string) string { return "to_seconds(" + e + ")" },
		Hour:    "INTERVAL 1 HOUR",
	}, "prod", "pr")...)
	stmts = append(stmts, "CHECKPOINT", "CREATE TABLE ready (built TIMESTAMP DEFAULT current_timestamp)")
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			b.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// BenchmarkJoinDiff times the engine on 1M × 20 columns against a bare
// FULL JOIN count and difftest.HandWrittenSQL.
func BenchmarkJoinDiff(b *testing.B) {
	path := benchTables(b)
	src, err := Open(b.Context(), path, datadiff.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	rel := func(n string) datadiff.Relation { return datadiff.Relation{Identifier: n} }
	difftest.Timing{
		Name: "DuckDB",
		Engine: func(ctx context.Context) (*datadiff.Result, error) {
			return src.Diff(ctx, difftest.BenchSpec(rel("prod"), rel("pr"), 0))
		},
		EngineSamples: func(ctx context.Context) (*datadiff.Result, error) {
			return src.Diff(ctx, difftest.BenchSpec(rel("prod"), rel("pr"), 10))
		},
		DB:   src.DB(),
		Bare: difftest.BareJoinSQL("prod", "pr"),
		Hand: difftest.HandWrittenSQL("prod", "pr"),
	}.Run(b)
}
