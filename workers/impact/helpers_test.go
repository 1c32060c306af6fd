package impact_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/impact"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

const (
	repo        = "github.com/acme/rides"
	integration = "rides"
	ciSchema    = "dbt_cloud_pr_22_7"
	wait        = 20 * time.Second
	source      = 42 // the Hightouch source on the warehouse
)

// rides is a small bike-rental project:
//
//	source raw.rentals ─▶ stg_rentals ─▶ rentals ─▶ daily_rides
//	source raw.stations ─▶ stg_stations ─▶ stations
//
// Tables carry a unique test on their key, as dbt users write them.
func rides(schema string) *dbtgen.Manifest {
	m := &dbtgen.Manifest{ProjectName: "rides", Schema: schema}
	m.Sources = []*dbtgen.Source{
		{SourceName: "raw", Name: "rentals", Database: "lake", Schema: "raw"},
		{SourceName: "raw", Name: "stations", Database: "lake", Schema: "raw"},
	}
	cols := func(names ...string) []dbtgen.Column {
		out := make([]dbtgen.Column, len(names))
		for i, n := range names {
			out[i] = dbtgen.Column{Name: n}
		}
		return out
	}
	m.Nodes = []*dbtgen.Node{
		{ResourceType: "model", Name: "stg_rentals", Parents: []string{"source.rides.raw.rentals"},
			Columns: cols("rental_id", "station_id", "minutes"),
			RawCode: "select id as rental_id, station_id, minutes from {{ source('raw', 'rentals') }}"},
		{ResourceType: "model", Name: "stg_stations", Parents: []string{"source.rides.raw.stations"},
			Columns: cols("station_id", "name"), RawCode: "select id as station_id, name from {{ source('raw', 'stations') }}"},
		{ResourceType: "model", Name: "rentals", Materialized: "table", Parents: []string{"model.rides.stg_rentals"},
			Columns: cols("rental_id", "station_id", "minutes"), RawCode: "select * from {{ ref('stg_rentals') }}"},
		{ResourceType: "model", Name: "daily_rides", Materialized: "table", Parents: []string{"model.rides.rentals"},
			Columns: cols("ride_date", "rides"),
			RawCode: "select date_trunc('day', started_at) as ride_date, count(*) as rides from {{ ref('rentals') }} group by 1"},
		{ResourceType: "model", Name: "stations", Materialized: "table", Parents: []string{"model.rides.stg_stations"},
			Columns: cols("station_id", "name"), RawCode: "select * from {{ ref('stg_stations') }}"},
		unique("stg_rentals", "rental_id"),
		unique("rentals", "rental_id"),
		unique("daily_rides", "ride_date"),
		unique("stations", "station_id"),
	}
	return m
}

func unique(model, column string) *dbtgen.Node {
	id := "model.rides." + model
	return &dbtgen.Node{ResourceType: "test", Name: "unique_" + model + "_" + column, TestName: "unique", ColumnName: column,
		AttachedNode: id, Parents: []string{id}, RawCode: "{{ test_unique(**_dbt_generic_test_kwargs) }}",
		MacroDeps: []string{"macro.dbt.test_unique"}}
}

// pair is production and a PR that edits stg_rentals, built in the CI
// schema.
func pair() (prod, pr []byte) {
	p, q := rides("prod"), rides(ciSchema)
	q.Nodes[0].RawCode += " where minutes > 0"
	return p.Bytes(), q.Bytes()
}

// rideModels are the Hightouch models of the workspace, one of each kind:
// SQL reading daily_rides (two hops below the edit), the dbt model
// rentals, the table daily_rides, and a model of a query type diffgate
// does not know; then one reading rentals but on a source diffgate is not
// configured for, and one reading an unchanged table.
func rideModels(ht *hightouchtest.Server) {
	ht.AddSource(hightouchtest.Source{ID: source, Name: "Warehouse", Type: "postgres"})
	ht.AddSource(hightouchtest.Source{ID: 99, Name: "Other warehouse", Type: "postgres"})
	ht.AddModel(hightouchtest.Model{ID: 11, Name: "Daily rides to Slack", SourceID: source, PrimaryKey: "ride_date", Syncs: []int64{501},
		SQL: "select ride_date, rides from prod.daily_rides where rides > 0"})
	ht.AddModel(hightouchtest.Model{ID: 12, Name: "Rentals to CRM", SourceID: source, PrimaryKey: "rental_id", Syncs: []int64{502, 503},
		DBTUniqueID: "model.rides.rentals", DBTRelation: [3]string{"analytics", "prod", "rentals"}})
	ht.AddModel(hightouchtest.Model{ID: 15, Name: "Daily rides table", SourceID: source, PrimaryKey: "ride_date", Table: "prod.daily_rides"})
	ht.AddModel(hightouchtest.Model{ID: 16, Name: "Rides forecast", SourceID: source, PrimaryKey: "ride_date", QueryType: "forecast"})
	ht.AddModel(hightouchtest.Model{ID: 13, Name: "Rentals elsewhere", SourceID: 99, PrimaryKey: "rental_id", Table: "prod.rentals"})
	ht.AddModel(hightouchtest.Model{ID: 14, Name: "Stations", SourceID: source, PrimaryKey: "station_id", Table: "prod.stations"})
}

// world is one test's NATS namespace, config and stand-in Hightouch.
type world struct {
	t    *testing.T
	bus  *bus.Bus
	ht   *hightouchtest.Server
	cfg  *config.Config
	opts impact.Options
}

func newWorld(t *testing.T, withHightouch bool) *world {
	t.Helper()
	w := &world{t: t, bus: bustest.New(t)}
	ht := ""
	if withHightouch {
		w.ht = hightouchtest.New(t)
		ht = fmt.Sprintf("hightouch: {url: %s, token: %s, source_ids: [%d]}", w.ht.URL, w.ht.Token(), source)
		w.opts.Hightouch = []hightouch.Option{hightouch.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })}
	}
	w.cfg = parse(t, "https://cloud.getdbt.com", "dbtc_unused", ht)
	w.opts.Backoff = []time.Duration{50 * time.Millisecond}
	return w
}

// parse makes the config of the rides integration.
func parse(t *testing.T, dbtURL, token, hightouch string) *config.Config {
	t.Helper()
	raw := fmt.Sprintf(`
github: {app_id: 1, private_key: "-----BEGIN RSA PRIVATE KEY-----", webhook_secret: gh-secret}
data_sources: [{name: warehouse, type: postgres, dsn: "postgres://diffgate@warehouse/analytics"}]
integrations:
  - name: %s
    repository: %s
    data_source: warehouse
    dbt_cloud: {url: %s, token: %s, account_id: 1, artifacts_job_id: 11, pr_job_id: 22, webhook_secret: whsec-0123456789}
    %s
`, integration, repo, dbtURL, token, hightouch)
	cfg, err := config.Parse([]byte(raw), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// start runs an impact process on a connection of its own.
func (w *world) start() {
	w.t.Helper()
	env := &service.Env{Config: w.cfg, Bus: bustest.Another(w.t, w.bus)}
	workertest.Start(w.t, quiet(bustest.Context(w.t)), func(ctx context.Context) ([]service.Component, error) {
		return impact.New(ctx, env, w.opts)
	})
}

// quiet keeps worker logs at info.
func quiet(ctx context.Context) context.Context {
	return zerolog.Ctx(ctx).Level(zerolog.InfoLevel).WithContext(ctx)
}

// put stores a manifest as the manifests stage does.
func (w *world) put(data []byte) events.ObjectRef {
	w.t.Helper()
	ctx := bustest.Context(w.t)
	obs, err := w.bus.Objects(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	name := events.ManifestObject(hex.EncodeToString(sum[:]))
	info, err := obs.PutBytes(ctx, name, data)
	if err != nil {
		w.t.Fatal(err)
	}
	return events.ObjectRef{Name: info.Name, Digest: info.Digest, Size: int64(info.Size)}
}

// resolved publishes ManifestsResolved for PR pr with the two manifests.
func (w *world) resolved(pr int, prod, prManifest []byte) events.ManifestsResolved {
	w.t.Helper()
	run := events.Run{Provider: events.GitHub, Repository: repo, PR: pr, HeadSHA: fmt.Sprintf("%040d", pr), BaseSHA: fmt.Sprintf("%040d", 1)}
	msg := events.ManifestsResolved{
		Version: events.Version, Run: run, Integration: integration, AccountName: "Acme Rides",
		CIRun:        events.DBTCloudRun{AccountID: 1, JobID: 22, RunID: 9001, Status: 10, URL: "https://cloud.getdbt.com/deploy/1/projects/2/runs/9001"},
		ProdRun:      events.DBTCloudRun{AccountID: 1, JobID: 11, RunID: 8001, Status: 10, URL: "https://cloud.getdbt.com/deploy/1/projects/2/runs/8001"},
		ProdChoice:   "dbt Cloud run #8001 of job 11, which built the PR's base commit 0000000.",
		PRManifest:   w.put(prManifest),
		ProdManifest: w.put(prod),
		At:           time.Now().UTC(),
	}
	if _, err := w.bus.Publish(bustest.Context(w.t), msg); err != nil {
		w.t.Fatal(err)
	}
	return msg
}

// tasks are the diff tasks stored for the warehouse.
func tasks(t *testing.T, b *bus.Bus) []events.DiffTask {
	return bustest.Stored[events.DiffTask](t, b, events.SubjectDiffTaskPrefix+"warehouse")
}

// planned waits for the run's DiffPlanned or RunFailed.
func planned(t *testing.T, b *bus.Bus, run events.Run) ([]events.DiffPlanned, []events.RunFailed) {
	t.Helper()
	var p []events.DiffPlanned
	var f []events.RunFailed
	bustest.WaitFor(t, wait, func() error {
		p, f = nil, nil
		for _, m := range bustest.Stored[events.DiffPlanned](t, b, events.SubjectDiffPlanned) {
			if m.Run.ID() == run.ID() {
				p = append(p, m)
			}
		}
		for _, m := range bustest.Stored[events.RunFailed](t, b, events.SubjectRunFailed) {
			if m.Run.ID() == run.ID() {
				f = append(f, m)
			}
		}
		if len(p)+len(f) == 0 {
			return fmt.Errorf("run %s has no plan yet", run)
		}
		return nil
	})
	return p, f
}

// plan reads a stored plan.
func plan(t *testing.T, b *bus.Bus, ref events.ObjectRef) events.Plan {
	t.Helper()
	ctx := bustest.Context(t)
	obs, err := b.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := obs.GetBytes(ctx, ref.Name)
	if err != nil {
		t.Fatal(err)
	}
	var p events.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// consumerIdle reports whether a consumer has nothing left.
func consumerIdle(t *testing.T, b *bus.Bus, name string) error {
	t.Helper()
	return bustest.Idle(t, b, bus.StreamPipeline, name)
}

var errNotYet = fmt.Errorf("not yet")
