package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/google/go-cmp/cmp"

	_ "github.com/duckdb/duckdb-go/v2"
)

func runDiff(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), append([]string{"diff"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// shopDB writes a DuckDB file with a production and a PR build of an
// orders model: one row removed, two added, three changed (one of them
// NULL → value), a column added and one retyped.
func shopDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shop.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"CREATE SCHEMA prod", "CREATE SCHEMA pr_42",
		`CREATE TABLE prod.orders (order_id INTEGER, customer VARCHAR, amount DECIMAL(10,2), status VARCHAR, shipped_at TIMESTAMP, legacy_code VARCHAR)`,
		`INSERT INTO prod.orders VALUES
			(1, 'ada', 10.00, 'paid', '2024-03-01 10:00:00', 'A'),
			(2, 'bob', 20.50, 'paid', NULL, 'B'),
			(3, 'cy', 7.25, 'refunded', '2024-03-02 09:30:00', 'C'),
			(4, 'di', 99.99, 'paid', '2024-03-03 12:00:00', 'D'),
			(5, 'ed', 5.00, 'open', NULL, 'E'),
			(NULL, 'ghost', 1.00, 'open', NULL, 'G')`,
		`CREATE TABLE pr_42.orders (order_id INTEGER, customer VARCHAR, amount DECIMAL(12,4), status VARCHAR, shipped_at TIMESTAMP, channel VARCHAR)`,
		`INSERT INTO pr_42.orders VALUES
			(1, 'ada', 10.00, 'paid', '2024-03-01 10:00:00', 'web'),
			(2, 'bob', 20.50, 'paid', '2024-03-04 08:00:00', 'web'),
			(3, 'cy', 7.25, 'refund', '2024-03-02 09:30:00', 'shop'),
			(4, 'di', 100.00, 'paid', '2024-03-03 12:00:00', 'web'),
			(6, 'flo', 42.00, 'open', NULL, 'app'),
			(7, 'gus', 3.50, 'open', NULL, 'app')`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var timing = regexp.MustCompile(`(?m)^\d+ statements, .*$`)

func TestDiffText(t *testing.T) {
	path := shopDB(t)
	// Flags after the relation names work as well as before.
	code, out, errOut := runDiff(t, "--dsn", path, "--key", "order_id", "prod.orders", "pr_42.orders", "--sample", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !timing.MatchString(out) {
		t.Errorf("no statement count and duration line:\n%s", out)
	}
	golden(t, "diff.txt", timing.ReplaceAllString(out, "N statements, D"))
}

func TestDiffJSON(t *testing.T) {
	path := shopDB(t)
	code, out, errOut := runDiff(t, "--format", "json", "--dsn", path, "--key", "order_id", "--exclude", "shipped_at",
		"--tolerance", "amount=0.05", "--sample", "0", "prod.orders", "pr_42.orders")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res datadiff.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	type summary struct {
		Status                             datadiff.Status
		ProdRows, PRRows, KeyNulls         int64
		Added, Removed, Changed, Unchanged int64
		Mismatches                         map[string]int64
		SamplesOff                         string
	}
	got := summary{res.Status, res.Prod.Rows, res.PR.Rows, res.Prod.KeyNulls, res.Added, res.Removed, res.Changed, res.Unchanged, map[string]int64{}, res.SamplesOff}
	for _, c := range res.Columns {
		got.Mismatches[c.Name] = c.Mismatches
	}
	want := summary{datadiff.StatusDiffed, 6, 6, 1, 2, 1, 1, 3, map[string]int64{"customer": 0, "amount": 0, "status": 1}, "sample size is 0"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if res.Samples != nil || len(res.Queries) == 0 || res.Duration <= 0 || res.Duration > time.Hour {
		t.Errorf("samples %v, %d queries, duration %v", res.Samples, len(res.Queries), res.Duration)
	}
}

func TestDiffQueriesAndNewModel(t *testing.T) {
	path := shopDB(t)
	code, out, errOut := runDiff(t, "--dsn", path, "--key", "order_id",
		"--prod-query", "SELECT order_id, status FROM prod.orders WHERE order_id < 3",
		"--pr-query", "select order_id, status from pr_42.orders where order_id < 3;")
	if code != 0 || !strings.Contains(out, "query → query") || !strings.Contains(out, "Changed    0 (0.0% of 2 rows in both)") {
		t.Errorf("exit %d, stderr %q, output:\n%s", code, errOut, out)
	}
	code, out, errOut = runDiff(t, "--dsn", path, "--key", "order_id", "prod.returns", "pr_42.orders")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "diff_new.txt", out)
	code, out, _ = runDiff(t, "--dsn", path, "--key", "order_id", "prod.orders", "pr_42.returns")
	if code != 0 || !strings.Contains(out, "Not built in this PR: pr_42.returns does not exist.") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestDiffErrors(t *testing.T) {
	path := shopDB(t)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no key", []string{"--dsn", path, "prod.orders", "pr_42.orders"}, 2, "--key is required"},
		{"one relation", []string{"--dsn", path, "--key", "order_id", "prod.orders"}, 2, "want 2 relation name(s)"},
		{"bad format", []string{"--dsn", path, "--key", "order_id", "--format", "xml", "a", "b"}, 2, "use text or json"},
		{"bad tolerance", []string{"--dsn", path, "--key", "order_id", "--tolerance", "amount", "a", "b"}, 2, "column=tolerance"},
		{"bad relation", []string{"--dsn", path, "--key", "order_id", `"unterminated`, "b"}, 2, "unterminated quote"},
		{"unknown key", []string{"--dsn", path, "--key", "id", "prod.orders", "pr_42.orders"}, 1, `key column "id" is not in the production relation prod.orders`},
		{"hostile filter", []string{"--dsn", path, "--key", "order_id", "--filter", "1=1; DROP TABLE prod.orders", "prod.orders", "pr_42.orders"}, 1, "statement separator"},
		{"missing file", []string{"--dsn", filepath.Join(t.TempDir(), "nope.duckdb"), "--key", "id", "a", "b"}, 1, "duckdb: open"},
		{"unknown type", []string{"--type", "oracle", "--dsn", "x", "--key", "id", "a", "b"}, 1, `data source type "oracle"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runDiff(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.contains) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.contains)
			}
		})
	}
	// The hostile filter changed nothing.
	code, out, _ := runDiff(t, "--format", "json", "--dsn", path, "--key", "order_id", "prod.orders", "pr_42.orders")
	if code != 0 || !strings.Contains(out, `"rows": 6`) {
		t.Errorf("after the hostile filter: exit %d\n%s", code, out)
	}
}

func TestDiffJSONError(t *testing.T) {
	path := shopDB(t)
	code, out, errOut := runDiff(t, "--format", "json", "--dsn", path, "--key", "order_id", "--filter", "nope > 1", "prod.orders", "pr_42.orders")
	var e struct {
		Error struct{ Code, Message, Hint string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if code != 1 || e.Error.Code != "bad_filter" || e.Error.Message == "" || e.Error.Hint == "" || errOut == "" {
		t.Errorf("exit %d, error %+v, stderr %q", code, e.Error, errOut)
	}
}

func TestDataSourceType(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u@h/db":             "postgres",
		"postgresql://h/db":             "postgres",
		"host=h dbname=x user=u":        "postgres",
		"mysql://u@h/db":                "mysql",
		"mariadb://u@h/db":              "mysql",
		"root@tcp(127.0.0.1:3306)/shop": "mysql",
		"warehouse.duckdb":              "duckdb",
		"":                              "duckdb",
	} {
		if got := dataSourceType(dsn); got != want {
			t.Errorf("dataSourceType(%q) = %s, want %s", dsn, got, want)
		}
	}
}

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		part, whole int64
		want        string
	}{{0, 10, "0.0%"}, {1, 3, "33.3%"}, {1, 100000, "0.001%"}, {99999, 100000, "99.999%"}, {5, 5, "100.0%"}, {1, 0, "—"}} {
		if got := share(tc.part, tc.whole); got != tc.want {
			t.Errorf("share(%d, %d) = %s, want %s", tc.part, tc.whole, got, tc.want)
		}
	}
}

func TestDiffTextRendering(t *testing.T) {
	v := func(s string) *string { return &s }
	r := &datadiff.Result{
		Status: datadiff.StatusDiffed, Key: []string{"region", "id"},
		Prod:  datadiff.SideStats{Rows: 1234567, KeyNulls: 3, DuplicateRows: 4, DistinctKeys: 1234560, ExclusiveKeys: 20, SetAside: 7},
		PR:    datadiff.SideStats{Rows: 1234600, DistinctKeys: 1234600, ExclusiveKeys: 53},
		Added: 53, Removed: 20, Changed: 1500, Unchanged: 1233040,
		Columns: []datadiff.ColumnStats{
			{Name: "amount", ProdType: "numeric(12,2)", PRType: "numeric(12,2)", Mismatches: 1200, MatchRate: 1 - 1200.0/1234540, Tolerance: "abs 0.01"},
			{Name: "note", ProdType: "text", PRType: "text", Mismatches: 0, MatchRate: 1},
			{Name: "status", ProdType: "text", PRType: "text", Mismatches: 300, MatchRate: 1 - 300.0/1234540},
		},
		Schema: datadiff.SchemaDiff{
			Added:       []datadiff.Column{{Name: "channel", Type: "text"}},
			TypeChanged: []datadiff.TypeChange{{Name: "amount", ProdType: "numeric(10,2)", PRType: "numeric(12,2)", Compared: true}},
			NotCompared: []datadiff.NotCompared{{Name: "id", Reason: "key column"}, {Name: "region", Reason: "key column"}},
		},
		Samples: &datadiff.Samples{
			Columns:  []string{"region", "id", "amount", "note", "status"},
			Changed:  []datadiff.ChangedRow{{Prod: datadiff.Row{v("eu"), v("7"), v("1.00"), nil, v("paid")}, PR: datadiff.Row{v("eu"), v("7"), v("1.50"), nil, v("")}, Differs: []string{"amount", "status"}}},
			ProdOnly: []datadiff.Row{{v("us"), v("9"), v("3.00"), v("x"), v("open")}},
		},
		Caveats:  []string{"3 production rows have a NULL key and are not matched"},
		Queries:  []string{"q1", "q2"},
		Duration: 1234 * time.Millisecond,
	}
	var b bytes.Buffer
	if err := writeDiffText(&b, "analytics.orders", "dbt_cloud_pr_22_7.orders", r); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff_rendering.txt", b.String())
}

func TestDiffHelp(t *testing.T) {
	code, _, errOut := runDiff(t, "-h")
	if code != 0 || !strings.Contains(errOut, "Usage: diffgate diff") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
