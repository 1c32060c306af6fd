package difftest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// BenchVersion names the cached benchmark tables; bump it when the
// generator changes so that old caches are rebuilt.
const BenchVersion = "v1"

// BenchRows is the size of the production benchmark table.
const BenchRows = 1000000

// BenchColumns are the 20 compared columns of the benchmark tables.
var BenchColumns = []string{"c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c10",
	"c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19", "c20"}

// BenchDialect spells the benchmark generator for one database.
type BenchDialect struct {
	// Series is a FROM item yielding column i from 1 to n.
	Series func(n int) string
	// Types spells the types the generator names as PostgreSQL does,
	// where the database names them otherwise.
	Types map[string]string
	// Seconds is expr seconds as an interval.
	Seconds func(expr string) string
	// Hour is one hour as an interval.
	Hour string
}

// BenchTablesSQL returns the statements that build the production and PR
// tables: ids 1..BenchRows, 20 columns of mixed types with NULLs; the PR
// copy has about 1% of rows changed in scattered places (one or two
// columns each, NULL to value and back among them), about 0.1% deleted
// and 700 inserted.
func BenchTablesSQL(d BenchDialect, prod, pr string) []string {
	ty := func(n string) string {
		if t, ok := d.Types[n]; ok {
			return t
		}
		return n
	}
	prodSQL := fmt.Sprintf(`CREATE TABLE %s AS
SELECT i AS id,
  CAST(h %% 100000 AS %[3]s) AS c01,
  CAST(h * 31 %% 1000000007 AS %[4]s) AS c02,
  CAST((h %% 1000000) / 100.0 AS %[5]s) AS c03,
  CAST((h %% 10000000) / 10000.0 AS %[6]s) AS c04,
  CAST(h %% 1000003 AS %[7]s) / 7.0 AS c05,
  CAST('name-' || CAST(h %% 50000 AS %[8]s) AS %[8]s) AS c06,
  CAST('city ' || CAST(h %% 977 AS %[8]s) AS %[9]s) AS c07,
  CASE WHEN h %% 10 = 0 THEN NULL ELSE md5(CAST(i AS %[8]s)) END AS c08,
  CAST('2020-01-01 00:00:00' AS %[10]s) + %[11]s AS c09,
  CAST('2020-01-01 00:00:00+00' AS %[12]s) + %[13]s AS c10,
  CAST('2015-01-01' AS %[14]s) + CAST(h %% 3000 AS %[3]s) AS c11,
  (h %% 3 = 0) AS c12,
  CAST(h %% 7 AS %[3]s) AS c13,
  CAST(h %% 123456789 AS %[4]s) AS c14,
  CAST(h %% 99991 AS %[15]s) AS c15,
  CAST(h %% 5000 AS %[7]s) * 1.5 AS c16,
  CASE WHEN h %% 7 = 0 THEN NULL ELSE 'status_' || CAST(h %% 11 AS %[8]s) END AS c17,
  CAST('sku-' || CAST(h %% 300000 AS %[8]s) AS %[9]s) AS c18,
  CAST('2022-06-01 00:00:00' AS %[10]s) + %[16]s AS c19,
  CASE WHEN h %% 13 = 0 THEN NULL ELSE h %% 2 = 0 END AS c20
FROM (SELECT i, (i * 2654435761 %% 4294967291) AS h FROM %[2]s) AS s`,
		prod, d.Series(BenchRows), ty("integer"), ty("bigint"), ty("numeric(12,2)"), ty("numeric(18,4)"), ty("double precision"),
		ty("text"), ty("varchar(40)"), ty("timestamp"), d.Seconds("h % 100000000"), ty("timestamptz"), d.Seconds("h % 90000000"),
		ty("date"), ty("numeric(10,0)"), d.Seconds("h % 5000000"))
	prSQL := fmt.Sprintf(`CREATE TABLE %s AS
SELECT id,
  CASE WHEN g = 1 THEN c01 + 1 ELSE c01 END AS c01,
  c02,
  CASE WHEN g = 2 OR g = 9 THEN c03 + 0.01 ELSE c03 END AS c03,
  c04,
  CASE WHEN g = 3 THEN c05 * 1.5 ELSE c05 END AS c05,
  CASE WHEN g = 4 THEN c06 || 'x' ELSE c06 END AS c06,
  c07,
  CASE WHEN g = 5 THEN NULL WHEN g = 6 AND c08 IS NULL THEN 'was null' ELSE c08 END AS c08,
  CASE WHEN g = 7 THEN c09 + %s ELSE c09 END AS c09,
  c10, c11,
  CASE WHEN g = 8 THEN NOT c12 ELSE c12 END AS c12,
  c13, c14, c15, c16,
  CASE WHEN g = 9 THEN 'changed' ELSE c17 END AS c17,
  c18, c19, c20
FROM (SELECT p.*, CASE WHEN (id * 40503 %% 65521) %% 100 = 0 THEN 1 + (id * 7 %% 9) ELSE 0 END AS g FROM %s AS p) AS s
WHERE (id * 69069 %% 65537) %% 1000 <> 1
UNION ALL
SELECT id + %d, c01, c02, c03, c04, c05, c06, c07, c08, c09, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20 FROM %s WHERE id <= 700`,
		pr, d.Hour, prod, BenchRows, prod)
	return []string{prodSQL, prSQL}
}

// HandWrittenSQL is the statement the engine is measured against: one FULL
// OUTER JOIN computing the row counts and a null-safe inequality flag sum
// for each of the 20 columns.
func HandWrittenSQL(prod, pr string) string {
	var b strings.Builder
	b.WriteString("SELECT count(*), count(a.id), count(b.id)")
	for _, c := range BenchColumns {
		fmt.Fprintf(&b, ",\n sum(CASE WHEN a.%s IS DISTINCT FROM b.%s THEN 1 ELSE 0 END)", c, c)
	}
	fmt.Fprintf(&b, "\nFROM %s AS a FULL OUTER JOIN %s AS b ON a.id = b.id", prod, pr)
	return b.String()
}

// BareJoinSQL is the floor: reading the keys of both sides.
func BareJoinSQL(prod, pr string) string {
	return fmt.Sprintf("SELECT count(*) FROM %s FULL OUTER JOIN %s USING (id)", prod, pr)
}

// BenchSpec diffs the benchmark tables on every column.
func BenchSpec(prod, pr datadiff.Relation, samples int) datadiff.Spec {
	return datadiff.Spec{Prod: &datadiff.Side{Relation: &prod}, PR: datadiff.Side{Relation: &pr}, Key: []string{"id"}, SampleSize: samples}
}

// CheckBenchResult fails the benchmark when the engine's counts are not
// those the generator wrote.
func CheckBenchResult(b *testing.B, res *datadiff.Result) {
	b.Helper()
	if res.Prod.Rows != BenchRows || res.Removed == 0 || res.Added != 700 || res.Changed < BenchRows/200 || len(res.Columns) != 20 {
		b.Fatalf("unexpected result: prod %d rows, added %d, removed %d, changed %d, %d columns", res.Prod.Rows, res.Added, res.Removed, res.Changed, len(res.Columns))
	}
}

// Timing measures the engine against the two reference statements and
// prints the figures and ratios.
type Timing struct {
	Name   string
	Engine func(ctx context.Context) (*datadiff.Result, error)
	// EngineSamples is the engine with samples on.
	EngineSamples func(ctx context.Context) (*datadiff.Result, error)
	// DB runs the reference statements.
	DB         *sql.DB
	Bare, Hand string
}

// Rounds is how many times each contender runs; the fastest run counts,
// which is the figure least disturbed by other work on the machine.
const Rounds = 3

// Run times the contenders in turns (so that a burst of other load hits
// them alike), reports the fastest run of each as metrics and prints a
// summary.
func (tm Timing) Run(b *testing.B) {
	scan := func(q string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			rows, err := tm.DB.QueryContext(ctx, q)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		}
	}
	engine := func(f func(ctx context.Context) (*datadiff.Result, error)) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			res, err := f(ctx)
			if err != nil {
				return err
			}
			CheckBenchResult(b, res)
			return nil
		}
	}
	contenders := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"bare FULL JOIN count", scan(tm.Bare)},
		{"hand-written statement", scan(tm.Hand)},
		{"engine", engine(tm.Engine)},
		{"engine with samples", engine(tm.EngineSamples)},
	}
	best := make([]time.Duration, len(contenders))
	for b.Loop() {
		for range Rounds {
			for i, c := range contenders {
				start := time.Now()
				if err := c.run(b.Context()); err != nil {
					b.Fatalf("%s: %v", c.name, err)
				}
				if d := time.Since(start); best[i] == 0 || d < best[i] {
					best[i] = d
				}
			}
		}
	}
	bare, hand := best[0].Seconds(), best[1].Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(bare, "bare-s")
	b.ReportMetric(hand, "hand-s")
	b.ReportMetric(best[2].Seconds(), "engine-s")
	b.ReportMetric(best[3].Seconds(), "samples-s")
	b.ReportMetric(best[2].Seconds()/hand, "engine/hand")
	fmt.Fprintf(os.Stdout, "\n%s join diff, %d rows × %d columns, fastest of %d runs each:\n", tm.Name, BenchRows, len(BenchColumns), Rounds)
	for i, c := range contenders {
		d := best[i].Seconds()
		fmt.Fprintf(os.Stdout, "  %-22s %7.3fs", c.name, d)
		if i >= 2 {
			fmt.Fprintf(os.Stdout, "  %5.2f× the bare join, %4.2f× the hand-written statement", d/bare, d/hand)
		}
		fmt.Fprintln(os.Stdout)
	}
}
