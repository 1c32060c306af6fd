package impact_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
	"github.com/diffgate/diffgate/workers/impact"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

func rel(schema, id string) *events.Relation {
	return &events.Relation{Database: "analytics", Schema: schema, Identifier: id, Quoting: events.Quoting{Database: true, Schema: true, Identifier: true}}
}

func TestAPlanAndOneTaskPerModelArePublished(t *testing.T) {
	w := newWorld(t, false)
	w.start()
	prod, pr := pair()
	msg := w.resolved(7, prod, pr)

	p, f := planned(t, w.bus, msg.Run)
	if len(p) != 1 || len(f) != 0 {
		t.Fatalf("planned %+v, failed %+v: want one plan", p, f)
	}
	got := tasks(t, w.bus)
	if p[0].Tasks != 3 || len(got) != 3 {
		t.Fatalf("DiffPlanned says %d tasks, %d stored; want the edited model and its two tables downstream", p[0].Tasks, len(got))
	}
	// Differs compare prod with the PR build, keyed by the unique tests.
	want := map[string]events.DiffTask{}
	for _, m := range []struct{ name, key string }{{"stg_rentals", "rental_id"}, {"rentals", "rental_id"}, {"daily_rides", "ride_date"}} {
		want["model.rides."+m.name] = events.DiffTask{
			Version: events.Version, Run: msg.Run, Integration: integration, DataSource: "warehouse",
			ModelID: "model.rides." + m.name, ModelName: m.name, Kind: events.KindDBT,
			Prod: &events.DiffSide{Relation: rel("prod", m.name)}, PR: events.DiffSide{Relation: rel(ciSchema, m.name)},
			Key: []string{m.key}, Options: events.DiffOptions{SampleSize: 20},
		}
	}
	gotByID := map[string]events.DiffTask{}
	for _, task := range got {
		gotByID[task.ModelID] = task
	}
	if diff := cmp.Diff(want, gotByID); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}

	stored := plan(t, w.bus, p[0].Plan)
	if p[0].Plan.Name != events.PlanObject(msg.Run.ID()) || stored.Run == nil || stored.Run.ID() != msg.Run.ID() {
		t.Errorf("plan %s for run %v, want %s for %s", p[0].Plan.Name, stored.Run, events.PlanObject(msg.Run.ID()), msg.Run)
	}
	if stored.Integration != integration || stored.DataSource != "warehouse" || stored.AccountName != "Acme Rides" ||
		stored.CIRun == nil || stored.CIRun.RunID != 9001 || stored.ProdRun == nil || stored.ProdRun.RunID != 8001 || stored.ProdChoice != msg.ProdChoice {
		t.Errorf("plan does not carry what the report needs: %+v", stored)
	}
	if stored.DiffCount() != 3 {
		t.Errorf("plan diffs %d models, want 3", stored.DiffCount())
	}
}

func TestARedeliveredRunPublishesNothingNew(t *testing.T) {
	w := newWorld(t, false)
	w.start()
	prod, pr := pair()
	msg := w.resolved(8, prod, pr)
	planned(t, w.bus, msg.Run)
	before := len(tasks(t, w.bus))

	// The same message again, as a replay or a redelivery would bring it.
	data, _ := json.Marshal(msg)
	m := nats.NewMsg(w.bus.Subject(events.SubjectManifestsResolved))
	m.Data = data
	m.Header.Set(events.HeaderMsgID, "replay-of-"+msg.MsgID())
	if _, err := w.bus.JetStream().PublishMsg(bustest.Context(t), m); err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus, impact.Consumer) })
	if p, _ := planned(t, w.bus, msg.Run); len(p) != 1 {
		t.Errorf("%d DiffPlanned, want 1", len(p))
	}
	if after := len(tasks(t, w.bus)); after != before {
		t.Errorf("tasks went from %d to %d on a replay", before, after)
	}
}

func TestHightouchModelsBelowTheChangeAreDiffed(t *testing.T) {
	for _, diffHightouch := range []bool{true, false} {
		name := map[bool]string{true: "diff_hightouch_models on", false: "diff_hightouch_models off"}[diffHightouch]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, true)
			rideModels(w.ht)
			w.cfg.Integrations[0].CI.DiffHightouchModels = &diffHightouch
			// Slim Diff leaves the downstream dbt tables alone; Hightouch
			// models are diffed either way.
			w.cfg.Integrations[0].CI.SlimDiff = true
			w.start()
			prod, pr := pair()
			msg := w.resolved(9, prod, pr)
			p, f := planned(t, w.bus, msg.Run)
			if len(p) != 1 || len(f) != 0 {
				t.Fatalf("planned %+v, failed %+v", p, f)
			}
			byID := map[string]events.DiffTask{}
			for _, task := range tasks(t, w.bus) {
				byID[task.ModelID] = task
			}
			ids := make([]string, 0, len(byID))
			for id := range byID {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			wantIDs := []string{"hightouch.7.11", "hightouch.7.12", "hightouch.7.15", "model.rides.stg_rentals"}
			if !diffHightouch {
				wantIDs = []string{"model.rides.stg_rentals"}
			}
			if !slices.Equal(ids, wantIDs) || p[0].Tasks != len(wantIDs) {
				t.Fatalf("tasks for %v (DiffPlanned says %d), want %v", ids, p[0].Tasks, wantIDs)
			}
			if diffHightouch {
				// Two hops below the edit, read in SQL: the PR query reads the PR build.
				daily := byID["hightouch.7.11"]
				want := events.DiffTask{
					Version: events.Version, Run: msg.Run, Integration: integration, DataSource: "warehouse",
					ModelID: "hightouch.7.11", ModelName: "Daily rides to Slack", Kind: events.KindHightouch,
					// Production runs the model's SQL as Hightouch does.
					Prod: &events.DiffSide{Query: `select ride_date, rides from prod.daily_rides where rides > 0`},
					PR:   events.DiffSide{Query: `select ride_date, rides from "analytics"."dbt_cloud_pr_22_7"."daily_rides" where rides > 0`},
					Key:  []string{"ride_date"}, Options: events.DiffOptions{SampleSize: 20},
				}
				if diff := cmp.Diff(want, daily); diff != "" {
					t.Errorf("task of the SQL model (-want +got):\n%s", diff)
				}
				if crm := byID["hightouch.7.12"]; crm.Prod == nil || !strings.Contains(crm.PR.Query, `"dbt_cloud_pr_22_7"."rentals"`) || !slices.Equal(crm.Key, []string{"rental_id"}) {
					t.Errorf("task of the dbt-backed model %+v, want it to read the PR's rentals keyed by rental_id", crm)
				}
				if table := byID["hightouch.7.15"]; table.Prod == nil || !strings.Contains(table.PR.Query, `"dbt_cloud_pr_22_7"."daily_rides"`) {
					t.Errorf("task of the table model %+v, want it to read the PR's daily_rides", table)
				}
			}
			stored := plan(t, w.bus, p[0].Plan)
			var assets []string
			for _, a := range stored.Hightouch {
				assets = append(assets, a.ID)
			}
			slices.Sort(assets)
			wantAssets := []string{"hightouch.7.11", "hightouch.7.12", "hightouch.7.15", "hightouch.7.sync.501", "hightouch.7.sync.502", "hightouch.7.sync.503"}
			if !slices.Equal(assets, wantAssets) {
				t.Errorf("Hightouch assets %v, want %v (not the model on source 99, the unchanged stations or the unknown kind)", assets, wantAssets)
			}
			for _, m := range stored.Models {
				if m.ID == "hightouch.7.13" || m.ID == "hightouch.7.14" || m.ID == "hightouch.7.16" {
					t.Errorf("plan lists %s (%s)", m.ID, m.Name)
				}
			}
			if n := w.ht.Count(hightouchtest.EndpointListModels); n != 1 {
				t.Errorf("%d list-models requests, want 1 page", n)
			}
		})
	}
}

func TestHightouchFailures(t *testing.T) {
	t.Run("key refused: the run ends", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, true)
		w.ht.Fail(hightouchtest.EndpointListModels, hightouchtest.Fault{Status: http.StatusUnauthorized})
		w.start()
		prod, pr := pair()
		msg := w.resolved(10, prod, pr)
		p, f := planned(t, w.bus, msg.Run)
		if len(f) != 1 || len(p) != 0 || f[0].Code != events.FailHightouch || !strings.Contains(f[0].Hint, "hightouch.token") {
			t.Fatalf("planned %+v, failed %+v: want a Hightouch failure pointing at the key", p, f)
		}
		if got := tasks(t, w.bus); len(got) != 0 {
			t.Errorf("%d tasks published for a failed run", len(got))
		}
	})
	t.Run("unavailable, then back: retried", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, true)
		rideModels(w.ht)
		// More 503s than the client's own tries: the bus redelivers.
		w.ht.Fail(hightouchtest.EndpointListModels, hightouchtest.Fault{Status: http.StatusServiceUnavailable, Times: 7})
		w.start()
		prod, pr := pair()
		msg := w.resolved(11, prod, pr)
		p, f := planned(t, w.bus, msg.Run)
		if len(p) != 1 || len(f) != 0 || p[0].Tasks != 3+3 {
			t.Fatalf("planned %+v, failed %+v: want a plan with the Hightouch models once the API answered", p, f)
		}
	})
	t.Run("unavailable for good: a dead letter", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, true)
		w.opts.MaxDeliver = 2
		w.ht.Fail(hightouchtest.EndpointListModels, hightouchtest.Fault{Status: http.StatusBadGateway, Times: 1 << 20})
		w.start()
		prod, pr := pair()
		msg := w.resolved(12, prod, pr)
		var dead []events.DeadLetter
		bustest.WaitFor(t, wait, func() error {
			if dead = bustest.Stored[events.DeadLetter](t, w.bus, events.SubjectDeadLetterPrefix+impact.Consumer); len(dead) == 0 {
				return errNotYet
			}
			return nil
		})
		if run, err := events.RunOf(dead[0].Data); err != nil || run.ID() != msg.Run.ID() || !strings.Contains(dead[0].Error, "502") {
			t.Errorf("dead letter %+v, want the run and the 502", dead[0])
		}
		if got := tasks(t, w.bus); len(got) != 0 {
			t.Errorf("%d tasks published for a run that could not be planned", len(got))
		}
	})
}

func TestAnUnreadableManifestEndsTheRun(t *testing.T) {
	w := newWorld(t, false)
	w.start()
	prod, _ := pair()
	msg := w.resolved(13, prod, []byte(`{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}, "nodes": {"model.x": `))
	p, f := planned(t, w.bus, msg.Run)
	if len(f) != 1 || len(p) != 0 {
		t.Fatalf("planned %+v, failed %+v: want one failure", p, f)
	}
	if f[0].Code != events.FailNoManifest || !strings.Contains(f[0].Message, "the PR's manifest.json (dbt Cloud run #9001) cannot be read") || f[0].Hint == "" {
		t.Errorf("failure %+v, want a message naming the PR's manifest and a hint", f[0])
	}
}

func TestASupersededRunIsNotPlanned(t *testing.T) {
	w := newWorld(t, false)
	w.start()
	prod, pr := pair()
	// The gate already moved the PR to another head.
	newer := events.Run{Provider: events.GitHub, Repository: repo, PR: 14, HeadSHA: strings.Repeat("e", 40)}
	workertest.SetHead(t, w.bus, events.PRHead{RunID: newer.ID(), Run: newer})
	w.resolved(14, prod, pr)
	bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus, impact.Consumer) })
	if got := bustest.Stored[events.DiffPlanned](t, w.bus, events.SubjectDiffPlanned); len(got) != 0 {
		t.Errorf("superseded run planned: %+v", got)
	}
	if got := tasks(t, w.bus); len(got) != 0 {
		t.Errorf("superseded run has %d tasks", len(got))
	}
}
