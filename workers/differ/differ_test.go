package differ_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/warehousetest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/differ"
)

// outcome is what a person reads from one model's result.
type outcome struct {
	Status                             datadiff.Status
	ProdRows, PRRows                   int64
	Added, Removed, Changed, Unchanged int64
	Mismatches                         map[string]int64
	ErrCode                            string
}

func outcomeOf(dr events.DiffResult) outcome {
	if dr.Error != nil {
		return outcome{ErrCode: dr.Error.Code}
	}
	r := dr.Result
	o := outcome{Status: r.Status, ProdRows: r.Prod.Rows, PRRows: r.PR.Rows, Added: r.Added, Removed: r.Removed, Changed: r.Changed, Unchanged: r.Unchanged}
	for _, c := range r.Columns {
		if o.Mismatches == nil {
			o.Mismatches = map[string]int64{}
		}
		o.Mismatches[strings.ToLower(c.Name)] = c.Mismatches
	}
	return o
}

// keys returns the key (first) values of sampled rows.
func keys(rows []datadiff.Row) []string {
	var out []string
	for _, r := range rows {
		if len(r) > 0 && r[0] != nil {
			out = append(out, *r[0])
		}
	}
	return out
}

// TestDiffTasks runs one diff task of each kind on each warehouse: a
// model that changed, one the PR did not build, one new in the PR, and a
// filter that is not one condition.
func TestDiffTasks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) *wh
	}{
		{"postgres", func(t *testing.T) *wh { return &postgresWH(t).wh }},
		{"mariadb", mariadbWH},
		{"duckdb", duckdbWH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := tc.open(t)
			orders(db)
			w := newWorld(t)
			ds := "wh_" + tc.name
			w.start(configOf(t, source{name: ds, typ: db.typ, dsn: db.dsn, maxConcurrency: 2}), differ.Options{})

			r := run(7, strings.Repeat("a", 40))
			samples := events.DiffOptions{SampleSize: 10}
			w.publish(
				diffTask(r, ds, "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), samples),
				diffTask(r, ds, "not_built", db.rel("prod", "orders"), db.rel("pr", "absent"), samples),
				diffTask(r, ds, "new_model", db.rel("prod", "absent"), db.rel("pr", "orders"), samples),
				diffTask(r, ds, "bad_filter", db.rel("prod", "orders"), db.rel("pr", "orders"),
					events.DiffOptions{Filter: "1=1; DROP TABLE " + db.table("pr", "orders")}),
			)
			got := w.awaitResults(r, 4)
			want := map[string]outcome{
				"model.shop.orders": {Status: datadiff.StatusDiffed, ProdRows: 5, PRRows: 5, Added: 1, Removed: 1, Changed: 2, Unchanged: 2,
					Mismatches: map[string]int64{"amount": 1, "status": 1}},
				"model.shop.not_built":  {Status: datadiff.StatusNotBuilt},
				"model.shop.new_model":  {Status: datadiff.StatusNew, PRRows: 5},
				"model.shop.bad_filter": {ErrCode: datadiff.CodeBadFilter},
			}
			gotOutcomes := map[string]outcome{}
			for id, dr := range got {
				gotOutcomes[id] = outcomeOf(dr)
			}
			if d := cmp.Diff(want, gotOutcomes); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}

			// The message carries no samples; the stored result has them.
			diffed := got["model.shop.orders"]
			if diffed.Result == nil || diffed.Result.Samples != nil || diffed.ModelName != "orders" {
				t.Fatalf("the orders result in the message: %+v", diffed)
			}
			if diffed.Full.Name != events.ResultObject(r.ID(), "model.shop.orders") {
				t.Errorf("full result stored as %s", diffed.Full.Name)
			}
			full := w.full(diffed)
			if full.Samples == nil {
				t.Fatal("the stored result has no samples")
			}
			var changed []string
			for _, c := range full.Samples.Changed {
				changed = append(changed, *c.PR[0])
			}
			gotSamples := [][]string{changed, keys(full.Samples.ProdOnly), keys(full.Samples.PROnly)}
			if d := cmp.Diff([][]string{{"3", "5"}, {"1"}, {"6"}}, gotSamples); d != "" {
				t.Errorf("sampled keys: changed, removed, added (-want +got):\n%s", d)
			}
			if full.Changed != 2 || full.Added != 1 {
				t.Errorf("the stored result says %d changed, %d added", full.Changed, full.Added)
			}
			if e := got["model.shop.bad_filter"].Error; e == nil || e.Hint == "" || e.Message == "" {
				t.Errorf("bad filter error has no message or hint: %+v", e)
			}
			w.idle(ds)
		})
	}
}

// TestPermissionDenied: a PR relation the data source's role may not read
// is an error result with a hint, and the role's password and the DSN
// appear in no result, log line or stored object.
func TestPermissionDenied(t *testing.T) {
	t.Parallel()
	role := "diffgate_differ_role_" + warehousetest.RandHex(4)
	password := "Pw-" + warehousetest.RandHex(12)
	// The role is dropped after the database (cleanups run last first).
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", warehousetest.PostgresServer())
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP ROLE IF EXISTS " + role); err != nil {
			t.Errorf("drop test role: %v", err)
		}
	})
	db := postgresWH(t)
	orders(&db.wh)
	db.exec("CREATE ROLE "+role+" LOGIN PASSWORD '"+password+"'",
		"GRANT USAGE ON SCHEMA prod, pr TO "+role,
		"GRANT SELECT ON prod.orders TO "+role) // not pr.orders
	dsn := strings.Replace(db.dsn, "postgres@", role+":"+password+"@", 1)
	if !strings.Contains(dsn, password) {
		t.Fatalf("DSN %q has no password", dsn)
	}
	w := newWorld(t)
	w.start(configOf(t, source{name: "wh", typ: "postgres", dsn: dsn}), differ.Options{})

	r := run(8, strings.Repeat("c", 40))
	w.publish(diffTask(r, "wh", "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{SampleSize: 5}))
	got := w.awaitResults(r, 1)["model.shop.orders"]
	if got.Error == nil || got.Error.Code != datadiff.CodePermissionDenied || got.Error.Hint == "" {
		t.Fatalf("result = %+v, want a permission_denied error with a hint", got.Error)
	}
	if !strings.Contains(got.Error.Message, "pr.orders") {
		t.Errorf("the error does not name the relation: %q", got.Error.Message)
	}
	w.idle("wh")
	everything := w.logs.String()
	for _, b := range w.raw(events.SubjectDiffResult) {
		everything += string(b)
	}
	for _, name := range w.objectNames() {
		everything += name
	}
	for _, secret := range []string{password, dsn} {
		if strings.Contains(everything, secret) {
			t.Errorf("%q reached a result or a log line", secret)
		}
	}
}

// TestUnavailableWarehouse: a warehouse that refuses connections is
// retried with backoff; when the deliveries are exhausted the dead letter
// (which the reporter turns into the model's error) carries no secret,
// and no result was published.
func TestUnavailableWarehouse(t *testing.T) {
	t.Parallel()
	password := "Pw-" + warehousetest.RandHex(12)
	dsn := "postgres://diffgate:" + password + "@127.0.0.1:1/analytics?sslmode=disable&connect_timeout=5"
	w := newWorld(t)
	w.start(configOf(t, source{name: "down", typ: "postgres", dsn: dsn}),
		differ.Options{MaxDeliver: 3, Backoff: []time.Duration{20 * time.Millisecond}})
	r := run(9, strings.Repeat("d", 40))
	w.publish(diffTask(r, "down", "orders", &events.Relation{Schema: "prod", Identifier: "orders"}, &events.Relation{Schema: "pr", Identifier: "orders"}, events.DiffOptions{}))

	subject := events.SubjectDeadLetterPrefix + differ.ConsumerName("down")
	var dead []byte
	bustest.WaitFor(t, wait, func() error {
		if d := w.raw(subject); len(d) > 0 {
			dead = d[0]
			return nil
		}
		return fmt.Errorf("no dead letter yet")
	})
	w.idle("down")
	if !strings.Contains(string(dead), "unavailable") || !strings.Contains(string(dead), `"deliveries":3`) {
		t.Errorf("dead letter = %s; want the unavailable data source after 3 deliveries", dead)
	}
	if n := len(w.results(r)); n != 0 {
		t.Errorf("%d results published for a warehouse that never answered", n)
	}
	for _, where := range []string{string(dead), w.logs.String()} {
		if strings.Contains(where, password) {
			t.Errorf("the password reached a dead letter or a log line: %s", where)
		}
	}
}

// TestNoDataSources: without data sources there is nothing to run.
func TestNoDataSources(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	comps, err := differ.New(bustest.Context(t), &service.Env{Config: cfg}, differ.Options{})
	if err != nil || len(comps) != 0 {
		t.Errorf("New = %d components, %v; want none", len(comps), err)
	}
}

// TestPoisonTask: a task that is not JSON is dead-lettered at once.
func TestPoisonTask(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.start(configOf(t, source{name: "wh", typ: "duckdb", dsn: ""}), differ.Options{})
	ctx := bustest.Context(t)
	if _, err := w.bus.JetStream().Publish(ctx, w.bus.Subject(events.SubjectDiffTaskPrefix+"wh"), []byte("not a task")); err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, wait, func() error {
		if len(w.raw(events.SubjectDeadLetterPrefix+differ.ConsumerName("wh"))) == 1 {
			return nil
		}
		return fmt.Errorf("no dead letter yet")
	})
	w.idle("wh")
	if got := w.deliveries("wh"); got != 1 {
		t.Errorf("the poison task was delivered %d times, want 1", got)
	}
}

// TestRefusedLogin: a data source whose login the warehouse refuses is an
// error result saying to check the data source, not a retry; the password
// is not in it.
func TestRefusedLogin(t *testing.T) {
	t.Parallel()
	db := mariadbWH(t)
	cfg, err := mysqldrv.ParseDSN(db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = "nobody_"+warehousetest.RandHex(4), "Pw-"+warehousetest.RandHex(12)
	w := newWorld(t)
	w.start(configOf(t, source{name: "wh", typ: "mysql", dsn: cfg.FormatDSN()}), differ.Options{})
	r := run(16, strings.Repeat("9", 40))
	w.publish(diffTask(r, "wh", "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{}))
	got := w.awaitResults(r, 1)["model.shop.orders"].Error
	if got == nil || !strings.Contains(got.Message, "cannot open the data source wh") || !strings.Contains(got.Hint, "dsn") {
		t.Fatalf("error = %+v; want one naming the data source, with a hint about its dsn", got)
	}
	w.idle("wh")
	if n := w.deliveries("wh"); n != 1 {
		t.Errorf("the task was delivered %d times; a refused login is not retried", n)
	}
	if strings.Contains(got.Message+got.Hint+w.logs.String(), cfg.Passwd) {
		t.Error("the password reached the result or the logs")
	}
}
