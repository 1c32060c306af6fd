package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// shopProject is a small dbt project: two staging models, an ephemeral
// model in the middle, two marts, a seed and an exposure.
func shopProject(schema string) *dbtgen.Manifest {
	cols := func(names ...string) []dbtgen.Column {
		var out []dbtgen.Column
		for _, n := range names {
			out = append(out, dbtgen.Column{Name: n, Description: "The " + n + "."})
		}
		return out
	}
	unique := func(model, col string) *dbtgen.Node {
		id := "model.shop." + model
		return &dbtgen.Node{ResourceType: "test", Name: "unique_" + model + "_" + col, TestName: "unique", ColumnName: col,
			AttachedNode: id, Parents: []string{id}, RawCode: "{{ test_unique(**_dbt_generic_test_kwargs) }}"}
	}
	return &dbtgen.Manifest{
		ProjectName: "shop", Schema: schema,
		Sources: []*dbtgen.Source{{SourceName: "app", Name: "orders", Database: "raw", Schema: "app"}, {SourceName: "app", Name: "customers", Database: "raw", Schema: "app"}},
		Nodes: []*dbtgen.Node{
			{ResourceType: "seed", Name: "country_codes", Checksum: [2]string{"sha256", "6c1f"}},
			{ResourceType: "model", Name: "stg_orders", Materialized: "view", Parents: []string{"source.shop.app.orders"},
				Columns: cols("order_id", "customer_id", "amount"), RawCode: "select id as order_id, customer_id, amount from {{ source('app', 'orders') }}"},
			{ResourceType: "model", Name: "stg_customers", Materialized: "view", Parents: []string{"source.shop.app.customers"},
				Columns: cols("customer_id", "name"), RawCode: "select * from {{ source('app', 'customers') }}"},
			{ResourceType: "model", Name: "int_orders", Materialized: "ephemeral", Parents: []string{"model.shop.stg_orders"},
				RawCode: "select * from {{ ref('stg_orders') }} where amount > 0"},
			{ResourceType: "model", Name: "orders", Materialized: "table", Parents: []string{"model.shop.int_orders"},
				Columns: cols("order_id", "customer_id", "amount"), Description: "One row per order.", Tags: []string{"finance"},
				Meta: map[string]any{"owner": "finance@example.com"}, RawCode: "select * from {{ ref('int_orders') }}"},
			{ResourceType: "model", Name: "customers", Materialized: "table",
				Parents: []string{"model.shop.stg_customers", "model.shop.orders", "seed.shop.country_codes"},
				Columns: cols("customer_id", "name", "lifetime_value"), RawCode: "select 1"},
			{ResourceType: "model", Name: "payments", Materialized: "table", Parents: []string{"model.shop.stg_orders"},
				Columns: cols("payment_ref", "amount"), RawCode: "select 2"},
			unique("orders", "order_id"), unique("stg_orders", "order_id"), unique("customers", "customer_id"),
		},
		Exposures: []*dbtgen.Exposure{{Name: "weekly", Label: "Weekly revenue", Type: "dashboard", OwnerName: "Finance",
			URL: "https://bi.example.com/weekly", Parents: []string{"model.shop.customers"}}},
	}
}

// writePair writes production and a PR that edits stg_orders and adds a
// model, and returns their paths.
func writePair(t *testing.T) (prod, pr string) {
	t.Helper()
	dir := t.TempDir()
	p := shopProject("analytics")
	q := shopProject("dbt_cloud_pr_22_7")
	for _, n := range q.Nodes {
		if n.Name == "stg_orders" {
			n.RawCode += " where not is_test"
		}
		if n.Name == "payments" {
			n.Meta = map[string]any{"diffgate": map[string]any{"never_diff": true}}
		}
	}
	q.Nodes = append(q.Nodes, &dbtgen.Node{ResourceType: "model", Name: "refunds", Materialized: "table",
		Parents: []string{"model.shop.orders"}, Columns: []dbtgen.Column{{Name: "id"}, {Name: "amount"}}, RawCode: "select 3"})
	prod, pr = filepath.Join(dir, "prod.json"), filepath.Join(dir, "pr.json")
	for path, m := range map[string]*dbtgen.Manifest{prod: p, pr: q} {
		if err := os.WriteFile(path, m.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return prod, pr
}

func runImpact(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"impact"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-golden +got):\n%s", name, diff)
	}
}

func TestImpactText(t *testing.T) {
	prod, pr := writePair(t)
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"impact.txt", nil},
		{"impact_slim.txt", []string{"--slim"}},
		{"impact_slim_label.txt", []string{"--slim", "--label", "bug", "--label", "diffgate:diff-all-downstream"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			code, out, errOut := runImpact(t, append([]string{"--prod", prod, "--pr", pr}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestImpactJSON(t *testing.T) {
	prod, pr := writePair(t)
	code, out, errOut := runImpact(t, "--prod", prod, "--pr", pr, "--format", "json", "--pk-tag", "pk")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "impact.json", out)
	var plan events.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("the JSON output is not a plan: %v", err)
	}
	if plan.Run != nil || plan.Version != events.Version || plan.DiffCount() == 0 {
		t.Errorf("plan: run %v, version %d, %d to diff", plan.Run, plan.Version, plan.DiffCount())
	}
	// The JSON is the library's plan, field for field.
	read := func(path string) *dbt.Manifest {
		m, err := readManifest(context.Background(), path, dbt.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want, err := dbt.Plan(context.Background(), read(prod), read(pr), dbt.PlanOptions{PrimaryKeyTag: "pk", ImportMetadata: true, SampleSize: defaultSampleSize})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, &plan); diff != "" {
		t.Errorf("JSON plan (-library +command):\n%s", diff)
	}
}

func TestImpactNothingChanged(t *testing.T) {
	prod, _ := writePair(t)
	code, out, errOut := runImpact(t, "--prod", prod, "--pr", prod)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "0 models modified or new, 0 models downstream; 0 models to diff") || !strings.Contains(out, "No model is modified or affected.") {
		t.Errorf("output:\n%s", out)
	}
}

func TestImpactErrors(t *testing.T) {
	prod, pr := writePair(t)
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.json")
	data, _ := os.ReadFile(pr)
	if err := os.WriteFile(truncated, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	// Over a limit of 1 MiB: a generated project of 100 models.
	large := filepath.Join(dir, "large.json")
	big, _ := dbtgen.Generate(dbtgen.Config{Models: 100, Seed: 1})
	if data := big.Bytes(); len(data) <= 1<<20 {
		t.Fatalf("the large manifest is only %d bytes", len(data))
	} else if err := os.WriteFile(large, data, 0o644); err != nil {
		t.Fatal(err)
	}
	v13 := filepath.Join(dir, "v13.json")
	if err := os.WriteFile(v13, []byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v13.json"},"nodes":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no --pr", []string{"--prod", prod}, 2, "both --prod and --pr are needed"},
		{"a stray argument", []string{"--prod", prod, "--pr", pr, "extra.json"}, 2, `unexpected argument "extra.json"`},
		{"an unknown format", []string{"--prod", prod, "--pr", pr, "--format", "yaml"}, 2, `--format is "yaml"; use text or json`},
		{"an unknown flag", []string{"--prod", prod, "--pr", pr, "--colour"}, 2, "flag provided but not defined: -colour"},
		{"a missing file", []string{"--prod", filepath.Join(dir, "nope.json"), "--pr", pr}, 1, "the production manifest"},
		{"a truncated PR manifest", []string{"--prod", prod, "--pr", truncated}, 1, "the PR manifest " + truncated + ": the manifest is not valid JSON"},
		{"an unknown schema version", []string{"--prod", v13, "--pr", pr}, 1, "schema v13"},
		{"a size limit of zero", []string{"--prod", prod, "--pr", pr, "--max-size", "0"}, 2, "--max-size must be a positive"},
		{"over the size limit", []string{"--prod", prod, "--pr", large, "--max-size", "1"}, 1, "the PR manifest " + large + ": the manifest is larger than the size limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runImpact(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if !strings.Contains(errOut, tt.says) {
				t.Errorf("stderr %q does not say %q", errOut, tt.says)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
	code, _, errOut := runImpact(t, "-h")
	if code != 0 || !strings.Contains(errOut, "Usage: diffgate impact --prod FILE --pr FILE") {
		t.Errorf("-h: exit %d, %q", code, errOut)
	}
}
