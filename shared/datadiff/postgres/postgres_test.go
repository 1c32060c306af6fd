package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/internal/difftest"
	"github.com/diffgate/diffgate/shared/datadiff/warehousetest"
)

// testDB creates a database with a unique name, dropped when the test
// ends, and returns its DSN and a read-write connection to it.
func testDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	_, dsn, _ := warehousetest.Postgres(t, "diffgate_test")
	rw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	return dsn, rw
}

func env(t *testing.T, dsn string, rw *sql.DB) *difftest.Env {
	d := Dialect{}
	return &difftest.Env{
		Name:       "postgres",
		Exec:       func(ctx context.Context, q string) error { _, err := rw.ExecContext(ctx, q); return err },
		QuoteIdent: d.QuoteIdent,
		TypeSQL: func(ty difftest.Type) string {
			switch ty.Base {
			case "int":
				return "integer"
			case "decimal":
				return fmt.Sprintf("numeric(%d,%d)", ty.P, ty.S)
			case "double":
				return "double precision"
			case "varchar":
				return fmt.Sprintf("varchar(%d)", ty.P)
			case "bool":
				return "boolean"
			}
			return ty.Base
		},
		Lit: difftest.Lit(d.QuoteString),
		Rel: func(name string) datadiff.Relation {
			return datadiff.Relation{Schema: "public", Identifier: name, Quoting: datadiff.Quoting{Schema: true, Identifier: true}}
		},
		Source:     func(t *testing.T, o datadiff.Options) *datadiff.Source { return open(t, dsn, o) },
		Strategies: []datadiff.JoinStrategy{datadiff.JoinFull, datadiff.JoinLeftAnti},
	}
}

func TestConformance(t *testing.T) {
	dsn, rw := testDB(t)
	difftest.Run(t, env(t, dsn, rw))
}

func open(t *testing.T, dsn string, o datadiff.Options) *datadiff.Source {
	t.Helper()
	src, err := Open(t.Context(), dsn, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func tableSpec(prod, pr string) datadiff.Spec {
	return datadiff.Spec{
		Prod: &datadiff.Side{Relation: &datadiff.Relation{Schema: "public", Identifier: prod}},
		PR:   datadiff.Side{Relation: &datadiff.Relation{Schema: "public", Identifier: pr}},
		Key:  []string{"id"},
	}
}

// activeSleeps counts statements of the test database running pg_sleep.
func activeSleeps(t *testing.T, admin *sql.DB, db string) int {
	t.Helper()
	var n int
	err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep(%' AND pid <> pg_backend_pid()`, db).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sleepyDiff opens a source on a test database and returns a diff whose
// filter sleeps an hour on every row, and a connection that sees that
// database's statements (activeSleeps).
func sleepyDiff(t *testing.T) (src *datadiff.Source, spec datadiff.Spec, admin *sql.DB, db string) {
	t.Helper()
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id int, v int)", "INSERT INTO a VALUES (1, 1), (2, 2)", "CREATE TABLE b AS SELECT * FROM a")
	admin, err := sql.Open("pgx", warehousetest.PostgresServer())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	spec = tableSpec("a", "b")
	spec.Filter = "pg_sleep(3600) IS NOT NULL"
	return open(t, dsn, datadiff.Options{}), spec, admin, strings.TrimPrefix(u.Path, "/")
}

func TestCancelStopsQueryOnServer(t *testing.T) {
	src, spec, admin, db := sleepyDiff(t)
	ctx, cancel := context.WithCancel(t.Context())
	wait := difftest.StartDiff(ctx, t, src, spec, func() bool { return activeSleeps(t, admin, db) > 0 })
	cancel()
	if err := wait(); !errors.Is(err, datadiff.ErrCancelled) {
		t.Fatalf("error = %v, want ErrCancelled", err)
	}
	difftest.Poll(t, "the server to stop the statements", func() bool { return activeSleeps(t, admin, db) == 0 })
}

// TestTerminatedConnectionIsUnavailable: a server that ends the diff's
// connections (an administrator, a restart) makes the diff unavailable,
// worth trying again, not a failure of the diff itself.
func TestTerminatedConnectionIsUnavailable(t *testing.T) {
	src, spec, admin, db := sleepyDiff(t)
	wait := difftest.StartDiff(t.Context(), t, src, spec, func() bool { return activeSleeps(t, admin, db) > 0 })
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND query LIKE '%pg_sleep(%' AND pid <> pg_backend_pid()`, db); err != nil {
		t.Fatal(err)
	}
	err := wait()
	if !errors.Is(err, datadiff.ErrUnavailable) || datadiff.Code(err) != datadiff.CodeUnavailable {
		t.Fatalf("error = %v (code %s), want unavailable", err, datadiff.Code(err))
	}
}

func TestStatementTimeout(t *testing.T) {
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id int, v int)", "INSERT INTO a VALUES (1, 1)", "CREATE TABLE b AS SELECT * FROM a")
	src := open(t, dsn, datadiff.Options{QueryTimeout: 200 * time.Millisecond})
	spec := tableSpec("a", "b")
	spec.Filter = "pg_sleep(30) IS NOT NULL"
	_, err := src.Diff(t.Context(), spec)
	if !errors.Is(err, datadiff.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	if datadiff.Code(err) != datadiff.CodeTimeout || !strings.Contains(err.Error(), "query timeout") {
		t.Errorf("error %q (code %s) does not say it timed out", err, datadiff.Code(err))
	}
}

func TestFilterWithSideEffectsChangesNothing(t *testing.T) {
	dsn, rw := testDB(t)
	mustExec(t, rw,
		"CREATE TABLE a (id int, v int)", "INSERT INTO a VALUES (1, 1), (2, 2)", "CREATE TABLE b AS SELECT * FROM a",
		"CREATE TABLE audit (n int)",
		"CREATE SEQUENCE seq",
		`CREATE FUNCTION bump() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (1); RETURN true; END $$`,
		`CREATE FUNCTION wipe() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN DROP TABLE b; RETURN true; END $$`,
	)
	src := open(t, dsn, datadiff.Options{})
	for _, f := range []string{"bump()", "nextval('seq') > 0", "wipe()", "1=1; DROP TABLE b", "id IN (SELECT 1) OR (SELECT wipe())"} {
		t.Run(f, func(t *testing.T) {
			spec := tableSpec("a", "b")
			spec.Filter = f
			_, err := src.Diff(t.Context(), spec)
			if !errors.Is(err, datadiff.ErrBadFilter) {
				t.Fatalf("error = %v, want ErrBadFilter", err)
			}
		})
	}
	var audit, rows int
	var called bool
	if err := rw.QueryRow("SELECT (SELECT count(*) FROM audit), (SELECT count(*) FROM b), (SELECT is_called FROM seq)").Scan(&audit, &rows, &called); err != nil {
		t.Fatal(err)
	}
	if audit != 0 || rows != 2 || called {
		t.Errorf("after hostile filters: audit rows %d, b rows %d, sequence called %v; want 0, 2, false", audit, rows, called)
	}
}

func TestPermissionDenied(t *testing.T) {
	// The role is dropped after the database (cleanups run last first),
	// when no privilege of it is left.
	role := "diffgate_test_role_" + warehousetest.RandHex(4)
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", warehousetest.PostgresServer())
		if err == nil {
			if _, err := admin.Exec("DROP ROLE IF EXISTS " + role); err != nil {
				t.Errorf("drop test role: %v", err)
			}
			admin.Close()
		}
	})
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id int, v int)", "INSERT INTO a VALUES (1, 1)", "CREATE TABLE b AS SELECT * FROM a",
		"CREATE ROLE "+role+" LOGIN", "GRANT SELECT ON a TO "+role)
	u, _ := url.Parse(dsn)
	u.User = url.User(role)
	src := open(t, u.String(), datadiff.Options{})
	_, err := src.Diff(t.Context(), tableSpec("a", "b"))
	if !errors.Is(err, datadiff.ErrPermissionDenied) {
		t.Fatalf("error = %v, want ErrPermissionDenied", err)
	}
	var de *datadiff.Error
	if !errors.As(err, &de) || de.Side != "PR" || de.Relation != "public.b" {
		t.Errorf("error does not name the PR relation public.b: %#v", de)
	}
}

func TestUnquotedNamesFoldToLowerCase(t *testing.T) {
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE SCHEMA analytics", "CREATE TABLE analytics.orders (id int, v int)", "INSERT INTO analytics.orders VALUES (1, 1)",
		`CREATE TABLE analytics."Orders" (id int, v int)`, `INSERT INTO analytics."Orders" VALUES (1, 2)`)
	src := open(t, dsn, datadiff.Options{})
	unquoted := datadiff.Relation{Schema: "ANALYTICS", Identifier: "ORDERS"}
	quoted := datadiff.Relation{Schema: "analytics", Identifier: "Orders", Quoting: datadiff.Quoting{Identifier: true}}
	res, err := src.Diff(t.Context(), datadiff.Spec{Prod: &datadiff.Side{Relation: &unquoted}, PR: datadiff.Side{Relation: &quoted}, Key: []string{"ID"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 1 || res.Columns[0].Mismatches != 1 {
		t.Errorf("changed %d, want 1 (orders vs \"Orders\")", res.Changed)
	}
	wrongCase := datadiff.Relation{Schema: "analytics", Identifier: "ORDERS", Quoting: datadiff.Quoting{Identifier: true}}
	res, err = src.Diff(t.Context(), datadiff.Spec{Prod: &datadiff.Side{Relation: &unquoted}, PR: datadiff.Side{Relation: &wrongCase}, Key: []string{"id"}})
	if err != nil || res.Status != datadiff.StatusNotBuilt {
		t.Errorf("quoted \"ORDERS\": status %v, err %v; want not built", res.Status, err)
	}
}

func TestTimeTravelUnsupported(t *testing.T) {
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id int)", "CREATE TABLE b (id int)")
	src := open(t, dsn, datadiff.Options{})
	spec := tableSpec("a", "b")
	spec.Prod.TimeTravel = "2024-01-01"
	_, err := src.Diff(t.Context(), spec)
	if !errors.Is(err, datadiff.ErrUnsupported) {
		t.Fatalf("error = %v, want ErrUnsupported", err)
	}
}

// TestOpenMissingDatabase: a database that does not exist is for a person
// to fix, not a warehouse to wait for.
func TestOpenMissingDatabase(t *testing.T) {
	testDB(t) // skips or fails without a server
	_, err := Open(t.Context(), warehousetest.PostgresDSN(t, "diffgate_test_absent_"+warehousetest.RandHex(6)), datadiff.Options{})
	if err == nil || errors.Is(err, datadiff.ErrUnavailable) {
		t.Fatalf("error = %v, want one that is not ErrUnavailable", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"shutting down", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, datadiff.ErrUnavailable},
		{"crashed", &pgconn.PgError{Code: "57P02"}, datadiff.ErrUnavailable},
		{"starting up", &pgconn.PgError{Code: "57P03"}, datadiff.ErrUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, datadiff.ErrUnavailable},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, datadiff.ErrUnavailable},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, datadiff.ErrUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, datadiff.ErrUnavailable},
		{"statement timeout", &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, datadiff.ErrTimeout},
		{"cancelled", &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"}, datadiff.ErrCancelled},
		{"no such table", fmt.Errorf("count: %w", &pgconn.PgError{Code: "42P01"}), datadiff.ErrRelationMissing},
		{"permission denied", &pgconn.PgError{Code: "42501"}, datadiff.ErrPermissionDenied},
		{"write refused", &pgconn.PgError{Code: "25006"}, datadiff.ErrBadFilter},
		{"wrong password", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}, nil},
		{"syntax error", &pgconn.PgError{Code: "42601"}, nil},
		{"not a database error", errors.New("division by zero"), nil},
	} {
		if got := (Dialect{}).Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}
