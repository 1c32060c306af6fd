package hightouch_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
)

// quote renders a relation the PostgreSQL way, every part quoted.
func quote(r events.Relation) (string, error) {
	var parts []string
	for _, p := range []string{r.Database, r.Schema, r.Identifier} {
		if p != "" {
			parts = append(parts, `"`+strings.ReplaceAll(p, `"`, `""`)+`"`)
		}
	}
	return strings.Join(parts, "."), nil
}

func rel(db, schema, id string) *events.Relation {
	return &events.Relation{Database: db, Schema: schema, Identifier: id}
}

// basePlan: orders is modified, customers is downstream of it (and not
// diffed, as under Slim Diff); payments is in the manifest but unchanged.
func basePlan() *events.Plan {
	return &events.Plan{
		SlimDiff: true,
		Models: []events.PlannedModel{
			{ID: "model.shop.orders", Name: "orders", Kind: events.KindDBT, ResourceType: "model", Change: events.ChangeModified,
				Diff: true, Prod: rel("analytics", "marts", "orders"), PR: rel("analytics", "dbt_cloud_pr_22_7", "orders")},
			{ID: "model.shop.customers", Name: "customers", Kind: events.KindDBT, ResourceType: "model", Change: events.ChangeDownstream,
				Upstream: []string{"model.shop.orders"}, Diff: false, SkipReason: "slim diff",
				Prod: rel("analytics", "marts", "Customers"), PR: rel("analytics", "dbt_cloud_pr_22_7", "Customers")},
		},
		Lineage: events.Lineage{
			Nodes: []events.LineageNode{{ID: "model.shop.orders", Name: "orders", ResourceType: "model", Change: events.ChangeModified},
				{ID: "model.shop.customers", Name: "customers", ResourceType: "model", Change: events.ChangeDownstream}},
			Edges: []events.Edge{{From: "model.shop.orders", To: "model.shop.customers"}},
		},
	}
}

var manifestNodes = []hightouch.DBTNode{
	{UniqueID: "model.shop.orders", Relation: *rel("analytics", "marts", "orders")},
	{UniqueID: "model.shop.customers", Relation: *rel("analytics", "marts", "Customers")},
	{UniqueID: "model.shop.payments", Relation: *rel("analytics", "marts", "payments")},
	{UniqueID: "model.shop.stg_orders", Relation: *rel("analytics", "staging", "orders")},
}

// listed serves models from the stand-in and lists them with the client,
// so the plan is built from what the API returns.
func listed(t *testing.T, models ...hightouchtest.Model) []hightouch.Model {
	t.Helper()
	s := hightouchtest.New(t)
	for _, m := range models {
		s.AddModel(m)
	}
	got, err := s.Client().ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func addToPlan(t *testing.T, models []hightouch.Model, opts hightouch.PlanOptions) (*events.Plan, string) {
	t.Helper()
	var logs bytes.Buffer
	ctx := zerolog.New(&logs).WithContext(context.Background())
	plan := basePlan()
	if opts.Quote == nil {
		opts.Quote = quote
	}
	if err := hightouch.AddToPlan(ctx, plan, models, manifestNodes, opts); err != nil {
		t.Fatal(err)
	}
	return plan, logs.String()
}

func hightouchModels(p *events.Plan) map[string]events.PlannedModel {
	out := map[string]events.PlannedModel{}
	for _, m := range p.Models {
		if m.Kind == events.KindHightouch {
			out[m.ID] = m
		}
	}
	return out
}

func TestDBTBackedModel(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		models := listed(t, hightouchtest.Model{ID: 11, Name: "Customer audience sync", SourceID: 42, PrimaryKey: "customer_id",
			Syncs: []int64{501, 502}, DBTUniqueID: "model.shop.customers", DBTCloud: cloud,
			DBTRelation: [3]string{"analytics", "marts", "Customers"}})
		plan, _ := addToPlan(t, models, hightouch.PlanOptions{DiffModels: true, SourceIDs: []int64{42}})
		want := events.PlannedModel{
			ID: "hightouch.7.11", Name: "Customer audience sync", Kind: events.KindHightouch, ResourceType: "hightouch_model",
			Materialized: "dbt", Change: events.ChangeDownstream, Upstream: []string{"model.shop.orders"},
			Diff: true, PrimaryKey: []string{"customer_id"}, PrimaryKeyRule: "hightouch primaryKey",
			ProdQuery: `select * from "analytics"."marts"."Customers"`,
			PRQuery:   `select * from "analytics"."dbt_cloud_pr_22_7"."Customers"`,
			Syncs:     []int64{501, 502},
		}
		// Slim Diff left the dbt model undiffed; the Hightouch model is diffed anyway.
		if diff := cmp.Diff(map[string]events.PlannedModel{want.ID: want}, hightouchModels(plan)); diff != "" {
			t.Errorf("dbt_cloud=%v: planned (-want +got):\n%s", cloud, diff)
		}
		wantAssets := []events.Asset{
			{ID: "hightouch.7.11", Kind: "hightouch_model", Name: "Customer audience sync", Type: "dbt", Upstream: []string{"model.shop.customers"}},
			{ID: "hightouch.7.sync.501", Kind: "hightouch_sync", Name: "Sync 501", Upstream: []string{"hightouch.7.11"}},
			{ID: "hightouch.7.sync.502", Kind: "hightouch_sync", Name: "Sync 502", Upstream: []string{"hightouch.7.11"}},
		}
		if diff := cmp.Diff(wantAssets, plan.Hightouch); diff != "" {
			t.Errorf("assets (-want +got):\n%s", diff)
		}
		wantEdges := []events.Edge{{From: "model.shop.orders", To: "model.shop.customers"},
			{From: "model.shop.customers", To: "hightouch.7.11"},
			{From: "hightouch.7.11", To: "hightouch.7.sync.501"}, {From: "hightouch.7.11", To: "hightouch.7.sync.502"}}
		if diff := cmp.Diff(wantEdges, plan.Lineage.Edges); diff != "" {
			t.Errorf("edges (-want +got):\n%s", diff)
		}
		if n := len(plan.Lineage.Nodes); n != 5 {
			t.Errorf("lineage nodes = %d, want 5", n)
		}
	}
}

func TestRawSQLModelSubstitutesOnlyRealReferences(t *testing.T) {
	sql := `-- reads marts.orders
select o.id, c.name, 'join marts.orders' as note /* from marts.orders */
from marts.orders o
join "MARTS"."CUSTOMERS" c on c.id = o.customer_id
left join analytics.marts.payments p on p.order_id = o.id
where o.status is distinct from 'from marts.orders'`
	models := listed(t, hightouchtest.Model{ID: 12, Name: "Orders with customers", SourceID: 42, PrimaryKey: "id", SQL: sql})
	plan, _ := addToPlan(t, models, hightouch.PlanOptions{DiffModels: true, SourceIDs: []int64{42}})
	got := hightouchModels(plan)["hightouch.7.12"]
	wantPR := `-- reads marts.orders
select o.id, c.name, 'join marts.orders' as note /* from marts.orders */
from "analytics"."dbt_cloud_pr_22_7"."orders" o
join "analytics"."dbt_cloud_pr_22_7"."Customers" c on c.id = o.customer_id
left join analytics.marts.payments p on p.order_id = o.id
where o.status is distinct from 'from marts.orders'`
	if got.ProdQuery != sql {
		t.Errorf("prod query changed:\n%s", got.ProdQuery)
	}
	if diff := cmp.Diff(wantPR, got.PRQuery); diff != "" {
		t.Errorf("PR query (-want +got):\n%s", diff)
	}
	if !got.Diff || got.Materialized != "raw_sql" || !cmp.Equal(got.Upstream, []string{"model.shop.orders"}) {
		t.Errorf("planned %+v", got)
	}
	asset := plan.Hightouch[0]
	if !cmp.Equal(asset.Upstream, []string{"model.shop.customers", "model.shop.orders"}) {
		t.Errorf("asset upstream %v", asset.Upstream)
	}
}

func TestTableModel(t *testing.T) {
	models := listed(t,
		hightouchtest.Model{ID: 13, Name: "Orders table", SourceID: 42, PrimaryKey: "id", Table: "marts.orders"},
		hightouchtest.Model{ID: 14, Name: "Payments table", SourceID: 42, PrimaryKey: "id", Table: "marts.payments"})
	plan, _ := addToPlan(t, models, hightouch.PlanOptions{DiffModels: true})
	got := hightouchModels(plan)
	if len(got) != 1 {
		t.Fatalf("planned %v; the payments table is not impacted", got)
	}
	m := got["hightouch.7.13"]
	if m.ProdQuery != "select * from marts.orders" || m.PRQuery != `select * from "analytics"."dbt_cloud_pr_22_7"."orders"` || !m.Diff {
		t.Errorf("planned %+v", m)
	}
}

func TestUnknownAndCustomModelsAreLoggedNotPlanned(t *testing.T) {
	models := listed(t,
		hightouchtest.Model{ID: 15, Name: "Sigma thing", SourceID: 42, PrimaryKey: "id", QueryType: "sigma_workbook"},
		hightouchtest.Model{ID: 16, Name: "Airtable base", SourceID: 42, Custom: map[string]any{"base": "app1"}})
	plan, logs := addToPlan(t, models, hightouch.PlanOptions{DiffModels: true})
	if got := hightouchModels(plan); len(got) != 0 {
		t.Errorf("planned %v", got)
	}
	if !strings.Contains(logs, "unknown query type") || !strings.Contains(logs, "sigma_workbook") || !strings.Contains(logs, `"hightouch_model":"15"`) {
		t.Errorf("unknown query type not logged: %s", logs)
	}
	if strings.Contains(logs, `"level":"warn","hightouch_model":"16"`) {
		t.Errorf("custom model logged as unknown: %s", logs)
	}
}

func TestModelOnUnconfiguredSourceIsIgnored(t *testing.T) {
	models := listed(t,
		hightouchtest.Model{ID: 17, Name: "Other warehouse", SourceID: 99, PrimaryKey: "id", SQL: "select * from marts.orders"},
		hightouchtest.Model{ID: 18, Name: "Ours", SourceID: 42, PrimaryKey: "id", SQL: "select * from marts.orders"})
	plan, _ := addToPlan(t, models, hightouch.PlanOptions{DiffModels: true, SourceIDs: []int64{42}})
	got := hightouchModels(plan)
	if _, ok := got["hightouch.7.17"]; ok || len(got) != 1 {
		t.Errorf("planned %v, want only hightouch.7.18", got)
	}
	for _, a := range plan.Hightouch {
		if a.ID == "hightouch.7.17" {
			t.Error("unconfigured source listed as asset")
		}
	}
}

func TestModelsTwoAndThreeHopsDownstream(t *testing.T) {
	models := listed(t,
		hightouchtest.Model{ID: 20, Name: "All customers", SourceID: 42, PrimaryKey: "id", SQL: "select * from marts.customers"},
		hightouchtest.Model{ID: 21, Name: "VIP audience", SourceID: 42, PrimaryKey: "id", VisualParent: 20, Syncs: []int64{601}},
		hightouchtest.Model{ID: 22, Name: "VIP in Paris", SourceID: 42, VisualParent: 21},
		hightouchtest.Model{ID: 23, Name: "Payments audience", SourceID: 42, VisualParent: 24},
		hightouchtest.Model{ID: 24, Name: "All payments", SourceID: 42, PrimaryKey: "id", SQL: "select * from marts.payments"})
	plan, _ := addToPlan(t, models, hightouch.PlanOptions{DiffModels: true})
	got := hightouchModels(plan)
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	if len(got) != 3 {
		t.Fatalf("planned %v, want models 20, 21, 22", ids)
	}
	vip := got["hightouch.7.21"]
	if vip.Diff || !strings.Contains(vip.SkipReason, "visual") || !cmp.Equal(vip.Upstream, []string{"model.shop.orders"}) {
		t.Errorf("two hops: %+v", vip)
	}
	if paris := got["hightouch.7.22"]; !cmp.Equal(paris.Upstream, []string{"model.shop.orders"}) || paris.Diff {
		t.Errorf("three hops: %+v", paris)
	}
	// Ordered by name after the dbt models.
	var names []string
	for _, m := range plan.Models[2:] {
		names = append(names, m.Name)
	}
	if diff := cmp.Diff([]string{"All customers", "VIP audience", "VIP in Paris"}, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	wantEdge := events.Edge{From: "hightouch.7.20", To: "hightouch.7.21"}
	found := false
	for _, e := range plan.Lineage.Edges {
		found = found || e == wantEdge
	}
	if !found {
		t.Errorf("no edge %v in %v", wantEdge, plan.Lineage.Edges)
	}
}

func TestWhyNotDiffed(t *testing.T) {
	tests := []struct {
		name  string
		model hightouchtest.Model
		opts  hightouch.PlanOptions
		want  string
	}{
		{"diffing off", hightouchtest.Model{ID: 30, Name: "a", PrimaryKey: "id", SQL: "select * from marts.orders"},
			hightouch.PlanOptions{}, "diff_hightouch_models is off"},
		{"no primary key", hightouchtest.Model{ID: 31, Name: "b", SQL: "select * from marts.orders"},
			hightouch.PlanOptions{DiffModels: true}, "no primary key: set the model's primary key in Hightouch"},
		{"ambiguous name", hightouchtest.Model{ID: 32, Name: "c", PrimaryKey: "id", SQL: "select * from orders"},
			hightouch.PlanOptions{DiffModels: true}, `"orders" names several dbt models (model.shop.orders, model.shop.stg_orders): qualify it with its schema`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, _ := addToPlan(t, listed(t, tt.model), tt.opts)
			got := hightouchModels(plan)
			if len(got) != 1 {
				t.Fatalf("planned %v", got)
			}
			for _, m := range got {
				if m.Diff || m.SkipReason != tt.want {
					t.Errorf("diff %v, reason %q; want %q", m.Diff, m.SkipReason, tt.want)
				}
				if !tt.opts.DiffModels && (m.ProdQuery != "" || m.PRQuery != "") {
					t.Errorf("queries set while diffing is off: %+v", m)
				}
			}
		})
	}
}

func TestNewAndUnbuiltModels(t *testing.T) {
	plan := basePlan()
	plan.Models[0].PR = nil // orders not built in this PR
	models := listed(t, hightouchtest.Model{ID: 40, Name: "x", PrimaryKey: "id", SQL: "select * from marts.orders"})
	if err := hightouch.AddToPlan(context.Background(), plan, models, manifestNodes, hightouch.PlanOptions{DiffModels: true, Quote: quote}); err != nil {
		t.Fatal(err)
	}
	m := hightouchModels(plan)["hightouch.7.40"]
	if m.Diff || m.SkipReason != "dbt model orders was not built in this PR" {
		t.Errorf("%+v", m)
	}
	if err := hightouch.AddToPlan(context.Background(), basePlan(), models, nil, hightouch.PlanOptions{DiffModels: true}); !errors.Is(err, hightouch.ErrNoQuoter) {
		t.Errorf("err = %v, want ErrNoQuoter", err)
	}
}

func TestARelationThatCannotBeQuotedFailsThePlan(t *testing.T) {
	models := listed(t, hightouchtest.Model{ID: 41, Name: "x", PrimaryKey: "id", SQL: "select * from marts.orders"})
	refuse := func(events.Relation) (string, error) { return "", errors.New(`name "or\x00ders" contains a NUL byte`) }
	err := hightouch.AddToPlan(context.Background(), basePlan(), models, manifestNodes, hightouch.PlanOptions{DiffModels: true, Quote: refuse})
	if err == nil || !strings.Contains(err.Error(), "hightouch.7.41") || !strings.Contains(err.Error(), "NUL byte") {
		t.Errorf("err = %v, want the model and the quoting error", err)
	}
}
