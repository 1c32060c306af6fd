package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/internal/difftest"
	"github.com/rs/zerolog"
)

func writer(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func env(t *testing.T, path string) *difftest.Env {
	d := Dialect{}
	rw := writer(t, path)
	closed := false
	t.Cleanup(func() {
		if !closed {
			rw.Close()
		}
	})
	return &difftest.Env{
		Name:       "duckdb",
		Exec:       func(ctx context.Context, q string) error { _, err := rw.ExecContext(ctx, q); return err },
		QuoteIdent: d.QuoteIdent,
		TypeSQL: func(ty difftest.Type) string {
			switch ty.Base {
			case "int":
				return "INTEGER"
			case "decimal":
				return fmt.Sprintf("DECIMAL(%d,%d)", ty.P, ty.S)
			case "varchar":
				return fmt.Sprintf("VARCHAR(%d)", ty.P)
			case "bool":
				return "BOOLEAN"
			}
			return strings.ToUpper(ty.Base)
		},
		Lit: difftest.Lit(d.QuoteString),
		Rel: func(name string) datadiff.Relation {
			return datadiff.Relation{Schema: "main", Identifier: name, Quoting: datadiff.Quoting{Schema: true, Identifier: true}}
		},
		Ready: func(t *testing.T) {
			if err := rw.Close(); err != nil {
				t.Fatal(err)
			}
			closed = true
		},
		Source: func(t *testing.T, o datadiff.Options) *datadiff.Source {
			src, err := Open(t.Context(), path, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() })
			return src
		},
		Strategies: []datadiff.JoinStrategy{datadiff.JoinFull, datadiff.JoinLeftAnti},
	}
}

func TestConformance(t *testing.T) {
	difftest.Run(t, env(t, filepath.Join(t.TempDir(), "conformance.duckdb")))
}

func tableSpec(prod, pr string) datadiff.Spec {
	return datadiff.Spec{
		Prod: &datadiff.Side{Relation: &datadiff.Relation{Identifier: prod}},
		PR:   datadiff.Side{Relation: &datadiff.Relation{Identifier: pr}},
		Key:  []string{"id"},
	}
}

// fixture creates tables in a new file and returns its path.
func fixture(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.duckdb")
	rw := writer(t, path)
	for _, s := range stmts {
		if _, err := rw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// slowFilter takes seconds per row to evaluate.
const slowFilter = "(SELECT sum(hash(i)) FROM range(4000000000) AS r(i)) IS NOT NULL"

func TestTimeoutInterruptsStatement(t *testing.T) {
	path := fixture(t, "CREATE TABLE a AS SELECT range AS id, range AS v FROM range(10)", "CREATE TABLE b AS SELECT * FROM a")
	src, err := Open(t.Context(), path, datadiff.Options{QueryTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	spec := tableSpec("a", "b")
	spec.Filter = slowFilter
	_, err = src.Diff(t.Context(), spec)
	if !errors.Is(err, datadiff.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	// The interrupted connections are usable again.
	res, err := src.Diff(t.Context(), tableSpec("a", "b"))
	if err != nil || res.Unchanged != 10 {
		t.Fatalf("diff after timeout: %v, unchanged %d", err, res.Unchanged)
	}
}

// statementLog collects the engine's debug lines about finished statements.
type statementLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *statementLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *statementLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func TestCancelInterruptsStatement(t *testing.T) {
	path := fixture(t, "CREATE TABLE a AS SELECT range AS id, range AS v FROM range(10)", "CREATE TABLE b AS SELECT * FROM a")
	src, err := Open(t.Context(), path, datadiff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	log := &statementLog{}
	logger := zerolog.New(log).Level(zerolog.DebugLevel)
	ctx, cancel := context.WithCancel(logger.WithContext(t.Context()))
	spec := tableSpec("a", "b")
	spec.Filter = slowFilter
	// Once both sides' filter probes have finished, the counts, which
	// evaluate the slow filter, are running.
	wait := difftest.StartDiff(ctx, t, src, spec, func() bool { return log.has("filter production") && log.has("filter PR") })
	cancel()
	if err := wait(); !errors.Is(err, datadiff.ErrCancelled) {
		t.Fatalf("error = %v, want ErrCancelled", err)
	}
	res, err := src.Diff(t.Context(), tableSpec("a", "b"))
	if err != nil || res.Unchanged != 10 {
		t.Fatalf("diff after cancel: %v", err)
	}
}

func TestFilterCannotWrite(t *testing.T) {
	path := fixture(t, "CREATE TABLE a AS SELECT range AS id, range AS v FROM range(3)", "CREATE TABLE b AS SELECT * FROM a", "CREATE SEQUENCE seq")
	src, err := Open(t.Context(), path, datadiff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"nextval('seq') > 0", "1=1; DROP TABLE b", "(SELECT 1) = 1) t; DROP TABLE b; SELECT * FROM (SELECT 1 WHERE (1"} {
		spec := tableSpec("a", "b")
		spec.Filter = f
		if _, err := src.Diff(t.Context(), spec); !errors.Is(err, datadiff.ErrBadFilter) {
			t.Errorf("filter %q: error = %v, want ErrBadFilter", f, err)
		}
	}
	src.Close()
	rw := writer(t, path)
	defer rw.Close()
	var n int
	var cur sql.NullInt64
	if err := rw.QueryRow("SELECT (SELECT count(*) FROM b), (SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'seq')").Scan(&n, &cur); err != nil {
		t.Fatal(err)
	}
	if n != 3 || cur.Valid {
		t.Errorf("after hostile filters: b has %d rows, sequence at %v; want 3 rows and an unused sequence", n, cur)
	}
}

// TestInMemory: an empty DSN is an in-memory database, filled through the
// pool, whose connections compare timestamps in UTC.
func TestInMemory(t *testing.T) {
	// A machine in UTC would hide a session in the machine's time zone.
	t.Setenv("TZ", "Asia/Tokyo")
	src, err := Open(t.Context(), "", datadiff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, s := range []string{
		"CREATE TABLE a (id INTEGER, t TIMESTAMPTZ)", "INSERT INTO a VALUES (1, '2024-01-01 12:00:00+02')",
		"CREATE TABLE b (id INTEGER, t TIMESTAMP)", "INSERT INTO b VALUES (1, '2024-01-01 10:00:00')",
	} {
		if _, err := src.DB().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	spec := tableSpec("a", "b")
	spec.SampleSize = 1
	res, err := src.Diff(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 1 || res.Changed != 0 {
		t.Errorf("unchanged %d changed %d; want the same instant to compare equal", res.Unchanged, res.Changed)
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "nope.duckdb"), datadiff.Options{})
	if err == nil {
		t.Fatal("opening a missing file read-only succeeded")
	}
}
