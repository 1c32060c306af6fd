package dbt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/google/go-cmp/cmp"
)

// row is what the plan says of one model, in the order of the plan.
type row struct {
	ID     string
	Change events.Change
	Diff   bool
	Skip   string // a word of the skip reason
}

func rows(p *events.Plan) []row {
	var out []row
	for _, m := range p.Models {
		r := row{ID: m.ID, Change: m.Change, Diff: m.Diff}
		switch {
		case m.SkipReason == "":
		case m.SkipReason == dbt.SkipProdEphemeral:
			r.Skip = "prod-ephemeral"
		case strings.Contains(m.SkipReason, "ephemeral"):
			r.Skip = "ephemeral"
		case strings.Contains(m.SkipReason, "Slim Diff"):
			r.Skip = "slim"
		case strings.Contains(m.SkipReason, "never_diff"):
			r.Skip = "never"
		case strings.Contains(m.SkipReason, "new in this PR"):
			r.Skip = "new"
		case strings.Contains(m.SkipReason, "primary key"):
			r.Skip = "pk"
		default:
			r.Skip = m.SkipReason
		}
		out = append(out, r)
	}
	return out
}

func plan(t *testing.T, opts dbt.PlanOptions, edit func(t *testing.T, pr *dbtgen.Manifest)) *events.Plan {
	t.Helper()
	prod, pr := pair(t, edit)
	p, err := dbt.Plan(context.Background(), prod, pr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func editBody(name string) func(*testing.T, *dbtgen.Manifest) {
	return func(t *testing.T, m *dbtgen.Manifest) { node(t, m, name).RawCode += " -- edited" }
}

func TestPlanDiffSelection(t *testing.T) {
	stgOrdersEdited := editBody("stg_orders")
	tests := []struct {
		name string
		opts dbt.PlanOptions
		edit func(t *testing.T, m *dbtgen.Manifest)
		want []row
	}{
		{
			name: "Slim Diff off: modified and every downstream model",
			edit: stgOrdersEdited,
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, true, ""},
			},
		},
		{
			name: "Slim Diff on: modified only",
			opts: dbt.PlanOptions{SlimDiff: true},
			edit: stgOrdersEdited,
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, false, "slim"},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, false, "slim"},
			},
		},
		{
			name: "Slim Diff on, slim_diff: diff_when_downstream",
			opts: dbt.PlanOptions{SlimDiff: true},
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				stgOrdersEdited(t, m)
				node(t, m, "customers").Meta = map[string]any{"datafold": map[string]any{"datadiff": map[string]any{"slim_diff": "diff_when_downstream"}}}
			},
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, false, "slim"},
			},
		},
		{
			name: "Slim Diff on, the PR label",
			opts: dbt.PlanOptions{SlimDiff: true, Labels: []string{"bug", "diffgate:diff-all-downstream"}},
			edit: stgOrdersEdited,
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, true, ""},
			},
		},
		{
			name: "Slim Diff on, Datafold's label",
			opts: dbt.PlanOptions{SlimDiff: true, Labels: []string{"datafold:diff-all-downstream"}},
			edit: stgOrdersEdited,
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, true, ""},
			},
		},
		{
			name: "Slim Diff on, a label renamed in the config",
			opts: dbt.PlanOptions{SlimDiff: true, Labels: []string{"diffgate:diff-all-downstream"}, DiffAllDownstreamLabel: "full-diff"},
			edit: stgOrdersEdited,
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, false, "slim"},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, false, "slim"},
			},
		},
		{
			name: "never_diff",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				stgOrdersEdited(t, m)
				node(t, m, "orders").Meta = map[string]any{"diffgate": map[string]any{"never_diff": true}}
			},
			want: []row{
				{"model.shop.stg_orders", events.ChangeModified, true, ""},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.int_orders", events.ChangeDownstream, false, "ephemeral"},
				{"model.shop.orders", events.ChangeDownstream, false, "never"},
			},
		},
		{
			name: "an ephemeral model in the middle changes: what inlines it is diffed even with Slim Diff",
			opts: dbt.PlanOptions{SlimDiff: true},
			edit: editBody("int_orders"),
			want: []row{
				{"model.shop.int_orders", events.ChangeModified, false, "ephemeral"},
				{"model.shop.customers", events.ChangeDownstream, false, "slim"},
				{"model.shop.orders", events.ChangeDownstream, true, ""},
			},
		},
		{
			name: "a new model has no production side",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				m.Nodes = append(m.Nodes, &dbtgen.Node{ResourceType: "model", Name: "order_items", Materialized: "table",
					Parents: []string{"model.shop.orders"}, RawCode: "select 1 as id"})
			},
			want: []row{{"model.shop.order_items", events.ChangeNew, false, "new"}},
		},
		{
			name: "a changed source: its readers are downstream",
			edit: func(t *testing.T, m *dbtgen.Manifest) { m.Sources[1].Schema = "app_v2" },
			want: []row{
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.stg_customers", events.ChangeDownstream, true, ""},
			},
		},
		{
			name: "no primary key",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				editBody("stg_customers")(t, m)
				var kept []*dbtgen.Node
				for _, n := range m.Nodes {
					if n.AttachedNode != "model.shop.stg_customers" {
						kept = append(kept, n)
					}
				}
				m.Nodes = kept
			},
			want: []row{
				{"model.shop.stg_customers", events.ChangeModified, false, "pk"},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
			},
		},
		{
			name: "ephemeral in production, a table in the PR",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "int_orders")
				n.Materialized = "table"
				n.Unrendered = map[string]any{"materialized": "table"}
			},
			want: []row{
				{"model.shop.int_orders", events.ChangeModified, false, "prod-ephemeral"},
				{"model.shop.customers", events.ChangeDownstream, true, ""},
				{"model.shop.orders", events.ChangeDownstream, true, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan(t, tt.opts, tt.edit)
			if diff := cmp.Diff(tt.want, rows(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if p.DiffCount() != countDiff(tt.want) {
				t.Errorf("DiffCount = %d", p.DiffCount())
			}
		})
	}
}

func countDiff(rs []row) int {
	n := 0
	for _, r := range rs {
		if r.Diff {
			n++
		}
	}
	return n
}

func TestPlanModelDetails(t *testing.T) {
	p := plan(t, dbt.PlanOptions{SampleSize: 20, SamplesOff: "", ImportMetadata: true}, func(t *testing.T, m *dbtgen.Manifest) {
		o := node(t, m, "orders")
		o.RawCode += " -- edited"
		o.Tags = []string{"finance"}
		o.Meta = map[string]any{"owner": "finance@example.com", "datafold": map[string]any{"datadiff": map[string]any{
			"filter": "amount > 0", "time_column": []string{"ordered_at"}, "prod_time_travel": []string{"2026-01-01T00:00:00"},
			"include_columns": []string{"amount", "customer_id"}, "exclude_columns": "customer_id",
		}}, "diffgate": map[string]any{"filter": "amount > 10", "pr_time_travel": -300}}
	})
	o := p.Models[0]
	want := events.PlannedModel{
		ID: "model.shop.orders", Name: "orders", Kind: events.KindDBT, ResourceType: "model", Materialized: "table",
		Path: "models/orders.sql", Change: events.ChangeModified, Reasons: []string{"body"}, Diff: true,
		PrimaryKey: []string{"order_id"}, PrimaryKeyRule: dbt.RuleUniqueTest,
		Prod: &events.Relation{Database: "analytics", Schema: "analytics", Identifier: "orders", Quoting: events.Quoting{Database: true, Schema: true, Identifier: true}},
		PR:   &events.Relation{Database: "analytics", Schema: "dbt_cloud_pr_22_7", Identifier: "orders", Quoting: events.Quoting{Database: true, Schema: true, Identifier: true}},
		Options: events.DiffOptions{Filter: "amount > 10", IncludeColumns: []string{"amount", "customer_id"}, ExcludeColumns: []string{"customer_id"},
			TimeColumn: "ordered_at", ProdTimeTravel: "2026-01-01T00:00:00", PRTimeTravel: "-300", SampleSize: 20},
		Tags: []string{"finance"}, Description: "One row per order.", Owner: "finance@example.com",
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("orders (-want +got):\n%s", diff)
	}
	c := p.Models[1]
	if c.ID != "model.shop.customers" || !cmp.Equal(c.Upstream, []string{"model.shop.orders"}) {
		t.Errorf("customers: %+v", c)
	}
	if diff := cmp.Diff([]events.Asset{{ID: "exposure.shop.weekly", Kind: "exposure", Name: "Weekly revenue", Type: "dashboard",
		URL: "https://bi.example.com/weekly", Owner: "Finance", Upstream: []string{"model.shop.customers"}}}, p.Exposures); diff != "" {
		t.Errorf("exposures (-want +got):\n%s", diff)
	}
	if p.Version != events.Version || p.ProdSchema != "v12" || p.PRSchema != "v12" || p.ProjectName != "shop" || p.AdapterType != "postgres" {
		t.Errorf("plan header %+v", p)
	}
}

func TestPlanLineage(t *testing.T) {
	for _, imp := range []bool{false, true} {
		p := plan(t, dbt.PlanOptions{ImportMetadata: imp}, func(t *testing.T, m *dbtgen.Manifest) {
			o := node(t, m, "orders")
			o.RawCode += " -- edited"
			o.Tags = []string{"finance"}
		})
		var nodes []string
		byID := map[string]events.LineageNode{}
		for _, n := range p.Lineage.Nodes {
			nodes = append(nodes, n.ID+":"+string(n.Change))
			byID[n.ID] = n
		}
		// The impacted subgraph and, as context, the parents of what is
		// impacted.
		wantNodes := []string{
			"exposure.shop.weekly:downstream", "model.shop.customers:downstream", "model.shop.int_orders:",
			"model.shop.orders:modified", "model.shop.stg_customers:", "seed.shop.country_codes:",
		}
		if diff := cmp.Diff(wantNodes, nodes); diff != "" {
			t.Errorf("lineage nodes (-want +got):\n%s", diff)
		}
		var edges []string
		for _, e := range p.Lineage.Edges {
			edges = append(edges, e.From+" > "+e.To)
		}
		wantEdges := []string{
			"model.shop.customers > exposure.shop.weekly", "model.shop.int_orders > model.shop.orders",
			"model.shop.orders > model.shop.customers", "model.shop.stg_customers > model.shop.customers",
			"seed.shop.country_codes > model.shop.customers",
		}
		if diff := cmp.Diff(wantEdges, edges); diff != "" {
			t.Errorf("lineage edges (-want +got):\n%s", diff)
		}
		o := byID["model.shop.orders"]
		if imp != (o.Description == "One row per order." && cmp.Equal(o.Tags, []string{"finance"})) {
			t.Errorf("import_dbt_metadata %v: lineage node %+v", imp, o)
		}
		if o.Materialized != "table" || o.ResourceType != "model" {
			t.Errorf("lineage node %+v", o)
		}
	}
}

func TestPlanRemovedAndWarnings(t *testing.T) {
	p := plan(t, dbt.PlanOptions{}, func(t *testing.T, m *dbtgen.Manifest) {
		var kept []*dbtgen.Node
		for _, n := range m.Nodes {
			if n.Name != "customers" && n.AttachedNode != "model.shop.customers" {
				kept = append(kept, n)
			}
		}
		m.Nodes = kept
		m.Exposures = nil
		o := node(t, m, "orders")
		o.Meta = map[string]any{"diffgate": map[string]any{"never_dif": true, "filter": 3, "slim_diff": "always"}}
	})
	if diff := cmp.Diff([]events.Node{{ID: "model.shop.customers", Name: "customers", ResourceType: "model"}}, p.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if len(p.Models) != 0 {
		t.Errorf("models %+v", p.Models)
	}
	// Meta mistakes on models that are not in the plan are not reported
	// (the plan reads meta of planned models only); edit one that is.
	p = plan(t, dbt.PlanOptions{}, func(t *testing.T, m *dbtgen.Manifest) {
		o := node(t, m, "orders")
		o.RawCode += " -- edited"
		o.Meta = map[string]any{"diffgate": map[string]any{"never_dif": true, "filter": []int{3}, "slim_diff": "always"}}
	})
	for _, w := range []string{
		"meta.diffgate.never_dif of orders: is not a known key",
		"meta.diffgate.filter of orders: expected a string, got a list",
		`meta.diffgate.slim_diff of orders: is "always"; the only value is "diff_when_downstream"`,
	} {
		if !containsSub(p.Warnings, w) {
			t.Errorf("warnings %q do not say %q", p.Warnings, w)
		}
	}
}

// config.meta and meta both count; meta.diffgate wins over Datafold's keys.
func TestPlanMetaPrecedence(t *testing.T) {
	p := plan(t, dbt.PlanOptions{}, func(t *testing.T, m *dbtgen.Manifest) {
		o := node(t, m, "orders")
		o.RawCode += " -- edited"
		o.Config = map[string]any{"meta": map[string]any{
			"diffgate": map[string]any{"time_column": "updated_at", "never_diff": "false"},
			"datafold": map[string]any{"datadiff": map[string]any{"filter": "from config"}},
		}}
		o.Unrendered = map[string]any{"materialized": "table"}
		o.Meta = map[string]any{"datafold": map[string]any{"datadiff": map[string]any{"filter": "from meta", "time_column": "created_at", "never_diff": true}}}
	})
	o := p.Models[0]
	if o.Options.Filter != "from meta" || o.Options.TimeColumn != "updated_at" || !o.Diff {
		t.Errorf("options %+v diff %v (%s)", o.Options, o.Diff, o.SkipReason)
	}
}

// Versioned models keep their version in the name and the relation.
func TestPlanVersionedModel(t *testing.T) {
	v2 := func(m *dbtgen.Manifest) *dbtgen.Node {
		n := &dbtgen.Node{ResourceType: "model", Name: "orders", Version: 2, LatestVersion: 2, Materialized: "table",
			Parents: []string{"model.shop.int_orders"}, RawCode: "select * from {{ ref('int_orders') }}",
			Columns: []dbtgen.Column{{Name: "order_id"}, {Name: "amount"}}}
		m.Nodes = append(m.Nodes, n)
		return n
	}
	p, q := shop(), shop()
	q.Schema = "dbt_cloud_pr_22_7"
	v2(p)
	v2(q).RawCode += " where amount > 0"
	plan, err := dbt.Plan(context.Background(), read(t, p), read(t, q), dbt.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Models) != 1 {
		t.Fatalf("models %+v", plan.Models)
	}
	m := plan.Models[0]
	if m.ID != "model.shop.orders.v2" || m.Name != "orders.v2" || m.PR.Identifier != "orders_v2" || m.Prod.Identifier != "orders_v2" {
		t.Errorf("versioned model %+v", m)
	}
	// orders.v2 declares order_id and amount: no rule finds a key (its
	// <model>_id would be orders_id), and the plan says how to fix it.
	if m.PrimaryKey != nil || m.Diff || !strings.Contains(m.PrimaryKeyNote, "tag a column `primary-key`") {
		t.Errorf("primary key %v %q %q, diff %v", m.PrimaryKey, m.PrimaryKeyRule, m.PrimaryKeyNote, m.Diff)
	}
}

// Relations keep the manifest's quoting: Snowflake projects often quote
// nothing, and then the names are unquoted on both sides.
func TestPlanQuoting(t *testing.T) {
	p, q := shop(), shop()
	for _, m := range []*dbtgen.Manifest{p, q} {
		m.AdapterType = "snowflake"
		m.Quoting = &dbtgen.Quoting{}
	}
	q.Schema = "DBT_CLOUD_PR_22_7"
	node(t, q, "orders").RawCode += " -- edited"
	plan, err := dbt.Plan(context.Background(), read(t, p), read(t, q), dbt.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := plan.Models[0]
	want := events.Relation{Database: "analytics", Schema: "DBT_CLOUD_PR_22_7", Identifier: "orders"}
	if diff := cmp.Diff(&want, o.PR); diff != "" {
		t.Errorf("PR relation (-want +got):\n%s", diff)
	}
}

func TestPlanNeedsBothManifests(t *testing.T) {
	if _, err := dbt.Plan(context.Background(), nil, read(t, shop()), dbt.PlanOptions{}); err == nil {
		t.Error("Plan with no production manifest succeeded")
	}
}

// The same manifests give the same plan, byte for byte: the plan is stored
// and compared, and map order must not leak into it.
func TestPlanDeterministic(t *testing.T) {
	prodM, _ := dbtgen.Generate(dbtgen.Config{Models: 120, Seed: 3, ChangeRate: 0.1})
	prM, _ := dbtgen.Generate(dbtgen.Config{Models: 120, Seed: 3, PR: true, ChangeRate: 0.1})
	for _, n := range prM.Nodes {
		if n.ResourceType == "model" {
			n.Meta = map[string]any{"diffgate": map[string]any{"filtr": "x"}} // a warning for every planned model
		}
	}
	prod, pr := read(t, prodM), read(t, prM)
	first, err := dbt.Plan(context.Background(), prod, pr, dbt.PlanOptions{ImportMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Warnings) < 10 || len(first.Models) < 10 {
		t.Fatalf("too small a plan to show anything: %d models, %d warnings", len(first.Models), len(first.Warnings))
	}
	for range 3 {
		again, err := dbt.Plan(context.Background(), prod, pr, dbt.PlanOptions{ImportMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("plans differ (-first +again):\n%s", diff)
		}
	}
}
