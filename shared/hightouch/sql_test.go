package hightouch

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRefs(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string // parts joined by "|" per ref
	}{
		{"one part", "select * from orders", []string{"orders"}},
		{"two and three parts", "SELECT a FROM analytics.orders o JOIN prod.analytics.customers AS c ON o.c = c.id", []string{"analytics|orders", "prod|analytics|customers"}},
		{"quoted parts", `select * from "Analytics"."Order ""Items""" join "db".public.x using (id)`, []string{`Analytics|Order "Items"`, "db|public|x"}},
		{"backtick path", "select * from `proj.dataset.orders`", []string{"proj|dataset|orders"}},
		{"comma list", "select * from a, b as bb, c cc where a.x = b.x", []string{"a", "b", "c"}},
		{"joins", "select * from a left outer join b on true cross join c natural full join d", []string{"a", "b", "c", "d"}},
		{"subquery", "select * from (select id from inner_t where x in (select y from deep)) s join outer_t using (id)", []string{"inner_t", "deep", "outer_t"}},
		{"cte", "with recent as (select * from orders where d > now()), b (x) as materialized (select 1) select * from recent join b on true join customers on true", []string{"orders", "customers"}},
		{"qualified cte name is a relation", "with orders as (select * from raw.orders) select * from analytics.orders", []string{"raw|orders", "analytics|orders"}},
		{"extract from", "select extract(year from created_at), substring(name from 2 for 3) from t", []string{"t"}},
		{"is distinct from", "select * from t where a is distinct from b", []string{"t"}},
		{"strings", "select 'from fake_string', $$ from dollar $$, $tag$ join x $tag$ from real", []string{"real"}},
		{"comments", "select * -- from line_comment\n from /* from block /* nested from */ join x */ real2", []string{"real2"}},
		{"table function", "select * from generate_series(1, 10) g join t on true", []string{"t"}},
		{"lateral and only", "select * from only parent p, lateral (select * from child c where c.p = p.id) x", []string{"parent", "child"}},
		{"union", "select id from a union all select id from b", []string{"a", "b"}},
		{"unterminated string", "select * from t where x = 'oops", []string{"t"}},
		{"snowflake time travel", "select * from t at(offset => -60) where x", []string{"t"}},
		{"semicolon", "select * from t;", []string{"t"}},
		{"unicode", "select * from données", []string{"données"}},
		{"no from", "select 1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range Refs(tt.sql) {
				got = append(got, strings.Join(r.Parts, "|"))
				// The span is the name as written: read on its own, it
				// names the same parts.
				span := tt.sql[r.Start:r.End]
				if again := Refs("select * from " + span); len(again) != 1 || !slices.Equal(again[0].Parts, r.Parts) {
					t.Errorf("span %q of %v reads as %v", span, r.Parts, again)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefSpans(t *testing.T) {
	sql := `select * from  "Analytics" . orders o join x.y`
	refs := Refs(sql)
	var spans []string
	for _, r := range refs {
		spans = append(spans, sql[r.Start:r.End])
	}
	if diff := cmp.Diff([]string{`"Analytics" . orders`, "x.y"}, spans); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}
