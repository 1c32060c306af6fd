package dbtgen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Config describes a synthetic project.
type Config struct {
	Models int    // number of models (at least 50)
	Seed   uint64 // the same seed gives the same project
	// PR makes the pull-request side of the pair: about ChangeRate of the
	// models edited (bodies, configs), one project macro edited, a few new
	// and removed models, and every relation in a CI schema.
	PR         bool
	ChangeRate float64 // default 0.03
}

// Changes lists what the PR side of a generated pair changes, for checking
// the analysis against the generator.
type Changes struct {
	Body, Config []string // unique_ids of models edited
	Macro        string   // the edited macro
	New, Removed []string
}

var colTypes = []string{"integer", "varchar", "numeric(18,2)", "timestamp", "date", "boolean", "bigint", "varchar"}
var colWords = []string{"amount", "status", "created_at", "updated_at", "customer_id", "region", "channel", "quantity", "price", "discount", "is_active", "category", "country", "currency", "source", "score"}

// Generate builds a realistic synthetic dbt project of cfg.Models models
// (schema v12): staging, intermediate and mart layers over sources and
// seeds, a deep and wide DAG, about ten documented columns per model,
// generic tests, project and dbt macros, snapshots and exposures. With
// cfg.PR it returns the pull-request side and what it changed.
func Generate(cfg Config) (*Manifest, Changes) {
	if cfg.Models < 50 {
		cfg.Models = 50
	}
	if cfg.ChangeRate == 0 {
		cfg.ChangeRate = 0.03
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	// Changes draw from their own stream so prod and PR share the project.
	chg := rand.New(rand.NewPCG(cfg.Seed, 0xc4a9))
	m := &Manifest{ProjectName: "warehouse", AdapterType: "postgres", Database: "analytics", Schema: "prod", DBTVersion: "1.10.13",
		Quoting: &Quoting{true, true, true}}
	if cfg.PR {
		m.Schema = "dbt_cloud_pr_22_123"
	}
	var changes Changes
	p := m.ProjectName

	// dbt's own macros: a realistic count and size, unchanged by the PR.
	for i := range 300 {
		m.Macros = append(m.Macros, &Macro{Package: "dbt", Name: fmt.Sprintf("default__builtin_%03d", i), SQL: filler("{% macro builtin() %}", 900, uint64(i))})
	}
	nMacros := max(10, cfg.Models/20)
	editedMacro := nMacros / 3
	for i := range nMacros {
		mc := &Macro{Name: fmt.Sprintf("fmt_%03d", i), SQL: filler(fmt.Sprintf("{%% macro fmt_%03d(col) %%}", i), 400, uint64(i)+1000)}
		if i > 0 && rng.IntN(3) == 0 {
			mc.Deps = []string{fmt.Sprintf("macro.%s.fmt_%03d", p, rng.IntN(i))}
		}
		mc.Deps = append(mc.Deps, "macro.dbt.default__builtin_007")
		if cfg.PR && i == editedMacro {
			mc.SQL += "\n{# rounding fixed #}"
			changes.Macro = mc.ID(p)
		}
		m.Macros = append(m.Macros, mc)
	}
	nSources := max(5, cfg.Models/50)
	for i := range nSources {
		m.Sources = append(m.Sources, &Source{SourceName: fmt.Sprintf("app_%d", i%10), Name: fmt.Sprintf("raw_table_%03d", i), Description: "Raw rows loaded by the ingestion tool, one per event."})
	}
	nSeeds := max(3, cfg.Models/200)
	for i := range nSeeds {
		name := fmt.Sprintf("seed_lookup_%02d", i)
		m.Nodes = append(m.Nodes, &Node{ResourceType: "seed", Name: name, Checksum: [2]string{"sha256", sha(name)},
			Columns: genColumns(rng, name, 4)})
	}

	ids := make([]string, 0, cfg.Models)
	var models []*Node
	for i := range cfg.Models {
		name := fmt.Sprintf("model_%05d", i)
		layer := "staging"
		switch {
		case i >= cfg.Models*7/10:
			layer = "marts"
		case i >= cfg.Models/4:
			layer = "intermediate"
		}
		n := &Node{ResourceType: "model", Name: name, Path: "models/" + layer + "/" + name + ".sql",
			FQN: []string{p, layer, name}}
		switch {
		case layer == "staging":
			if rng.IntN(10) == 0 {
				n.Parents = []string{m.Nodes[rng.IntN(nSeeds)].ID(p)}
			} else {
				n.Parents = []string{m.Sources[rng.IntN(nSources)].ID(p)}
			}
			n.Materialized = "view"
		default:
			k := 1 + rng.IntN(4)
			window := max(50, cfg.Models/20)
			for range k {
				lo := max(0, i-window)
				j := lo + rng.IntN(i-lo)
				if rng.IntN(8) == 0 {
					j = rng.IntN(i) // a long edge keeps the DAG wide
				}
				id := ids[j]
				if !contains(n.Parents, id) {
					n.Parents = append(n.Parents, id)
				}
			}
			switch r := rng.IntN(20); {
			case layer == "intermediate" && r < 2:
				n.Materialized = "ephemeral"
			case r < 8:
				n.Materialized = "view"
			case r < 16:
				n.Materialized = "table"
			default:
				n.Materialized = "incremental"
			}
		}
		n.Columns = genColumns(rng, name, 8+rng.IntN(5))
		n.Description = fmt.Sprintf("The %s model: one row per %s, cleaned and joined for reporting.", name, n.Columns[0].Name)
		if rng.IntN(4) == 0 {
			n.Tags = []string{layer, "nightly"}
		}
		nm := rng.IntN(3)
		for range nm {
			n.MacroDeps = append(n.MacroDeps, fmt.Sprintf("macro.%s.fmt_%03d", p, rng.IntN(nMacros)))
		}
		n.Config = map[string]any{}
		if n.Materialized == "incremental" {
			n.Config["unique_key"] = n.Columns[0].Name
			n.Config["on_schema_change"] = "append_new_columns"
			n.MacroDeps = append(n.MacroDeps, "macro.dbt.default__builtin_001")
		}
		if rng.IntN(20) == 0 {
			n.Meta = map[string]any{"owner": "data-team", "datafold": map[string]any{"datadiff": map[string]any{"filter": "created_at >= current_date - 30"}}}
			n.Config["meta"] = n.Meta
		}
		n.RawCode = genSQL(rng, n, p)
		if cfg.PR {
			switch r := chg.Float64(); {
			case r < cfg.ChangeRate*0.8:
				n.RawCode += "\n-- exclude test accounts\nwhere not is_test_account"
				changes.Body = append(changes.Body, n.ID(p))
			case r < cfg.ChangeRate:
				if n.Materialized == "view" {
					n.Materialized = "table"
					changes.Config = append(changes.Config, n.ID(p))
				}
			}
		}
		n.Config["materialized"] = n.Materialized
		ids = append(ids, n.ID(p))
		models = append(models, n)
	}
	// Removed in the PR: three marts nothing reads.
	hasChild := map[string]bool{}
	for _, n := range models {
		for _, par := range n.Parents {
			hasChild[par] = true
		}
	}
	removed := map[string]bool{}
	if cfg.PR {
		for i := len(models) - 1; i >= 0 && len(removed) < 3; i -= 7 {
			if id := models[i].ID(p); !hasChild[id] {
				removed[id] = true
				changes.Removed = append(changes.Removed, id)
			}
		}
		slices.Sort(changes.Removed)
		keep := func(ids []string) []string {
			return slices.DeleteFunc(ids, func(id string) bool { return removed[id] })
		}
		changes.Body, changes.Config = keep(changes.Body), keep(changes.Config)
	}
	var tests []*Node
	for _, n := range models {
		// Tests are drawn for removed models too, so both sides draw the
		// same random numbers for everything after.
		ts := genTests(rng, n, p, ids)
		if removed[n.ID(p)] {
			continue
		}
		m.Nodes = append(m.Nodes, n)
		tests = append(tests, ts...)
	}
	if cfg.PR {
		for i := range 5 {
			parent := ids[chg.IntN(len(ids))]
			for removed[parent] {
				parent = ids[chg.IntN(len(ids))]
			}
			n := &Node{ResourceType: "model", Name: fmt.Sprintf("new_model_%d", i), Materialized: "table",
				Parents: []string{parent}}
			n.Columns = genColumns(chg, n.Name, 6)
			n.RawCode = genSQL(chg, n, p)
			n.Config = map[string]any{"materialized": "table"}
			m.Nodes = append(m.Nodes, n)
			tests = append(tests, genTests(chg, n, p, ids)...)
			changes.New = append(changes.New, n.ID(p))
		}
	}
	for i := range max(2, cfg.Models/100) {
		src := m.Sources[i%nSources]
		n := &Node{ResourceType: "snapshot", Name: fmt.Sprintf("snap_%03d", i), Materialized: "snapshot",
			Parents: []string{src.ID(p)}, Schema: "snapshots"}
		n.Columns = genColumns(rng, n.Name, 6)
		n.Config = map[string]any{"unique_key": n.Columns[0].Name, "strategy": "timestamp", "updated_at": "updated_at", "target_schema": "snapshots"}
		n.RawCode = fmt.Sprintf("{%% snapshot %s %%}\nselect * from {{ source('%s', '%s') }}\n{%% endsnapshot %%}", n.Name, src.SourceName, src.Name)
		m.Nodes = append(m.Nodes, n)
	}
	m.Nodes = append(m.Nodes, tests...)
	for i := range max(2, cfg.Models/100) {
		e := &Exposure{Name: fmt.Sprintf("dashboard_%03d", i), Label: fmt.Sprintf("Dashboard %d", i), Type: "dashboard",
			URL: fmt.Sprintf("https://bi.example.com/d/%d", i), OwnerName: "Analytics", OwnerEmail: "analytics@example.com"}
		for range 1 + rng.IntN(4) {
			j := cfg.Models*7/10 + rng.IntN(cfg.Models-cfg.Models*7/10)
			if id := ids[j]; !removed[id] && !contains(e.Parents, id) {
				e.Parents = append(e.Parents, id)
			}
		}
		m.Exposures = append(m.Exposures, e)
	}
	return m, changes
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func genColumns(rng *rand.Rand, name string, n int) []Column {
	cols := []Column{{Name: strings.TrimPrefix(name, "model_") + "_key", DataType: "bigint", Description: "Surrogate key of the " + name + " row; unique and never null."}}
	if rng.IntN(3) == 0 {
		cols[0].Name = "id"
	}
	for i := 1; i < n; i++ {
		w := colWords[(i*7+len(name))%len(colWords)]
		if i >= len(colWords)/2 {
			w = fmt.Sprintf("%s_%d", w, i)
		}
		cols = append(cols, Column{Name: w, DataType: colTypes[rng.IntN(len(colTypes))],
			Description: fmt.Sprintf("The %s of the row, as reported by the source system and cleaned in staging.", strings.ReplaceAll(w, "_", " "))})
	}
	return cols
}

func genSQL(rng *rand.Rand, n *Node, project string) string {
	var b strings.Builder
	b.WriteString("{{ config(materialized='" + n.Materialized + "') }}\n\nwith\n")
	for i, par := range n.Parents {
		parts := strings.Split(par, ".")
		ref := "{{ ref('" + parts[2] + "') }}"
		if parts[0] == "source" {
			ref = "{{ source('" + parts[2] + "', '" + parts[3] + "') }}"
		}
		fmt.Fprintf(&b, "p%d as (\n    select * from %s\n    where _loaded_at is not null\n)%s\n", i, ref, map[bool]string{true: ",", false: ""}[i < len(n.Parents)-1])
	}
	b.WriteString("\nselect\n")
	for i, c := range n.Columns {
		sep := ","
		if i == len(n.Columns)-1 {
			sep = ""
		}
		switch {
		case i > 0 && len(n.MacroDeps) > 0 && i%4 == 0:
			fmt.Fprintf(&b, "    {{ %s('p0.%s') }} as %s%s\n", strings.Split(n.MacroDeps[0], ".")[2], c.Name, c.Name, sep)
		case i%3 == 2:
			fmt.Fprintf(&b, "    case when p0.%s is null then 0 else p0.%s end as %s%s\n", c.Name, c.Name, c.Name, sep)
		default:
			fmt.Fprintf(&b, "    p0.%s%s\n", c.Name, sep)
		}
	}
	b.WriteString("from p0\n")
	for i := 1; i < len(n.Parents); i++ {
		fmt.Fprintf(&b, "left join p%d on p%d.%s = p0.%s\n", i, i, n.Columns[0].Name, n.Columns[0].Name)
	}
	if n.Materialized == "incremental" {
		b.WriteString("{% if is_incremental() %}\nwhere p0.updated_at > (select max(updated_at) from {{ this }})\n{% endif %}\n")
	}
	if rng.IntN(2) == 0 {
		b.WriteString("-- grain: one row per key; late-arriving rows are merged by the incremental logic upstream\n")
	}
	return b.String()
}

func genTests(rng *rand.Rand, n *Node, project string, ids []string) []*Node {
	id := n.ID(project)
	key := n.Columns[0].Name
	mk := func(test, col string, kw map[string]any, extra string) *Node {
		name := test + "_" + n.Name + "_" + strings.ReplaceAll(col, ",", "__") + extra
		t := &Node{ResourceType: "test", Name: name, TestName: test, ColumnName: col, AttachedNode: id,
			Parents: []string{id}, Kwargs: kw, MacroDeps: []string{"macro.dbt.test_" + test, "macro.dbt.get_where_subquery"}}
		t.RawCode = "{{ test_" + test + "(**_dbt_generic_test_kwargs) }}"
		return t
	}
	var out []*Node
	if rng.IntN(10) < 8 {
		out = append(out, mk("unique", key, nil, ""), mk("not_null", key, nil, ""))
	}
	if len(n.Columns) > 2 && rng.IntN(2) == 0 {
		out = append(out, mk("not_null", n.Columns[2].Name, nil, ""))
	}
	if len(n.Columns) > 1 && rng.IntN(5) == 0 {
		out = append(out, mk("accepted_values", n.Columns[1].Name, map[string]any{"values": []string{"placed", "shipped", "completed", "returned"}}, ""))
	}
	if len(n.Parents) > 0 && strings.HasPrefix(n.Parents[0], "model.") && rng.IntN(3) == 0 {
		t := mk("relationships", key, map[string]any{"to": "ref('" + strings.Split(n.Parents[0], ".")[2] + "')", "field": key}, "__"+strings.Split(n.Parents[0], ".")[2])
		t.Parents = []string{n.Parents[0], id}
		out = append(out, t)
	}
	if rng.IntN(20) == 0 && len(n.Columns) > 3 {
		t := mk("unique_combination_of_columns", "", map[string]any{"combination_of_columns": []string{n.Columns[1].Name, n.Columns[3].Name}}, "_"+n.Columns[1].Name)
		t.Namespace = "dbt_utils"
		t.MacroDeps = []string{"macro.dbt_utils.test_unique_combination_of_columns", "macro.dbt.get_where_subquery"}
		out = append(out, t)
	}
	return out
}

// filler makes macro-like text of about n bytes.
func filler(head string, n int, seed uint64) string {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("\n")
	words := []string{"{% set x = adapter.dispatch('helper') %}", "{{ return(x) }}", "select", "coalesce(", "{{ col }}", ", 0)", "{% if target.type == 'postgres' %}", "{% endif %}"}
	i := seed
	for b.Len() < n {
		b.WriteString("    ")
		b.WriteString(words[i%uint64(len(words))])
		b.WriteString("\n")
		i = i*6364136223846793005 + 1442695040888963407
	}
	b.WriteString("{% endmacro %}")
	return b.String()
}
