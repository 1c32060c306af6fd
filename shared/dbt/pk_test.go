package dbt_test

import (
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/google/go-cmp/cmp"
)

func TestFindPrimaryKey(t *testing.T) {
	withColumns := func(o *dbtgen.Node, names ...string) {
		o.Columns = nil
		for _, n := range names {
			o.Columns = append(o.Columns, dbtgen.Column{Name: n})
		}
	}
	ordersTest := func(m *dbtgen.Manifest, name, column string) *dbtgen.Node {
		tn := test(name, "orders", column)
		m.Nodes = append(m.Nodes, tn)
		return tn
	}
	tests := []struct {
		name     string
		tag      string
		edit     func(m *dbtgen.Manifest, o *dbtgen.Node)
		want     dbt.PrimaryKey
		noteSays string
	}{
		{
			name: "model meta",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Meta = map[string]any{"primary-key": []string{"order_id", "customer_id"}}
				ordersTest(m, "unique", "order_id")
			},
			want: dbt.PrimaryKey{Columns: []string{"order_id", "customer_id"}, Rule: "model meta `primary-key`"},
		},
		{
			name: "model meta with a custom tag, in config.meta",
			tag:  "pk",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Config = map[string]any{"meta": map[string]any{"pk": "order_id"}}
			},
			want: dbt.PrimaryKey{Columns: []string{"order_id"}, Rule: "model meta `pk`"},
		},
		{
			name: "column meta (composite: every part marked)",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Columns[0].Meta = map[string]any{"primary-key": true}
				o.Columns[1].Meta = map[string]any{"primary-key": true}
				o.Columns[2].Meta = map[string]any{"primary-key": false}
				ordersTest(m, "unique", "amount")
			},
			want: dbt.PrimaryKey{Columns: []string{"order_id", "customer_id"}, Rule: dbt.RuleColumnMeta},
		},
		{
			name: "column tags",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Columns[1].Tags = []string{"primary-key"}
				ordersTest(m, "unique", "order_id")
			},
			want: dbt.PrimaryKey{Columns: []string{"customer_id"}, Rule: dbt.RuleColumnTags},
		},
		{
			name: "unique test",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) { ordersTest(m, "unique", "order_id") },
			want: dbt.PrimaryKey{Columns: []string{"order_id"}, Rule: dbt.RuleUniqueTest},
		},
		{
			name: "two unique tests are not a composite key: the one also tested not_null",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				ordersTest(m, "unique", "order_id")
				ordersTest(m, "unique", "customer_id")
				ordersTest(m, "not_null", "customer_id")
			},
			want:     dbt.PrimaryKey{Columns: []string{"customer_id"}, Rule: dbt.RuleUniqueTest},
			noteSays: "each make one column unique, not a composite key; using `customer_id` (also tested not_null)",
		},
		{
			name: "two unique tests are not a composite key: the one declared first",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				ordersTest(m, "unique", "customer_id")
				ordersTest(m, "unique", "order_id")
			},
			want:     dbt.PrimaryKey{Columns: []string{"order_id"}, Rule: dbt.RuleUniqueTest},
			noteSays: "using `order_id` (declared first)",
		},
		{
			name: "unique test on a || expression",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				ordersTest(m, "unique", "customer_id || '-' || order_id")
			},
			want: dbt.PrimaryKey{Columns: []string{"customer_id", "order_id"}, Rule: dbt.RuleUniqueExpression},
		},
		{
			name: "unique test on concat()",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				ordersTest(m, "unique", "CONCAT(order_id, '|', \"customer_id\")")
			},
			want: dbt.PrimaryKey{Columns: []string{"order_id", "customer_id"}, Rule: dbt.RuleUniqueExpression},
		},
		{
			name: "dbt_utils.unique_combination_of_columns",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				tn := ordersTest(m, "unique_combination_of_columns", "")
				tn.Namespace = "dbt_utils"
				tn.Name = "dbt_utils_unique_combination_of_columns_orders_customer_id__order_id"
				tn.Kwargs = map[string]any{"combination_of_columns": []string{"customer_id", "order_id"}}
			},
			want: dbt.PrimaryKey{Columns: []string{"customer_id", "order_id"}, Rule: dbt.RuleUniqueCombination},
		},
		{
			name: "unique_key config",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Materialized = "incremental"
				o.Config = map[string]any{"unique_key": []string{"order_id", "customer_id"}}
			},
			want: dbt.PrimaryKey{Columns: []string{"order_id", "customer_id"}, Rule: dbt.RuleUniqueKey},
		},
		{
			name: "primary_key constraint on the model",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Constraints = []dbtgen.Constraint{{Type: "not_null", Columns: []string{"amount"}}, {Type: "primary_key", Columns: []string{"order_id"}}}
			},
			want: dbt.PrimaryKey{Columns: []string{"order_id"}, Rule: dbt.RuleConstraint},
		},
		{
			name: "primary_key constraint on a column",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				o.Columns[1].Constraints = []dbtgen.Constraint{{Type: "primary_key"}}
			},
			want: dbt.PrimaryKey{Columns: []string{"customer_id"}, Rule: dbt.RuleConstraint},
		},
		{
			name: "a column named id",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) { withColumns(o, "orders_id", "ID", "amount") },
			want: dbt.PrimaryKey{Columns: []string{"ID"}, Rule: dbt.RuleColumnID},
		},
		{
			name: "a column named pk",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) { withColumns(o, "pk", "amount") },
			want: dbt.PrimaryKey{Columns: []string{"pk"}, Rule: dbt.RuleColumnPK},
		},
		{
			name: "a column named <model>_id",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) { withColumns(o, "amount", "orders_id") },
			want: dbt.PrimaryKey{Columns: []string{"orders_id"}, Rule: dbt.RuleColumnModelID},
		},
		{
			name: "none",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) { withColumns(o, "customer_id", "amount") },
			want: dbt.PrimaryKey{Note: "no primary key: tag a column `primary-key` or add a unique test"},
		},
		{
			name: "none, with a custom tag named in the fix",
			tag:  "diff-key",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) { o.Columns = nil },
			want: dbt.PrimaryKey{Note: "no primary key: tag a column `diff-key` or add a unique test"},
		},
		{
			name: "a unique test from another package is not dbt's unique",
			edit: func(m *dbtgen.Manifest, o *dbtgen.Node) {
				tn := ordersTest(m, "unique", "amount")
				tn.Namespace = "dbt_expectations"
				withColumns(o, "order_id", "amount")
			},
			want: dbt.PrimaryKey{Note: "no primary key: tag a column `primary-key` or add a unique test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := shop()
			// orders without its tests: each case adds the ones it needs.
			var kept []*dbtgen.Node
			for _, n := range m.Nodes {
				if n.ResourceType != "test" || n.AttachedNode != "model.shop.orders" {
					kept = append(kept, n)
				}
			}
			m.Nodes = kept
			tt.edit(m, node(t, m, "orders"))
			got := read(t, m)
			o := mustNode(t, got, "model.shop.orders")
			pk := dbt.FindPrimaryKey(got, o, tt.tag)
			if tt.noteSays != "" {
				if !strings.Contains(pk.Note, tt.noteSays) {
					t.Errorf("note %q does not say %q", pk.Note, tt.noteSays)
				}
				pk.Note = ""
			}
			if diff := cmp.Diff(tt.want, pk); diff != "" {
				t.Errorf("primary key (-want +got):\n%s", diff)
			}
		})
	}
}
