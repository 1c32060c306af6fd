package manifests_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/standin"
	"github.com/diffgate/diffgate/workers/internal/workertest"
	"github.com/diffgate/diffgate/workers/manifests"
)

const (
	account     = 1
	prodJob     = 11
	ciJob       = 22
	repo        = "github.com/acme/rides"
	integration = "rides"
	wait        = 20 * time.Second
)

// world is one test's NATS namespace, stand-in dbt Cloud and config.
type world struct {
	t     *testing.T
	bus   *bus.Bus
	dbt   *dbtcloudtest.Server
	cfg   *config.Config
	sleep *standin.Sleeps
	opts  manifests.Options
}

func newWorld(t *testing.T, opts ...dbtcloudtest.Option) *world {
	t.Helper()
	w := &world{t: t, bus: bustest.New(t), dbt: dbtcloudtest.New(t, opts...), sleep: &standin.Sleeps{}}
	w.dbt.AddAccount(account, "Acme Rides")
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: account, ID: prodJob, Name: "Production artifacts", Steps: []string{"dbt ls"}})
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: account, ID: ciJob, Name: "CI", Type: dbtcloud.JobTypeCI, DeferringJobID: prodJob})
	raw := fmt.Sprintf(`
github: {app_id: 1, private_key: "-----BEGIN RSA PRIVATE KEY-----", webhook_secret: gh-secret}
data_sources: [{name: warehouse, type: duckdb}]
integrations:
  - name: %s
    repository: %s
    data_source: warehouse
    dbt_cloud: {url: %s, token: %s, account_id: %d, artifacts_job_id: %d, pr_job_id: %d}
`, integration, repo, w.dbt.URL, w.dbt.Token(), account, prodJob, ciJob)
	cfg, err := config.Parse([]byte(raw), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	w.opts = manifests.Options{
		DBTCloud: []dbtcloud.Option{dbtcloud.WithSleep(w.sleep.Sleep)},
		Backoff:  []time.Duration{50 * time.Millisecond},
		TempDir:  t.TempDir(),
	}
	return w
}

// start runs a manifests process on a connection of its own.
func (w *world) start() {
	w.t.Helper()
	ctx := bustest.Context(w.t)
	ctx = zerolog.Ctx(ctx).Level(zerolog.InfoLevel).WithContext(ctx)
	env := &service.Env{Config: w.cfg, Bus: bustest.Another(w.t, w.bus)}
	workertest.Start(w.t, ctx, func(ctx context.Context) ([]service.Component, error) {
		return manifests.New(ctx, env, w.opts)
	})
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// rides is a small project: raw rentals and stations, staged, then a
// rentals table and a daily summary. version tells builds apart.
func rides(schema, version string) []byte {
	m := &dbtgen.Manifest{ProjectName: "rides", Schema: schema}
	m.Sources = []*dbtgen.Source{
		{SourceName: "raw", Name: "rentals", Database: "lake", Schema: "raw"},
		{SourceName: "raw", Name: "stations", Database: "lake", Schema: "raw"},
	}
	m.Nodes = []*dbtgen.Node{
		{ResourceType: "model", Name: "stg_rentals", Parents: []string{"source.rides.raw.rentals"},
			RawCode: "select id as rental_id, station_id, minutes from {{ source('raw', 'rentals') }} -- " + version},
		{ResourceType: "model", Name: "rentals", Materialized: "table", Parents: []string{"model.rides.stg_rentals"},
			RawCode: "select * from {{ ref('stg_rentals') }}"},
	}
	return m.Bytes()
}

// completed publishes the CICompleted ciwait would for pr at head, whose
// CI run is ci.
func (w *world) completed(pr int, head, base string, ci *dbtcloudtest.RunHandle) events.CICompleted {
	w.t.Helper()
	run := events.Run{Provider: events.GitHub, Repository: repo, PR: pr, HeadSHA: head, BaseSHA: base}
	msg := events.CICompleted{Version: events.Version, Run: run, Integration: integration,
		CIRun: events.DBTCloudRun{AccountID: account, JobID: ciJob, RunID: ci.ID(), Status: int(dbtcloud.StatusSuccess), GitSHA: head,
			URL: fmt.Sprintf("%s/deploy/%d/projects/101/runs/%d", w.dbt.URL, account, ci.ID())},
		At: time.Now().UTC()}
	if _, err := w.bus.Publish(bustest.Context(w.t), msg); err != nil {
		w.t.Fatal(err)
	}
	return msg
}

// ciRun adds the finished CI run of pr at head with its manifest.
func (w *world) ciRun(pr int, head string, manifest []byte) *dbtcloudtest.RunHandle {
	art := map[string][]byte{}
	if manifest != nil {
		art["manifest.json"] = manifest
	}
	return w.dbt.AddRun(dbtcloudtest.Run{AccountID: account, JobID: ciJob, GitSHA: head, GitHubPR: int64(pr), Artifacts: art})
}

// prodRun adds a successful run of the artifacts job at commit.
func (w *world) prodRun(commit string, manifest []byte) *dbtcloudtest.RunHandle {
	art := map[string][]byte{}
	if manifest != nil {
		art["manifest.json"] = manifest
	}
	return w.dbt.AddRun(dbtcloudtest.Run{AccountID: account, JobID: prodJob, GitSHA: commit, GitBranch: "main", Artifacts: art})
}

// result is how a run left the stage.
type result struct {
	resolved []events.ManifestsResolved
	failed   []events.RunFailed
}

// ended waits until the run was resolved or failed.
func ended(t *testing.T, b *bus.Bus, run events.Run) result {
	t.Helper()
	var r result
	bustest.WaitFor(t, wait, func() error {
		r = result{}
		for _, m := range bustest.Stored[events.ManifestsResolved](t, b, events.SubjectManifestsResolved) {
			if m.Run.ID() == run.ID() {
				r.resolved = append(r.resolved, m)
			}
		}
		for _, m := range bustest.Stored[events.RunFailed](t, b, events.SubjectRunFailed) {
			if m.Run.ID() == run.ID() {
				r.failed = append(r.failed, m)
			}
		}
		if len(r.resolved)+len(r.failed) == 0 {
			return fmt.Errorf("run %s is still in the manifests stage", run)
		}
		return nil
	})
	return r
}

// object reads an object of the store.
func object(t *testing.T, b *bus.Bus, name string) []byte {
	t.Helper()
	ctx := bustest.Context(t)
	obs, err := b.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := obs.GetBytes(ctx, name)
	if err != nil {
		t.Fatalf("object %s: %v", name, err)
	}
	return data
}

// consumerIdle reports whether the manifests consumer has nothing left.
func consumerIdle(t *testing.T, b *bus.Bus) error {
	t.Helper()
	return bustest.Idle(t, b, bus.StreamPipeline, manifests.Consumer)
}
