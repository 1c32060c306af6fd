package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/internal/difftest"
	"github.com/diffgate/diffgate/shared/datadiff/warehousetest"
	"github.com/diffgate/diffgate/shared/testenv"
)

// benchDB is the database the benchmark tables live in, kept between runs.
const benchDB = "diffgate_bench"

// benchTables returns the DSN of the benchmark database, building the
// tables of BenchVersion the first time.
func benchTables(b *testing.B) (dsn, prod, pr string) {
	b.Helper()
	admin, err := sql.Open("pgx", warehousetest.PostgresServer())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if err := admin.PingContext(b.Context()); err != nil {
		testenv.SkipOrFail(b, "PostgreSQL not reachable: %v", err)
	}
	var exists bool
	if err := admin.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", benchDB).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec("CREATE DATABASE " + benchDB); err != nil {
			b.Fatal(err)
		}
	}
	dsn = warehousetest.PostgresDSN(b, benchDB)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v := difftest.BenchVersion
	prod, pr = v+"_prod", v+"_pr"
	var ready bool
	if err := db.QueryRow("SELECT to_regclass($1) IS NOT NULL", v+"_ready").Scan(&ready); err != nil {
		b.Fatal(err)
	}
	if !ready {
		b.Logf("building the %s benchmark tables in database %s (once)", v, benchDB)
		stmts := []string{"DROP TABLE IF EXISTS " + prod + ", " + pr}
		stmts = append(stmts, difftest.BenchTablesSQL(difftest.BenchDialect{
			Series:  func(n int) string { return "generate_series(1::bigint, " + itoa(n) + ") AS g(i)" },
			Seconds: func(e string) string { return "(" + e + ") * interval '1 second'" },
			Hour:    "interval '1 hour'",
		}, prod, pr)...)
		stmts = append(stmts, "VACUUM ANALYZE "+prod, "VACUUM ANALYZE "+pr, "CREATE TABLE "+v+"_ready (built timestamptz DEFAULT now())")
		for _, s := range stmts {
			if _, err := db.ExecContext(context.Background(), s); err != nil {
				b.Fatalf("%s: %v", s, err)
			}
		}
	}
	return dsn, prod, pr
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkJoinDiff times the engine on 1M × 20 columns against a bare
// FULL JOIN count and difftest.HandWrittenSQL.
func BenchmarkJoinDiff(b *testing.B) {
	dsn, prod, pr := benchTables(b)
	src, err := Open(b.Context(), dsn, datadiff.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ref, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	rel := func(n string) datadiff.Relation { return datadiff.Relation{Schema: "public", Identifier: n} }
	difftest.Timing{
		Name: "PostgreSQL",
		Engine: func(ctx context.Context) (*datadiff.Result, error) {
			return src.Diff(ctx, difftest.BenchSpec(rel(prod), rel(pr), 0))
		},
		EngineSamples: func(ctx context.Context) (*datadiff.Result, error) {
			return src.Diff(ctx, difftest.BenchSpec(rel(prod), rel(pr), 10))
		},
		DB:   ref,
		Bare: difftest.BareJoinSQL(prod, pr),
		Hand: difftest.HandWrittenSQL(prod, pr),
	}.Run(b)
}
