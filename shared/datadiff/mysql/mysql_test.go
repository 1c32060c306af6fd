package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/internal/difftest"
	"github.com/diffgate/diffgate/shared/datadiff/warehousetest"
)

// testDB creates a database with a unique name, dropped when the test
// ends, and returns its DSN and a read-write connection in UTC.
func testDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	_, cfg := warehousetest.MySQL(t, "diffgate_test")
	dsn := cfg.FormatDSN()
	cfg.Params = map[string]string{"time_zone": "'+00:00'"}
	rw, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	return dsn, rw
}

func env(t *testing.T, dsn, dbName string, rw *sql.DB) *difftest.Env {
	d := &Dialect{}
	lit := difftest.Lit(d.QuoteString)
	return &difftest.Env{
		Name:       "mysql",
		Exec:       func(ctx context.Context, q string) error { _, err := rw.ExecContext(ctx, q); return err },
		QuoteIdent: d.QuoteIdent,
		TypeSQL: func(ty difftest.Type) string {
			switch ty.Base {
			case "decimal":
				return fmt.Sprintf("DECIMAL(%d,%d)", ty.P, ty.S)
			case "varchar":
				return fmt.Sprintf("VARCHAR(%d)", ty.P)
			case "real":
				return "FLOAT"
			case "bool":
				return "BOOLEAN"
			case "timestamp":
				return "DATETIME"
			case "timestamptz":
				return "TIMESTAMP NULL"
			}
			return strings.ToUpper(ty.Base)
		},
		Lit: func(v any, ty difftest.Type) string {
			// A timestamptz is a TIMESTAMP, which takes UTC from this
			// session without an offset.
			if x, ok := v.(string); ok && ty.Base == "timestamptz" {
				ts, err := time.Parse("2006-01-02 15:04:05-07", x)
				if err != nil {
					panic(err)
				}
				v = ts.UTC().Format("2006-01-02 15:04:05")
			}
			return lit(v, ty)
		},
		Rel: func(name string) datadiff.Relation {
			return datadiff.Relation{Schema: dbName, Identifier: name, Quoting: datadiff.Quoting{Schema: true, Identifier: true}}
		},
		Source:     func(t *testing.T, o datadiff.Options) *datadiff.Source { return open(t, dsn, o) },
		Strategies: []datadiff.JoinStrategy{datadiff.JoinAuto},
	}
}

func dbName(t *testing.T, dsn string) string {
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.DBName
}

func TestConformance(t *testing.T) {
	dsn, rw := testDB(t)
	difftest.Run(t, env(t, dsn, dbName(t, dsn), rw))
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
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

func tableSpec(prod, pr string) datadiff.Spec {
	return datadiff.Spec{
		Prod: &datadiff.Side{Relation: &datadiff.Relation{Identifier: prod}},
		PR:   datadiff.Side{Relation: &datadiff.Relation{Identifier: pr}},
		Key:  []string{"id"},
	}
}

// sleepers returns the connections of test database db running SLEEP.
func sleepers(t *testing.T, rw *sql.DB, db string) []int64 {
	t.Helper()
	rows, err := rw.Query(`SELECT ID FROM information_schema.PROCESSLIST
		WHERE DB = ? AND COMMAND = 'Query' AND INFO LIKE '%SLEEP(%' AND ID <> CONNECTION_ID()`, db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sleepyDiff opens a source on a test database and returns a diff whose
// filter sleeps an hour on every row, and a connection that sees that
// database's statements (sleepers).
func sleepyDiff(t *testing.T) (src *datadiff.Source, spec datadiff.Spec, rw *sql.DB, db string) {
	t.Helper()
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id INT, v INT)", "INSERT INTO a VALUES (1, 1), (2, 2)", "CREATE TABLE b AS SELECT * FROM a")
	spec = tableSpec("a", "b")
	spec.Filter = "SLEEP(3600) = 0"
	return open(t, dsn, datadiff.Options{}), spec, rw, dbName(t, dsn)
}

func TestCancelKillsQueryOnServer(t *testing.T) {
	src, spec, rw, db := sleepyDiff(t)
	ctx, cancel := context.WithCancel(t.Context())
	wait := difftest.StartDiff(ctx, t, src, spec, func() bool { return len(sleepers(t, rw, db)) > 0 })
	cancel()
	if err := wait(); !errors.Is(err, datadiff.ErrCancelled) {
		t.Fatalf("error = %v, want ErrCancelled", err)
	}
	difftest.Poll(t, "the server to stop the statements", func() bool { return len(sleepers(t, rw, db)) == 0 })
}

// TestKilledConnectionIsUnavailable: a server that ends the diff's
// connections (an administrator, a restart) makes the diff unavailable,
// worth trying again, not a failure of the diff itself.
func TestKilledConnectionIsUnavailable(t *testing.T) {
	src, spec, rw, db := sleepyDiff(t)
	wait := difftest.StartDiff(t.Context(), t, src, spec, func() bool { return len(sleepers(t, rw, db)) > 0 })
	for _, id := range sleepers(t, rw, db) {
		// The statement may have ended since: its connection is gone.
		_, _ = rw.Exec("KILL CONNECTION " + strconv.FormatInt(id, 10))
	}
	err := wait()
	if !errors.Is(err, datadiff.ErrUnavailable) || datadiff.Code(err) != datadiff.CodeUnavailable {
		t.Fatalf("error = %v (code %s), want unavailable", err, datadiff.Code(err))
	}
}

func TestStatementTimeout(t *testing.T) {
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id INT, v INT)", "INSERT INTO a VALUES (1, 1)", "CREATE TABLE b AS SELECT * FROM a")
	src := open(t, dsn, datadiff.Options{QueryTimeout: 300 * time.Millisecond})
	spec := tableSpec("a", "b")
	spec.Filter = "SLEEP(30) = 0"
	_, err := src.Diff(t.Context(), spec)
	if !errors.Is(err, datadiff.ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
}

func TestFilterWithSideEffectsChangesNothing(t *testing.T) {
	dsn, rw := testDB(t)
	mustExec(t, rw, "CREATE TABLE a (id INT, v INT)", "INSERT INTO a VALUES (1, 1), (2, 2)", "CREATE TABLE b AS SELECT * FROM a",
		"CREATE TABLE audit (n INT)",
		"CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO audit VALUES (1); RETURN 1; END")
	src := open(t, dsn, datadiff.Options{})
	for _, f := range []string{"bump() = 1", "1=1; DROP TABLE b", "1=1 -- \n); DROP TABLE b; SELECT (1", `v = "x\"; DROP TABLE b; --"`} {
		spec := tableSpec("a", "b")
		spec.Filter = f
		_, err := src.Diff(t.Context(), spec)
		if f == `v = "x\"; DROP TABLE b; --"` {
			// A string that only looks hostile: a valid filter matching nothing.
			if err != nil {
				t.Errorf("filter %q: %v", f, err)
			}
			continue
		}
		if !errors.Is(err, datadiff.ErrBadFilter) {
			t.Errorf("filter %q: error = %v, want ErrBadFilter", f, err)
		}
	}
	var audit, rows int
	if err := rw.QueryRow("SELECT (SELECT count(*) FROM audit), (SELECT count(*) FROM b)").Scan(&audit, &rows); err != nil {
		t.Fatal(err)
	}
	if audit != 0 || rows != 2 {
		t.Errorf("after hostile filters: audit %d rows, b %d rows; want 0 and 2", audit, rows)
	}
}

func TestPermissionDenied(t *testing.T) {
	dsn, rw := testDB(t)
	db := dbName(t, dsn)
	user := "dg_" + warehousetest.RandHex(4)
	mustExec(t, rw, "CREATE TABLE a (id INT, v INT)", "CREATE TABLE b (id INT, v INT)",
		"CREATE USER '"+user+"'@'%'", "GRANT SELECT ON "+db+".a TO '"+user+"'@'%'")
	t.Cleanup(func() { _, _ = rw.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	cfg, _ := driver.ParseDSN(dsn)
	cfg.User, cfg.Passwd = user, ""
	src := open(t, cfg.FormatDSN(), datadiff.Options{})
	spec := tableSpec("a", "b")
	_, err := src.Diff(t.Context(), spec)
	if !errors.Is(err, datadiff.ErrPermissionDenied) {
		t.Fatalf("error = %v, want ErrPermissionDenied", err)
	}
}

func TestParseDSN(t *testing.T) {
	cfg, err := ParseDSN("mysql://u:p%40ss@db.example:3307/analytics?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "u" || cfg.Passwd != "p@ss" || cfg.Addr != "db.example:3307" || cfg.DBName != "analytics" || cfg.Params["tls"] != "false" {
		t.Errorf("parsed %+v", cfg)
	}
	if _, err := ParseDSN("mysql://u:secret@host:notaport/x"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: error %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"too many connections", &driver.MySQLError{Number: 1040}, datadiff.ErrUnavailable},
		{"shutting down", &driver.MySQLError{Number: 1053}, datadiff.ErrUnavailable},
		{"lock wait timeout", &driver.MySQLError{Number: 1205}, datadiff.ErrUnavailable},
		{"deadlock", &driver.MySQLError{Number: 1213}, datadiff.ErrUnavailable},
		{"connection killed", &driver.MySQLError{Number: 1927}, datadiff.ErrUnavailable},
		{"connection broke", fmt.Errorf("count: %w", driver.ErrInvalidConn), datadiff.ErrUnavailable},
		{"statement timeout", &driver.MySQLError{Number: 1969}, datadiff.ErrTimeout},
		{"query killed", &driver.MySQLError{Number: 1317}, datadiff.ErrCancelled},
		{"no such table", &driver.MySQLError{Number: 1146}, datadiff.ErrRelationMissing},
		{"no privilege", &driver.MySQLError{Number: 1142}, datadiff.ErrPermissionDenied},
		{"write refused", &driver.MySQLError{Number: 1792}, datadiff.ErrBadFilter},
		{"access denied", &driver.MySQLError{Number: 1045}, nil},
		{"syntax error", &driver.MySQLError{Number: 1064}, nil},
		{"not a database error", errors.New("division by zero"), nil},
	} {
		if got := (&Dialect{}).Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}
