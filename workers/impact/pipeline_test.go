package impact_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/fixtures"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/ciwait"
	"github.com/diffgate/diffgate/workers/impact"
	"github.com/diffgate/diffgate/workers/internal/workertest"
	"github.com/diffgate/diffgate/workers/manifests"
)

// pipeline runs ciwait, manifests and impact against a stand-in dbt Cloud,
// each stage a process of its own.
type pipeline struct {
	t   *testing.T
	bus *bus.Bus
	dbt *dbtcloudtest.Server
	cfg *config.Config
}

func newPipeline(t *testing.T, timeout time.Duration) *pipeline {
	t.Helper()
	p := &pipeline{t: t, bus: bustest.New(t), dbt: dbtcloudtest.New(t)}
	p.dbt.AddAccount(1, "Acme Rides")
	p.dbt.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 11, Name: "Production artifacts", Steps: []string{"dbt build"}})
	p.dbt.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Name: "CI", Type: dbtcloud.JobTypeCI, DeferringJobID: 11})
	p.cfg = parse(t, p.dbt.URL, p.dbt.Token(), "")
	p.cfg.Integrations[0].DBTCloud.PollInterval = config.Duration(100 * time.Millisecond)
	p.cfg.Integrations[0].DBTCloud.Timeout = config.Duration(timeout)
	return p
}

func (p *pipeline) start() {
	p.t.Helper()
	noWait := []dbtcloud.Option{dbtcloud.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })}
	builders := []func(context.Context, *service.Env) ([]service.Component, error){
		func(ctx context.Context, env *service.Env) ([]service.Component, error) {
			return ciwait.New(ctx, env, ciwait.Options{DBTCloud: noWait})
		},
		func(ctx context.Context, env *service.Env) ([]service.Component, error) {
			return manifests.New(ctx, env, manifests.Options{DBTCloud: noWait, TempDir: p.t.TempDir()})
		},
		func(ctx context.Context, env *service.Env) ([]service.Component, error) {
			return impact.New(ctx, env, impact.Options{})
		},
	}
	for _, build := range builders {
		env := &service.Env{Config: p.cfg, Bus: bustest.Another(p.t, p.bus)}
		workertest.Start(p.t, quiet(bustest.Context(p.t)), func(ctx context.Context) ([]service.Component, error) {
			return build(ctx, env)
		})
	}
}

// request publishes a RunRequested as the gate does.
func (p *pipeline) request(pr int, head, base string, requestedAt time.Time) events.RunRequested {
	p.t.Helper()
	ctx := bustest.Context(p.t)
	req := events.RunRequested{Version: events.Version, Integration: integration, Trigger: "opened", RequestedAt: requestedAt.UTC(),
		Run: events.Run{Provider: events.GitHub, Repository: repo, PR: pr, HeadSHA: head, BaseSHA: base}}
	workertest.SetHead(p.t, p.bus, events.PRHead{RunID: req.Run.ID(), Run: req.Run, Updated: time.Now().UTC()})
	if _, err := p.bus.Publish(ctx, req); err != nil {
		p.t.Fatal(err)
	}
	return req
}

func commit(n int) string { return fmt.Sprintf("%040x", 0xabcdef0000+n) }

func TestThePipelineFromCIRunToDiffTasks(t *testing.T) {
	type outcome struct {
		planned   []events.DiffPlanned
		failed    []events.RunFailed
		cancelled []events.RunCancelled
	}
	tests := []struct {
		name    string
		final   dbtcloud.RunStatus // of the CI run after queued and running
		late    bool               // requested just before its timeout
		check   func(t *testing.T, p *pipeline, o outcome, ci *dbtcloudtest.RunHandle)
		planned bool
	}{
		{name: "success", final: dbtcloud.StatusSuccess, planned: true},
		{name: "error", final: dbtcloud.StatusError, check: func(t *testing.T, _ *pipeline, o outcome, ci *dbtcloudtest.RunHandle) {
			if len(o.failed) != 1 || o.failed[0].Code != events.FailCIError || !strings.HasPrefix(o.failed[0].Message, fmt.Sprintf("dbt Cloud run #%d failed", ci.ID())) || o.failed[0].Link == "" {
				t.Errorf("outcome %+v, want the dbt Cloud run's failure with its link", o)
			}
		}},
		{name: "cancelled", final: dbtcloud.StatusCancelled, check: func(t *testing.T, _ *pipeline, o outcome, _ *dbtcloudtest.RunHandle) {
			if len(o.cancelled) != 1 || o.cancelled[0].Reason != events.CancelCI {
				t.Errorf("outcome %+v, want cancelled because the CI run was", o)
			}
		}},
		{name: "timeout", final: dbtcloud.StatusQueued, late: true, check: func(t *testing.T, _ *pipeline, o outcome, _ *dbtcloudtest.RunHandle) {
			if len(o.failed) != 1 || o.failed[0].Code != events.FailCITimeout || !strings.Contains(o.failed[0].Message, "still queued after 1h") {
				t.Errorf("outcome %+v, want a timeout", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPipeline(t, time.Hour)
			prodManifest, prManifest := pair()
			p.dbt.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11, GitSHA: commit(1), GitBranch: "main",
				Artifacts: map[string][]byte{"manifest.json": prodManifest}})
			p.dbt.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11, GitSHA: commit(2), GitBranch: "main",
				Artifacts: map[string][]byte{"manifest.json": prodManifest}})
			ci := p.dbt.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitSHA: commit(7), GitHubPR: 7, StatusMessage: "Database Error in model stg_rentals",
				Script: []dbtcloudtest.Phase{
					{Status: dbtcloud.StatusQueued, Polls: 2},
					{Status: dbtcloud.StatusRunning, Polls: 2},
					{Status: tt.final},
				},
				Artifacts: map[string][]byte{"manifest.json": prManifest}})
			p.start()
			at := time.Now()
			if tt.late {
				at = at.Add(-time.Hour + time.Second)
			}
			req := p.request(7, commit(7), commit(1), at)

			var o outcome
			bustest.WaitFor(t, 30*time.Second, func() error {
				o = outcome{planned: bustest.Stored[events.DiffPlanned](t, p.bus, events.SubjectDiffPlanned)}
				o.failed = bustest.Stored[events.RunFailed](t, p.bus, events.SubjectRunFailed)
				o.cancelled = bustest.Stored[events.RunCancelled](t, p.bus, events.SubjectRunCancelled)
				if len(o.planned)+len(o.failed)+len(o.cancelled) == 0 {
					return fmt.Errorf("run %s has not ended or been planned", req.Run)
				}
				return nil
			})
			for _, c := range []string{ciwait.ConsumerRuns, manifests.Consumer, impact.Consumer} {
				bustest.WaitFor(t, wait, func() error { return consumerIdle(t, p.bus, c) })
			}
			var states []string
			for _, s := range bustest.Stored[events.RunStatus](t, p.bus, events.SubjectRunStatusPrefix+"github") {
				states = append(states, string(s.Stage)+":"+s.State)
			}
			if !slices.Contains(states, "ciwait:queued") || (!tt.late && !slices.Contains(states, "ciwait:running")) {
				t.Errorf("progress %v, want the CI run queued then running", states)
			}
			got := tasks(t, p.bus)
			if !tt.planned {
				tt.check(t, p, o, ci)
				if len(o.planned) != 0 || len(got) != 0 {
					t.Errorf("%d plans and %d diff tasks for a run that ended", len(o.planned), len(got))
				}
				if n := len(bustest.Stored[events.ManifestsResolved](t, p.bus, events.SubjectManifestsResolved)); n != 0 {
					t.Errorf("manifests resolved for a run that ended")
				}
				return
			}
			if len(o.planned) != 1 || len(o.failed)+len(o.cancelled) != 0 {
				t.Fatalf("outcome %+v, want one plan", o)
			}
			pl := plan(t, p.bus, o.planned[0].Plan)
			if o.planned[0].Tasks != 3 || len(got) != 3 || pl.DiffCount() != 3 {
				t.Errorf("%d tasks announced, %d stored, plan diffs %d; want 3", o.planned[0].Tasks, len(got), pl.DiffCount())
			}
			if pl.CIRun == nil || pl.CIRun.RunID != ci.ID() || pl.AccountName != "Acme Rides" || !strings.Contains(pl.ProdChoice, "base commit "+commit(1)[:7]) {
				t.Errorf("plan CI run %+v, account %q, choice %q", pl.CIRun, pl.AccountName, pl.ProdChoice)
			}
			res := bustest.Stored[events.ManifestsResolved](t, p.bus, events.SubjectManifestsResolved)
			if len(res) != 1 || res[0].PRManifest.Size != int64(len(prManifest)) || res[0].ProdManifest.Size != int64(len(prodManifest)) {
				t.Errorf("manifests resolved %+v, want both manifests stored", res)
			}
		})
	}
}

// jaffle reads a real jaffle_shop manifest from the handbook's fixtures.
func jaffle(t *testing.T, file string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixtures.Read(t, "manifests", "jaffle_shop", file), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestThePipelineOnARealJaffleShopManifest(t *testing.T) {
	prod := jaffle(t, "jaffle_shop_v12_dbt1.10.json")
	// The PR: stg_orders edited, everything built in the CI schema.
	pr := jaffle(t, "jaffle_shop_v12_dbt1.10.json")
	for id, v := range pr["nodes"].(map[string]any) {
		n := v.(map[string]any)
		switch n["resource_type"] {
		case "model", "seed", "snapshot":
			n["schema"] = ciSchema
			if rn, ok := n["relation_name"].(string); ok && rn != "" {
				n["relation_name"] = strings.Replace(rn, `"main"`, `"`+ciSchema+`"`, 1)
			}
		}
		if id == "model.jaffle_shop.stg_orders" {
			n["raw_code"] = n["raw_code"].(string) + "\nwhere order_total >= 0"
		}
	}
	prodBytes, _ := json.Marshal(prod)
	prBytes, _ := json.Marshal(pr)

	p := newPipeline(t, time.Hour)
	p.dbt.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11, GitSHA: commit(1), Artifacts: map[string][]byte{"manifest.json": prodBytes}})
	p.dbt.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitSHA: commit(8), GitHubPR: 8,
		Script:    []dbtcloudtest.Phase{{Status: dbtcloud.StatusRunning, Polls: 1}, {Status: dbtcloud.StatusSuccess}},
		Artifacts: map[string][]byte{"manifest.json": prBytes}})
	p.start()
	req := p.request(8, commit(8), commit(1), time.Now())
	var planned []events.DiffPlanned
	bustest.WaitFor(t, 30*time.Second, func() error {
		planned = bustest.Stored[events.DiffPlanned](t, p.bus, events.SubjectDiffPlanned)
		if len(planned) == 0 {
			if f := bustest.Stored[events.RunFailed](t, p.bus, events.SubjectRunFailed); len(f) > 0 {
				t.Fatalf("run failed: %+v", f)
			}
			return fmt.Errorf("run %s not planned", req.Run)
		}
		return nil
	})
	pl := plan(t, p.bus, planned[0].Plan)
	byID := map[string]events.PlannedModel{}
	for _, m := range pl.Models {
		byID[m.ID] = m
	}
	stg := byID["model.jaffle_shop.stg_orders"]
	if stg.Change != events.ChangeModified || !stg.Diff || stg.PR == nil || stg.PR.Schema != ciSchema || stg.Prod == nil || stg.Prod.Schema != "main" {
		t.Errorf("stg_orders planned %+v, want a modified model diffed between main and the CI schema", stg)
	}
	if orders := byID["model.jaffle_shop.orders"]; orders.Change != events.ChangeDownstream {
		t.Errorf("orders planned %+v, want downstream of stg_orders", orders)
	}
	if got := tasks(t, p.bus); len(got) != planned[0].Tasks || len(got) != pl.DiffCount() || len(got) == 0 {
		t.Errorf("%d tasks stored, %d announced, plan diffs %d", len(got), planned[0].Tasks, pl.DiffCount())
	}
	if pl.PRSchema != "v12" || pl.ProjectName != "jaffle_shop" {
		t.Errorf("plan read schema %s of project %q", pl.PRSchema, pl.ProjectName)
	}
}
