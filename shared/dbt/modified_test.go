package dbt_test

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/google/go-cmp/cmp"
)

// changeSummary is what a reviewer reads of a comparison.
type changeSummary struct {
	Modified map[string][]string // unique_id → reasons ("new" for new nodes)
	Sources  []string
	Removed  []string
	Warnings []string // substrings
}

func summarize(c *dbt.Comparison) changeSummary {
	s := changeSummary{Modified: map[string][]string{}}
	for _, m := range c.Modified {
		if m.New {
			s.Modified[m.ID] = []string{"new"}
		} else {
			s.Modified[m.ID] = m.Reasons
		}
	}
	s.Sources = c.Sources
	for _, n := range c.Removed {
		s.Removed = append(s.Removed, n.UniqueID)
	}
	return s
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, m *dbtgen.Manifest)
		want changeSummary
	}{
		{
			name: "nothing but the CI schema changes",
			edit: func(t *testing.T, m *dbtgen.Manifest) {},
			want: changeSummary{Modified: map[string][]string{}},
		},
		{
			name: "body",
			edit: func(t *testing.T, m *dbtgen.Manifest) { node(t, m, "orders").RawCode += "\nwhere amount > 0" },
			want: changeSummary{Modified: map[string][]string{"model.shop.orders": {"body"}}},
		},
		{
			name: "configs: materialization",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "customers")
				n.Materialized = "incremental"
				n.Config = map[string]any{"unique_key": "customer_id"}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.customers": {"configs"}}},
		},
		{
			name: "configs: meta set through config() is compared",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "orders")
				n.Meta = map[string]any{"owner": "finance"}
				n.Unrendered = map[string]any{"materialized": "table", "meta": map[string]any{"owner": "finance"}}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.orders": {"configs"}}},
		},
		{
			name: "meta-only edit in YAML properties is not a change",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "orders")
				n.Meta = map[string]any{"owner": "finance", "diffgate": map[string]any{"filter": "amount > 0"}}
			},
			want: changeSummary{Modified: map[string][]string{}},
		},
		{
			name: "tag-only edit is not a change, even through config",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "orders")
				n.Tags = []string{"finance", "nightly"}
				n.Unrendered = map[string]any{"materialized": "table", "tags": []string{"finance", "nightly"}}
			},
			want: changeSummary{Modified: map[string][]string{}},
		},
		{
			name: "relation: a configured schema",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "orders")
				n.Schema = "dbt_cloud_pr_22_7_finance"
				n.Unrendered = map[string]any{"materialized": "table", "schema": "finance"}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.orders": {"relation"}}},
		},
		{
			name: "relation: an alias",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "stg_orders")
				n.Alias = "orders_clean"
				n.Unrendered = map[string]any{"materialized": "view", "alias": "orders_clean"}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.stg_orders": {"relation"}}},
		},
		{
			name: "descriptions count only when persisted",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				node(t, m, "orders").Description = "Orders, one row each."
				node(t, m, "customers").Columns[1].Description = "Full name."
			},
			want: changeSummary{Modified: map[string][]string{}},
		},
		{
			name: "persisted descriptions",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				o := node(t, m, "orders")
				o.Description = "Orders, one row each."
				o.Config = map[string]any{"persist_docs": map[string]any{"relation": true}}
				o.Unrendered = map[string]any{"materialized": "table"}
				c := node(t, m, "customers")
				c.Columns[1].Description = "Full name."
				c.Config = map[string]any{"persist_docs": map[string]any{"columns": true}}
				c.Unrendered = map[string]any{"materialized": "table"}
				// Persisted, but only the other kind changed: not a change.
				s := node(t, m, "stg_customers")
				s.Description = "Customers as loaded."
				s.Config = map[string]any{"persist_docs": map[string]any{"columns": true}}
				s.Unrendered = map[string]any{"materialized": "view"}
			},
			want: changeSummary{Modified: map[string][]string{
				"model.shop.orders":    {"persisted_descriptions"},
				"model.shop.customers": {"persisted_descriptions"},
			}},
		},
		{
			name: "a macro reaching a model through another macro",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				for _, mc := range m.Macros {
					if mc.Name == "money" {
						mc.SQL = "{% macro money(c) %}round({{ c }}, 2){% endmacro %}"
					}
				}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.stg_orders": {"macros"}}},
		},
		{
			name: "an unused macro changes nothing",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				m.Macros[2].SQL = "{% macro unused() %}2{% endmacro %}"
			},
			want: changeSummary{Modified: map[string][]string{}},
		},
		{
			name: "a removed macro a model still names",
			edit: func(t *testing.T, m *dbtgen.Manifest) { m.Macros = m.Macros[:1] },
			want: changeSummary{Modified: map[string][]string{"model.shop.stg_orders": {"macros"}}},
		},
		{
			name: "contract enforced from now on",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "orders")
				n.Contract = &dbtgen.Contract{Enforced: true, Checksum: "c0ffee"}
				n.Unrendered = map[string]any{"materialized": "table", "contract": map[string]any{"enforced": true}}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.orders": {"configs", "contract"}}},
		},
		{
			name: "fqn: the file moved",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				node(t, m, "orders").FQN = []string{"shop", "marts", "orders"}
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.orders": {"fqn"}}},
		},
		{
			name: "ref: access",
			edit: func(t *testing.T, m *dbtgen.Manifest) { node(t, m, "orders").Access = "public" },
			want: changeSummary{Modified: map[string][]string{"model.shop.orders": {"ref"}}},
		},
		{
			name: "new and removed models",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				c := node(t, m, "customers")
				c.Name = "dim_customers"
				m.Exposures[0].Parents = []string{"model.shop.dim_customers"}
				m.Nodes = append(m.Nodes, &dbtgen.Node{ResourceType: "model", Name: "order_items", Materialized: "table",
					Parents: []string{"model.shop.orders"}, RawCode: "select 1"})
			},
			want: changeSummary{
				Modified: map[string][]string{"model.shop.dim_customers": {"new"}, "model.shop.order_items": {"new"}},
				Removed:  []string{"model.shop.customers"},
			},
		},
		{
			name: "a disabled model is removed",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				c := node(t, m, "customers")
				var kept []*dbtgen.Node
				for _, n := range m.Nodes {
					if n != c {
						kept = append(kept, n)
					}
				}
				m.Nodes = kept
				m.Disabled = []*dbtgen.Node{c}
			},
			want: changeSummary{Modified: map[string][]string{}, Removed: []string{"model.shop.customers"},
				Warnings: []string{"customers is disabled in the PR"}},
		},
		{
			name: "seed contents",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				node(t, m, "country_codes").Checksum = [2]string{"sha256", "9e2a"}
			},
			want: changeSummary{Modified: map[string][]string{"seed.shop.country_codes": {"body"}}},
		},
		{
			name: "a snapshot",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				n := node(t, m, "orders_snapshot")
				n.Config = map[string]any{"unique_key": "order_id", "strategy": "check", "check_cols": "all"}
			},
			want: changeSummary{Modified: map[string][]string{"snapshot.shop.orders_snapshot": {"configs"}}},
		},
		{
			name: "a source moved: it is listed, its children are not modified",
			edit: func(t *testing.T, m *dbtgen.Manifest) { m.Sources[0].Schema = "app_v2" },
			want: changeSummary{Modified: map[string][]string{}, Sources: []string{"source.shop.app.orders"}},
		},
		{
			name: "a source's description and meta are not changes",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				m.Sources[0].Description = "Orders as the app writes them."
				m.Sources[0].Meta = map[string]any{"owner": "app-team"}
			},
			want: changeSummary{Modified: map[string][]string{}},
		},
		{
			name: "versioned model",
			edit: func(t *testing.T, m *dbtgen.Manifest) {
				m.Nodes = append(m.Nodes, &dbtgen.Node{ResourceType: "model", Name: "orders", Version: 2, LatestVersion: 1,
					Materialized: "table", Parents: []string{"model.shop.int_orders"}, RawCode: "select *, 1 as v from {{ ref('int_orders') }}"})
			},
			want: changeSummary{Modified: map[string][]string{"model.shop.orders.v2": {"new"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prod, pr := pair(t, tt.edit)
			c := dbt.Compare(prod, pr)
			got := summarize(c)
			want := tt.want
			for _, w := range want.Warnings {
				if !containsSub(c.Warnings, w) {
					t.Errorf("warnings %q do not mention %q", c.Warnings, w)
				}
			}
			want.Warnings, got.Warnings = nil, nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("comparison (-want +got):\n%s", diff)
			}
		})
	}
}

func containsSub(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// dbt compares seeds over 1 MB by path: unchanged path, unchanged seed,
// with a warning that the contents are not compared.
func TestCompareLargeSeed(t *testing.T) {
	big := func(m *dbtgen.Manifest) {
		node(t, m, "country_codes").Checksum = [2]string{"path", "seeds/country_codes.csv"}
	}
	p, q := shop(), shop()
	big(p)
	big(q)
	c := dbt.Compare(read(t, p), read(t, q))
	if len(c.Modified) != 0 {
		t.Errorf("large seed with the same path reported as %+v", c.Modified)
	}
	if !containsSub(c.Warnings, "country_codes is over 1 MB") {
		t.Errorf("warnings %q", c.Warnings)
	}
	// Growing past 1 MB changes the checksum kind: modified.
	q2 := shop()
	big(q2)
	c = dbt.Compare(read(t, shop()), read(t, q2))
	if got := summarize(c).Modified; !cmp.Equal(got, map[string][]string{"seed.shop.country_codes": {"body"}}) {
		t.Errorf("seed grown over 1 MB: %v", got)
	}
	if !containsSub(c.Warnings, "grew over 1 MB") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

// A contract whose enforced columns lose one: modified (contract) and a
// warning naming the breaking change.
func TestCompareContractBreakingChange(t *testing.T) {
	enforce := func(m *dbtgen.Manifest, checksum string) *dbtgen.Node {
		n := node(t, m, "orders")
		n.Contract = &dbtgen.Contract{Enforced: true, Checksum: checksum}
		n.Unrendered = map[string]any{"materialized": "table", "contract": map[string]any{"enforced": true}}
		for i := range n.Columns {
			n.Columns[i].DataType = "integer"
		}
		return n
	}
	p, q := shop(), shop()
	enforce(p, "aaaa")
	n := enforce(q, "bbbb")
	n.Columns = n.Columns[:2]
	c := dbt.Compare(read(t, p), read(t, q))
	if got := summarize(c).Modified; !cmp.Equal(got, map[string][]string{"model.shop.orders": {"contract"}}) {
		t.Errorf("modified %v", got)
	}
	if !containsSub(c.Warnings, "columns removed: amount") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

// Different dbt versions on the two sides: dbt's own macros differ, and the
// reviewer is told why so many models show as modified.
func TestCompareDifferentDBTVersions(t *testing.T) {
	p, q := shop(), shop()
	q.DBTVersion = "1.11.2"
	c := dbt.Compare(read(t, p), read(t, q))
	if !containsSub(c.Warnings, "dbt 1.10.13 and the PR's from dbt 1.11.2") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

// The generator's PR side changes known models; the comparison finds
// exactly those (plus the models whose macros changed).
func TestCompareGeneratedProject(t *testing.T) {
	prodM, _ := dbtgen.Generate(dbtgen.Config{Models: 120, Seed: 7, ChangeRate: 0.1})
	prM, changes := dbtgen.Generate(dbtgen.Config{Models: 120, Seed: 7, PR: true, ChangeRate: 0.1})
	c := dbt.Compare(read(t, prodM), read(t, prM))
	got := summarize(c)
	usesMacro := map[string]bool{}
	macroDeps := map[string][]string{}
	for _, mc := range prM.Macros {
		macroDeps[mc.ID("warehouse")] = mc.Deps
	}
	var reaches func(id string, seen map[string]bool) bool
	reaches = func(id string, seen map[string]bool) bool {
		if id == changes.Macro {
			return true
		}
		if seen[id] {
			return false
		}
		seen[id] = true
		for _, d := range macroDeps[id] {
			if reaches(d, seen) {
				return true
			}
		}
		return false
	}
	for _, n := range prM.Nodes {
		for _, d := range n.MacroDeps {
			if n.ResourceType != "test" && reaches(d, map[string]bool{}) {
				usesMacro[n.ID("warehouse")] = true
			}
		}
	}
	want := map[string][]string{}
	add := func(id, reason string) {
		want[id] = append(want[id], reason)
	}
	for _, id := range changes.Body {
		add(id, "body")
	}
	for _, id := range changes.Config {
		add(id, "configs")
	}
	for id := range usesMacro {
		add(id, "macros")
	}
	for _, id := range changes.New {
		want[id] = []string{"new"}
	}
	if len(usesMacro) == 0 || len(changes.Body) == 0 {
		t.Fatalf("the generated PR changes too little to test: %+v", changes)
	}
	if diff := cmp.Diff(want, got.Modified); diff != "" {
		t.Errorf("modified (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(changes.Removed, got.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
}
