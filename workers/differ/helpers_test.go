package differ_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/warehousetest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/testenv"
	"github.com/diffgate/diffgate/workers/differ"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

const (
	repo = "github.com/acme/shop"
	wait = 30 * time.Second
)

// world is one test's NATS namespace and the logs of its differs.
type world struct {
	t    *testing.T
	bus  *bus.Bus // the test's own connection: publishing, reading
	logs *testenv.Buffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, bus: bustest.New(t), logs: &testenv.Buffer{}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("differ logs:\n%s", w.logs)
		}
	})
	return w
}

// ctx is a context whose logger writes to the world's logs.
func (w *world) ctx() context.Context {
	l := zerolog.New(w.logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	return l.WithContext(bustest.Context(w.t))
}

// source is a data source of a test config.
type source struct {
	name, typ, dsn string
	maxConcurrency int
}

// configOf makes a config with the given data sources.
func configOf(t *testing.T, sources ...source) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("data_sources:\n")
	for _, s := range sources {
		dsn, _ := json.Marshal(s.dsn) // a JSON string is a YAML string
		fmt.Fprintf(&b, "  - {name: %s, type: %s, dsn: %s, max_concurrency: %d, query_timeout: 2m}\n", s.name, s.typ, dsn, max(s.maxConcurrency, 1))
	}
	cfg, err := config.Parse([]byte(b.String()), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs a differ process on a connection of its own until the test
// ends; the returned function stops it earlier.
func (w *world) start(cfg *config.Config, o differ.Options) func() {
	w.t.Helper()
	env := &service.Env{Config: cfg, Bus: bustest.Another(w.t, w.bus)}
	return workertest.Start(w.t, w.ctx(), func(ctx context.Context) ([]service.Component, error) {
		return differ.New(ctx, env, o)
	})
}

// run is a run of PR pr at head.
func run(pr int, head string) events.Run {
	return events.Run{Provider: events.GitHub, Repository: repo, PR: pr, HeadSHA: head, BaseSHA: strings.Repeat("b", 40)}
}

// publish publishes messages with the test's connection.
func (w *world) publish(msgs ...events.Message) {
	w.t.Helper()
	for _, m := range msgs {
		if _, err := w.bus.Publish(bustest.Context(w.t), m); err != nil {
			w.t.Fatal(err)
		}
	}
}

// setHead makes head the current entry of its PR.
func (w *world) setHead(head events.PRHead) {
	w.t.Helper()
	workertest.SetHead(w.t, w.bus, head)
}

// raw returns the bodies stored on subject, in order.
func (w *world) raw(subject string) [][]byte {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(bustest.Context(w.t), 10*time.Second)
	defer cancel()
	cons, err := w.bus.JetStream().OrderedConsumer(ctx, w.bus.Name(bus.StreamOf(subject)), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{w.bus.Subject(subject)},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	want := int(info.NumPending)
	var out [][]byte
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			w.t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m.Data())
			n++
		}
		if n == 0 {
			w.t.Fatalf("read %d of the %d messages on %s", len(out), want, subject)
		}
	}
	return out
}

// results returns the diff results stored for run.
func (w *world) results(r events.Run) []events.DiffResult {
	w.t.Helper()
	var out []events.DiffResult
	for _, data := range w.raw(events.SubjectDiffResult) {
		var dr events.DiffResult
		if err := json.Unmarshal(data, &dr); err != nil {
			w.t.Fatal(err)
		}
		if dr.Run.ID() == r.ID() {
			out = append(out, dr)
		}
	}
	return out
}

// awaitResults waits until run has n results and returns them by model id.
func (w *world) awaitResults(r events.Run, n int) map[string]events.DiffResult {
	w.t.Helper()
	var got []events.DiffResult
	bustest.WaitFor(w.t, wait, func() error {
		got = w.results(r)
		if len(got) < n {
			return fmt.Errorf("%d of %d results", len(got), n)
		}
		return nil
	})
	out := map[string]events.DiffResult{}
	for _, dr := range got {
		if _, dup := out[dr.ModelID]; dup {
			w.t.Errorf("model %s has more than one result", dr.ModelID)
		}
		out[dr.ModelID] = dr
	}
	return out
}

// idle waits until the differ consumer of dataSource holds no task.
func (w *world) idle(dataSource string) {
	w.t.Helper()
	bustest.WaitFor(w.t, wait, func() error {
		return bustest.Idle(w.t, w.bus, bus.StreamPipeline, differ.ConsumerName(dataSource))
	})
}

// deliveries is how many deliveries the differ consumer of dataSource made.
func (w *world) deliveries(dataSource string) uint64 {
	w.t.Helper()
	ctx := bustest.Context(w.t)
	c, err := w.bus.JetStream().Consumer(ctx, w.bus.Name(bus.StreamPipeline), differ.ConsumerName(dataSource))
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return info.Delivered.Consumer
}

// full reads the stored full result a DiffResult names, checking its
// digest.
func (w *world) full(dr events.DiffResult) *datadiff.Result {
	w.t.Helper()
	if dr.Full == nil {
		w.t.Fatalf("result of %s names no full result", dr.ModelID)
	}
	ctx := bustest.Context(w.t)
	obs, err := w.bus.Objects(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := obs.GetInfo(ctx, dr.Full.Name)
	if err != nil {
		w.t.Fatalf("full result of %s: %v", dr.ModelID, err)
	}
	if info.Digest != dr.Full.Digest || int64(info.Size) != dr.Full.Size {
		w.t.Errorf("full result of %s: stored digest %s size %d, the result names %s size %d", dr.ModelID, info.Digest, info.Size, dr.Full.Digest, dr.Full.Size)
	}
	data, err := obs.GetBytes(ctx, dr.Full.Name)
	if err != nil {
		w.t.Fatal(err)
	}
	var res datadiff.Result
	if err := json.Unmarshal(data, &res); err != nil {
		w.t.Fatal(err)
	}
	return &res
}

// objectNames lists the object store's names.
func (w *world) objectNames() []string {
	w.t.Helper()
	ctx := bustest.Context(w.t)
	obs, err := w.bus.Objects(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	infos, err := obs.List(ctx)
	if err != nil && err != jetstream.ErrNoObjectsFound {
		w.t.Fatal(err)
	}
	var out []string
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out
}

// diffTask asks for a diff of one model.
func diffTask(r events.Run, dataSource, model string, prod, pr *events.Relation, o events.DiffOptions) events.DiffTask {
	t := events.DiffTask{
		Version: events.Version, Run: r, Integration: "shop", DataSource: dataSource,
		ModelID: "model.shop." + model, ModelName: model, Kind: events.KindDBT,
		PR: events.DiffSide{Relation: pr}, Key: []string{"id"}, Options: o,
	}
	if prod != nil {
		t.Prod = &events.DiffSide{Relation: prod}
	}
	return t
}

// wh is a warehouse of a test: a database of its own, dropped when the
// test ends.
type wh struct {
	typ string
	// dsn is what the differ connects with.
	dsn string
	// exec runs statements with a read-write connection.
	exec func(stmts ...string)
	// table names a table for SQL; rel names it for a task.
	table func(side, name string) string
	rel   func(side, name string) *events.Relation
}

// execOn runs statements on db, failing the test on the first error.
func execOn(t *testing.T, db *sql.DB) func(stmts ...string) {
	return func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
}

// pgDB is a PostgreSQL database of the test's own with schemas prod and
// pr, and a connection to it as the server's administrator.
type pgDB struct {
	wh
	name  string
	admin *sql.DB
	// app is the application_name of the differ's connections, to find
	// its statements in pg_stat_activity.
	app string
}

func postgresWH(t *testing.T) *pgDB {
	t.Helper()
	name, dsn, admin := warehousetest.Postgres(t, "diffgate_differ")
	db := &pgDB{name: name, admin: admin, app: "diffgate_differ_" + warehousetest.RandHex(4)}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	q := u.Query()
	q.Set("application_name", db.app)
	u.RawQuery = q.Encode()
	db.wh = wh{
		typ:   "postgres",
		dsn:   u.String(),
		exec:  execOn(t, rw),
		table: func(side, name string) string { return side + "." + name },
		rel: func(side, name string) *events.Relation {
			return &events.Relation{Database: db.name, Schema: side, Identifier: name}
		},
	}
	db.exec("CREATE SCHEMA prod", "CREATE SCHEMA pr")
	return db
}

// active counts the differ's statements running in the server.
func (db *pgDB) active(t *testing.T) int {
	t.Helper()
	var n int
	if err := db.admin.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", db.app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// awaitRunning waits until a statement of the differ runs in the server.
func (db *pgDB) awaitRunning(t *testing.T) {
	t.Helper()
	bustest.WaitFor(t, wait, func() error {
		if db.active(t) == 0 {
			return fmt.Errorf("no statement of the differ runs yet")
		}
		return nil
	})
}

// slowView makes pr.<name> a view of table pr.<name>_t that sleeps
// seconds in every statement that reads it.
func (db *pgDB) slowView(name string, seconds float64) {
	db.exec(fmt.Sprintf("ALTER TABLE pr.%s RENAME TO %s_t", name, name),
		fmt.Sprintf("CREATE VIEW pr.%s AS SELECT * FROM pr.%s_t WHERE (SELECT count(*) FROM pg_sleep(%g)) = 1", name, name, seconds))
}

func mariadbWH(t *testing.T) *wh {
	t.Helper()
	name, cfg := warehousetest.MySQL(t, "diffgate_differ")
	dsn := cfg.FormatDSN()
	rw, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rw.Close() })
	// MySQL has no schemas inside a database: a side is a table prefix.
	return &wh{
		typ:   "mysql",
		dsn:   dsn,
		exec:  execOn(t, rw),
		table: func(side, n string) string { return side + "_" + n },
		rel: func(side, n string) *events.Relation {
			return &events.Relation{Schema: name, Identifier: side + "_" + n}
		},
	}
}

func duckdbWH(t *testing.T) *wh {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shop.duckdb")
	w := &wh{
		typ: "duckdb",
		dsn: path,
		// Each batch opens the file read-write and closes it again: the
		// differ opens it read-only, which DuckDB refuses while this
		// process has it open read-write.
		exec: func(stmts ...string) {
			t.Helper()
			db, err := sql.Open("duckdb", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			execOn(t, db)(stmts...)
		},
		table: func(side, n string) string { return side + "." + n },
		rel: func(side, n string) *events.Relation {
			return &events.Relation{Database: "shop", Schema: side, Identifier: n}
		},
	}
	w.exec("CREATE SCHEMA prod", "CREATE SCHEMA pr")
	return w
}

// orders builds prod and pr orders whose differences are known: id 1 is
// removed, 6 added, 3 and 5 changed (one column each), 2 and 4 the same.
func orders(w *wh) {
	const cols = "(id integer, amount decimal(10,2), status varchar(20))"
	w.exec(
		"CREATE TABLE "+w.table("prod", "orders")+" "+cols,
		"INSERT INTO "+w.table("prod", "orders")+" VALUES (1, 10.00, 'open'), (2, 20.00, 'paid'), (3, 30.00, 'paid'), (4, 40.00, 'open'), (5, 50.00, 'open')",
		"CREATE TABLE "+w.table("pr", "orders")+" "+cols,
		"INSERT INTO "+w.table("pr", "orders")+" VALUES (2, 20.00, 'paid'), (3, 30.00, 'refunded'), (4, 40.00, 'open'), (5, 55.00, 'open'), (6, 60.00, 'open')",
	)
}
