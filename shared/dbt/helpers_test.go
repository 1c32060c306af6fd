package dbt_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
)

// shop is a small hand-made project in the real manifest shape:
//
//	source app.orders ─▶ stg_orders ─▶ int_orders (ephemeral) ─▶ orders ─▶ customers ─▶ exposure weekly
//	source app.customers ─▶ stg_customers ──────────────────────────────────┘      ▲
//	seed country_codes ─────────────────────────────────────────────────────────────┘
//	source app.orders ─▶ snapshot orders_snapshot
func shop() *dbtgen.Manifest {
	m := &dbtgen.Manifest{ProjectName: "shop", Schema: "analytics"}
	m.Sources = []*dbtgen.Source{
		{SourceName: "app", Name: "orders", Database: "raw", Schema: "app"},
		{SourceName: "app", Name: "customers", Database: "raw", Schema: "app"},
	}
	m.Macros = []*dbtgen.Macro{
		{Name: "cents_to_dollars", SQL: "{% macro cents_to_dollars(c) %}{{ money(c) }} / 100{% endmacro %}", Deps: []string{"macro.shop.money"}},
		{Name: "money", SQL: "{% macro money(c) %}({{ c }})::numeric(16, 2){% endmacro %}"},
		{Name: "unused", SQL: "{% macro unused() %}1{% endmacro %}"},
	}
	cols := func(names ...string) []dbtgen.Column {
		out := make([]dbtgen.Column, len(names))
		for i, n := range names {
			out[i] = dbtgen.Column{Name: n, Description: "The " + n + "."}
		}
		return out
	}
	m.Nodes = []*dbtgen.Node{
		{ResourceType: "seed", Name: "country_codes", Checksum: [2]string{"sha256", "6c1f"}, Columns: cols("code", "name")},
		{ResourceType: "model", Name: "stg_orders", Materialized: "view", Parents: []string{"source.shop.app.orders"},
			MacroDeps: []string{"macro.shop.cents_to_dollars"}, Columns: cols("order_id", "customer_id", "amount"),
			RawCode: "select id as order_id, customer_id, {{ cents_to_dollars('amount') }} as amount from {{ source('app', 'orders') }}"},
		{ResourceType: "model", Name: "stg_customers", Materialized: "view", Parents: []string{"source.shop.app.customers"},
			Columns: cols("customer_id", "name", "country"), RawCode: "select * from {{ source('app', 'customers') }}"},
		{ResourceType: "model", Name: "int_orders", Materialized: "ephemeral", Parents: []string{"model.shop.stg_orders"},
			RawCode: "select * from {{ ref('stg_orders') }} where amount > 0"},
		{ResourceType: "model", Name: "orders", Materialized: "table", Parents: []string{"model.shop.int_orders"},
			Columns: cols("order_id", "customer_id", "amount"), Description: "One row per order.",
			RawCode: "select * from {{ ref('int_orders') }}"},
		{ResourceType: "model", Name: "customers", Materialized: "table",
			Parents: []string{"model.shop.stg_customers", "model.shop.orders", "seed.shop.country_codes"},
			Columns: cols("customer_id", "name", "lifetime_value"),
			RawCode: "select c.*, sum(o.amount) as lifetime_value from {{ ref('stg_customers') }} c left join {{ ref('orders') }} o using (customer_id) group by 1, 2, 3"},
		{ResourceType: "snapshot", Name: "orders_snapshot", Schema: "snapshots", Parents: []string{"source.shop.app.orders"},
			Config:  map[string]any{"unique_key": "order_id", "strategy": "timestamp", "updated_at": "updated_at"},
			RawCode: "{% snapshot orders_snapshot %}select * from {{ source('app', 'orders') }}{% endsnapshot %}"},
		test("unique", "orders", "order_id"),
		test("not_null", "orders", "order_id"),
		test("unique", "customers", "customer_id"),
		test("unique", "stg_orders", "order_id"),
		test("unique", "stg_customers", "customer_id"),
	}
	m.Exposures = []*dbtgen.Exposure{{Name: "weekly", Label: "Weekly revenue", Type: "dashboard", URL: "https://bi.example.com/weekly",
		OwnerName: "Finance", Parents: []string{"model.shop.customers"}}}
	return m
}

func test(name, model, column string) *dbtgen.Node {
	id := "model.shop." + model
	return &dbtgen.Node{ResourceType: "test", Name: name + "_" + model + "_" + column, TestName: name, ColumnName: column,
		AttachedNode: id, Parents: []string{id}, RawCode: "{{ test_" + name + "(**_dbt_generic_test_kwargs) }}",
		MacroDeps: []string{"macro.dbt.test_" + name}}
}

// node finds a node of a generated project by name.
func node(t *testing.T, m *dbtgen.Manifest, name string) *dbtgen.Node {
	t.Helper()
	for _, n := range m.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %s", name)
	return nil
}

// read reads a generated manifest.
func read(t testing.TB, m *dbtgen.Manifest) *dbt.Manifest {
	t.Helper()
	got, err := dbt.Read(context.Background(), bytes.NewReader(m.Bytes()), dbt.ReadOptions{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

// pair returns the shop project as production and, edited, as a PR built
// in a CI schema (as dbt Cloud builds PRs).
func pair(t *testing.T, edit func(t *testing.T, pr *dbtgen.Manifest)) (prod, pr *dbt.Manifest) {
	t.Helper()
	p := shop()
	q := shop()
	q.Schema = "dbt_cloud_pr_22_7"
	if edit != nil {
		edit(t, q)
	}
	return read(t, p), read(t, q)
}
