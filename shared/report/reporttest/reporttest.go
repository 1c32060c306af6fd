// Package reporttest holds a sample dbt project's runs, written by hand in
// the shapes the pipeline produces, for tests of everything that renders
// or publishes reports: two modified models, a new one, one not built, a
// downstream mart, an exposure and a Hightouch model with two syncs.
package reporttest

import (
	"fmt"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

var (
	// Start and End are when the sample runs start and finish.
	Start = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	End   = Start.Add(2*time.Minute + 13*time.Second)
)

// GitHubRun is the sample project's pull request #42 on GitHub.
func GitHubRun() events.Run {
	return events.Run{
		Provider: events.GitHub, Repository: "github.com/acme/analytics", PR: 42,
		HeadSHA: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", BaseSHA: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
		Installation: 777, BaseRef: "main", HeadRef: "orders-discounts",
		URL: "https://github.com/acme/analytics/pull/42", Title: "Apply discounts to order totals",
	}
}

// GitLabRun is the same change as merge request !42 on GitLab, in a
// nested group.
func GitLabRun() events.Run {
	r := GitHubRun()
	r.Provider = events.GitLab
	r.Repository = "gitlab.com/acme/data/analytics"
	r.Installation = 0
	r.ProjectID = 311
	r.URL = "https://gitlab.com/acme/data/analytics/-/merge_requests/42"
	return r
}

func rel(schema, id string) *events.Relation {
	return &events.Relation{Database: "analytics", Schema: schema, Identifier: id}
}

func planned(name string, change events.Change, key ...string) events.PlannedModel {
	pm := events.PlannedModel{
		ID: "model.jaffle." + name, Name: name, Kind: events.KindDBT, ResourceType: "model",
		Materialized: "table", Path: "models/" + name + ".sql", Change: change, Diff: true,
		PrimaryKey: key, Prod: rel("prod", name), PR: rel("dbt_cloud_pr_22_42", name),
		Options: events.DiffOptions{SampleSize: 100},
	}
	if len(key) > 0 {
		pm.PrimaryKeyRule = "column tag primary-key"
	}
	if change == events.ChangeModified {
		pm.Reasons = []string{"body"}
	}
	if change == events.ChangeNew {
		pm.Prod = nil
	}
	return pm
}

func ciRun() *events.DBTCloudRun {
	return &events.DBTCloudRun{AccountID: 1, ProjectID: 5, JobID: 22, RunID: 4421, Status: 10, StatusText: "Success",
		GitSHA: GitHubRun().HeadSHA, URL: "https://cloud.getdbt.com/deploy/1/projects/5/runs/4421", FinishedAt: Start}
}

func prodRun() *events.DBTCloudRun {
	return &events.DBTCloudRun{AccountID: 1, ProjectID: 5, JobID: 11, RunID: 4400, Status: 10, StatusText: "Success",
		GitSHA: GitHubRun().BaseSHA, URL: "https://cloud.getdbt.com/deploy/1/projects/5/runs/4400", FinishedAt: Start.Add(-time.Hour)}
}

// Plan is the sample project's plan.
func Plan(run events.Run) *events.Plan {
	orders := planned("orders", events.ChangeModified, "order_id")
	orders.Tags = []string{"finance"}
	orders.Description = "One row per order, with totals after discounts."
	orders.Owner = "finance-data"
	customers := planned("customers", events.ChangeModified, "customer_id")
	returns := planned("order_returns", events.ChangeNew, "return_id")
	revenue := planned("fct_revenue", events.ChangeDownstream, "day")
	revenue.Upstream = []string{orders.ID}
	payments := planned("stg_payments", events.ChangeDownstream, "payment_id")
	payments.Upstream = []string{orders.ID}
	ht := events.PlannedModel{
		ID: "hightouch.acme.9001", Name: "Sales accounts", Kind: events.KindHightouch, ResourceType: "hightouch_model",
		Change: events.ChangeDownstream, Upstream: []string{customers.ID}, Diff: true, PrimaryKey: []string{"account_id"},
		ProdQuery: "select * from analytics.prod.customers", PRQuery: "select * from analytics.dbt_cloud_pr_22_42.customers",
		Syncs: []int64{31, 32},
	}
	return &events.Plan{
		Version: 1, Run: &run, Integration: "analytics", DataSource: "warehouse",
		ProjectName: "jaffle", AdapterType: "postgres", ProdSchema: "v12", PRSchema: "v12",
		AccountName: "Acme Analytics", CIRun: ciRun(), ProdRun: prodRun(),
		ProdChoice: "the newest successful run at the merge base",
		Models:     []events.PlannedModel{customers, orders, returns, revenue, payments, ht},
		Removed:    []events.Node{{ID: "model.jaffle.legacy_orders", Name: "legacy_orders", ResourceType: "model"}},
		Exposures: []events.Asset{{ID: "exposure.jaffle.weekly_revenue", Kind: "exposure", Name: "Weekly revenue",
			Type: "dashboard", URL: "https://bi.example.com/dashboards/7", Owner: "Finance", Upstream: []string{revenue.ID}}},
		Hightouch: []events.Asset{
			{ID: "hightouch.acme.sync.31", Kind: "hightouch_sync", Name: "Salesforce accounts", Type: "salesforce", Upstream: []string{ht.ID}},
			{ID: "hightouch.acme.sync.32", Kind: "hightouch_sync", Name: "HubSpot companies", Type: "hubspot", Upstream: []string{ht.ID}},
		},
		Lineage: events.Lineage{
			Nodes: []events.LineageNode{
				{ID: "source.jaffle.shop.raw_orders", Name: "raw_orders", ResourceType: "source"},
				{ID: customers.ID, Name: "customers", ResourceType: "model", Materialized: "table", Change: events.ChangeModified},
				{ID: orders.ID, Name: "orders", ResourceType: "model", Materialized: "table", Change: events.ChangeModified,
					Tags: orders.Tags, Description: orders.Description, Owner: orders.Owner},
				{ID: returns.ID, Name: "order_returns", ResourceType: "model", Change: events.ChangeNew},
				{ID: revenue.ID, Name: "fct_revenue", ResourceType: "model", Change: events.ChangeDownstream},
				{ID: payments.ID, Name: "stg_payments", ResourceType: "model", Change: events.ChangeDownstream},
				{ID: "exposure.jaffle.weekly_revenue", Name: "Weekly revenue", ResourceType: "exposure", Change: events.ChangeDownstream},
				{ID: ht.ID, Name: "Sales accounts", ResourceType: "hightouch_model", Change: events.ChangeDownstream},
				{ID: "hightouch.acme.sync.31", Name: "Salesforce accounts", ResourceType: "hightouch_sync", Change: events.ChangeDownstream},
			},
			Edges: []events.Edge{
				{From: "source.jaffle.shop.raw_orders", To: orders.ID},
				{From: orders.ID, To: revenue.ID}, {From: orders.ID, To: payments.ID},
				{From: orders.ID, To: returns.ID},
				{From: revenue.ID, To: "exposure.jaffle.weekly_revenue"},
				{From: customers.ID, To: ht.ID}, {From: ht.ID, To: "hightouch.acme.sync.31"},
			},
		},
	}
}

func str(s string) *string { return &s }

// SameResult is a diffed model with no difference.
func SameResult(key string, rows int64, cols ...string) *datadiff.Result {
	res := &datadiff.Result{
		Version: 1, Status: datadiff.StatusDiffed, Key: []string{key},
		Prod:      datadiff.SideStats{Rows: rows, DistinctKeys: rows},
		PR:        datadiff.SideStats{Rows: rows, DistinctKeys: rows},
		Unchanged: rows,
		Queries:   []string{`select count(*) from "analytics"."prod"."x"`},
		Duration:  3 * time.Second,
	}
	for _, c := range cols {
		res.Columns = append(res.Columns, datadiff.ColumnStats{Name: c, ProdType: "text", PRType: "text", MatchRate: 1})
	}
	return res
}

// OrdersResult is the orders model: rows added, removed and changed, two columns differ, one
// column added.
func OrdersResult() *datadiff.Result {
	res := SameResult("order_id", 12_480, "customer_id", "status", "amount", "ordered_at")
	res.PR.Rows = 13_672
	res.PR.DistinctKeys = 13_672
	res.Added, res.Removed, res.Changed = 1_204, 12, 2_311
	res.Unchanged = 12_480 - 12 - 2_311
	res.Prod.ExclusiveKeys, res.PR.ExclusiveKeys = 12, 1_204
	res.Columns[1].Mismatches, res.Columns[1].MatchRate = 4, 0.99968
	res.Columns[2].Mismatches, res.Columns[2].MatchRate = 2_311, 0.8146
	res.Columns[2].ProdType, res.Columns[2].PRType = "integer", "numeric"
	res.Schema = datadiff.SchemaDiff{
		Added:       []datadiff.Column{{Name: "discount", Type: "numeric"}},
		TypeChanged: []datadiff.TypeChange{{Name: "amount", ProdType: "integer", PRType: "numeric", Compared: true}},
		NotCompared: []datadiff.NotCompared{{Name: "order_id", Reason: "key column"}},
	}
	res.Samples = &datadiff.Samples{
		Columns: []string{"order_id", "customer_id", "status", "amount", "ordered_at"},
		Changed: []datadiff.ChangedRow{
			{Prod: datadiff.Row{str("1001"), str("7"), str("shipped"), str("120"), str("2026-02-01")},
				PR: datadiff.Row{str("1001"), str("7"), str("shipped"), str("108.00"), str("2026-02-01")}, Differs: []string{"amount"}},
			{Prod: datadiff.Row{str("1002"), str("9"), str("placed"), str("40"), nil},
				PR: datadiff.Row{str("1002"), str("9"), str("returned"), str("36.00"), nil}, Differs: []string{"status", "amount"}},
		},
		ProdOnly: []datadiff.Row{{str("17"), str("3"), str("cancelled"), str("0"), str("2025-12-30")}},
		PROnly:   []datadiff.Row{{str("13001"), str("44"), str("placed"), str("75.50"), str("2026-03-01")}},
	}
	return res
}

// CustomersResult is the customers model: no row differences, but NULL and duplicated keys in the
// PR.
func CustomersResult() *datadiff.Result {
	res := SameResult("customer_id", 3_100, "name", "email", "segment")
	res.PR.Rows = 3_107
	res.PR.KeyNulls = 3
	res.PR.DuplicateRows = 4
	res.PR.DistinctKeys = 3_100
	res.Caveats = []string{"3 PR rows have a NULL key and are not matched", "4 PR rows share 2 keys and are not matched"}
	return res
}

func diffResult(run events.Run, pm events.PlannedModel, res *datadiff.Result) events.DiffResult {
	full := &events.ObjectRef{Name: events.ResultObject(run.ID(), pm.ID), Size: 2048}
	return events.DiffResult{Version: 1, Run: run, ModelID: pm.ID, ModelName: pm.Name, Result: res, Full: full, At: End}
}

// ByName finds a planned model by name; it panics when there is none.
func ByName(p *events.Plan, name string) events.PlannedModel {
	for _, m := range p.Models {
		if m.Name == name {
			return m
		}
	}
	panic("no model " + name)
}

// Clean is a run where every model was compared and none differs.
func Clean() report.Input {
	run := GitHubRun()
	p := Plan(run)
	p.Models = p.Models[:2]
	p.Removed, p.Exposures, p.Hightouch = nil, nil, nil
	p.Lineage.Nodes = p.Lineage.Nodes[:3]
	p.Lineage.Edges = p.Lineage.Edges[:1]
	return report.Input{
		Run: run, Integration: "analytics", Plan: p, StartedAt: Start, FinishedAt: End,
		Results: []events.DiffResult{
			diffResult(run, ByName(p, "customers"), SameResult("customer_id", 3_100, "name", "email")),
			diffResult(run, ByName(p, "orders"), SameResult("order_id", 12_480, "status", "amount")),
		},
	}
}

// Diffs is the whole sample project with differences everywhere.
func Diffs(run events.Run) report.Input {
	p := Plan(run)
	revenue := SameResult("day", 365, "revenue", "orders")
	revenue.Changed = 31
	revenue.Unchanged = 334
	revenue.Columns[0].Mismatches, revenue.Columns[0].MatchRate = 31, 1-31.0/365
	newRes := &datadiff.Result{Version: 1, Status: datadiff.StatusNew, Key: []string{"return_id"},
		PR: datadiff.SideStats{Rows: 1_204_311}, Schema: datadiff.SchemaDiff{Added: []datadiff.Column{
			{Name: "return_id", Type: "bigint"}, {Name: "order_id", Type: "bigint"}, {Name: "reason", Type: "text"}}}}
	payments := &datadiff.Result{Version: 1, Status: datadiff.StatusNotBuilt, Key: []string{"payment_id"}}
	ht := SameResult("account_id", 880, "name", "arr")
	return report.Input{
		Run: run, Integration: "analytics", Plan: p, StartedAt: Start, FinishedAt: End,
		Results: []events.DiffResult{
			diffResult(run, ByName(p, "customers"), CustomersResult()),
			diffResult(run, ByName(p, "orders"), OrdersResult()),
			diffResult(run, ByName(p, "order_returns"), newRes),
			diffResult(run, ByName(p, "fct_revenue"), revenue),
			diffResult(run, ByName(p, "stg_payments"), payments),
			diffResult(run, ByName(p, "Sales accounts"), ht),
		},
	}
}

// DiffsWithHightouchAsset is Diffs with its diffed Hightouch model also
// among the plan's Hightouch assets, as the impact stage lists every one
// it reaches: the comment and the run page must name it once.
func DiffsWithHightouchAsset(run events.Run) report.Input {
	in := Diffs(run)
	ht := ByName(in.Plan, "Sales accounts")
	in.Plan.Hightouch = append([]events.Asset{{ID: ht.ID, Kind: "hightouch_model", Name: ht.Name, Type: "raw_sql",
		Upstream: []string{"model.jaffle.customers"}}}, in.Plan.Hightouch...)
	return in
}

// PKFailure runs with fail_on_primary_key_issues with a model whose key has
// NULLs and duplicates, and a model without a primary key.
func PKFailure() report.Input {
	in := Diffs(GitHubRun())
	in.FailOnPrimaryKeyIssues = true
	nokey := planned("events_daily", events.ChangeModified)
	nokey.PrimaryKeyNote = "tag a column `primary-key`, or add a `unique` test on one column"
	in.Plan.Models = append(in.Plan.Models[:2:2], append([]events.PlannedModel{nokey}, in.Plan.Models[2:]...)...)
	res := &datadiff.Result{Version: 1, Status: datadiff.StatusDiffed,
		Prod: datadiff.SideStats{Rows: 90}, PR: datadiff.SideStats{Rows: 91}}
	in.Results = append(in.Results, diffResult(in.Run, nokey, res))
	return in
}

// CIFailure is a run whose dbt Cloud CI run failed (a dbt test failed).
func CIFailure() report.Input {
	run := GitHubRun()
	ci := ciRun()
	ci.Status, ci.StatusText = 20, "Error"
	return report.Input{
		Run: run, Integration: "analytics", StartedAt: Start, FinishedAt: End, AccountName: "Acme Analytics",
		Failure: &events.RunFailed{
			Version: 1, Run: run, Stage: events.StageCIWait, Code: events.FailCIError,
			Message: "dbt Cloud run #4421 failed: 1 of 214 tests failed (not_null_orders_order_id)",
			Hint:    "fix the failing test and push again; the diff runs once the CI job succeeds",
			Link:    ci.URL, CIRun: ci, At: End,
		},
	}
}

// Skipped is a run a gate skipped: every changed file matches files_to_ignore.
func Skipped() report.Input {
	return report.Input{
		Run: GitHubRun(), Integration: "analytics", StartedAt: Start, FinishedAt: Start.Add(300 * time.Millisecond),
		Skip: &report.Skip{Code: "files_ignored", Reason: "all 3 changed files match files_to_ignore (patterns `*.md`, `docs/**`)",
			Hint: "change a file outside those patterns, or edit ci.files_to_ignore"},
	}
}

// Big has n models (most with differences, long names) and 80 exposures.
func Big(n int) report.Input {
	run := GitHubRun()
	p := &events.Plan{Version: 1, Run: &run, Integration: "analytics", AccountName: "Acme Analytics",
		CIRun: ciRun(), ProdRun: prodRun()}
	var results []events.DiffResult
	for i := range n {
		change := events.ChangeModified
		if i >= 150 {
			change = events.ChangeDownstream
		}
		name := fmt.Sprintf("int_marketing_attribution_touchpoints_by_channel_%03d", i)
		pm := planned(name, change, "touchpoint_id")
		p.Models = append(p.Models, pm)
		p.Lineage.Nodes = append(p.Lineage.Nodes, events.LineageNode{ID: pm.ID, Name: name, ResourceType: "model", Change: change})
		if i > 0 {
			p.Lineage.Edges = append(p.Lineage.Edges, events.Edge{From: p.Models[i-1].ID, To: pm.ID})
		}
		res := OrdersResult()
		res.Key = []string{"touchpoint_id"}
		if i%5 == 0 {
			res = SameResult("touchpoint_id", int64(1000+i), "channel")
		}
		results = append(results, diffResult(run, pm, res))
	}
	for i := range 80 {
		p.Exposures = append(p.Exposures, events.Asset{ID: fmt.Sprintf("exposure.jaffle.dash_%d", i), Kind: "exposure",
			Name: fmt.Sprintf("Attribution dashboard %d", i), Type: "dashboard", URL: fmt.Sprintf("https://bi.example.com/d/%d", i)})
	}
	return report.Input{Run: run, Integration: "analytics", Plan: p, Results: results, StartedAt: Start, FinishedAt: End}
}

// Hostile is a run whose user text tries to break tables, code, the marker
// and the page.
func Hostile() report.Input {
	in := Clean()
	evil := "x|y`z<script>alert(1)</script>--> <!-- diffgate:sticky-comment --> **b** @team #1 $x$"
	in.Plan.Models[1].Name = evil
	in.Plan.Models[1].Change = events.ChangeModified
	in.Results[1].ModelName = evil
	in.Results[1].Result = OrdersResult()
	in.Results[1].Result.Columns[2].Name = "amt|`<b>`"
	in.Results[0].Result = nil
	in.Results[0].Error = &events.Error{Code: "permission_denied", Message: "permission denied for table `customers` | -->",
		Hint: "grant SELECT on <schema> to the diffgate role"}
	in.Run.BaseRef = "main|<x>"
	return in
}

// Split takes the samples out of the input's results, as a differ does
// (the message carries the result without samples; the object store holds
// the full one): it returns the input to build the report from and the
// full results by model id.
func Split(in report.Input) (report.Input, map[string]*datadiff.Result) {
	full := make(map[string]*datadiff.Result)
	out := in
	out.Results = make([]events.DiffResult, len(in.Results))
	for i, dr := range in.Results {
		out.Results[i] = dr
		if dr.Result == nil {
			continue
		}
		full[dr.ModelID] = dr.Result
		lean := *dr.Result
		lean.Samples = nil
		out.Results[i].Result = &lean
	}
	return out, full
}

// WithSamples returns a copy of res with n sampled changed rows (and n/10
// rows only on each side) over cols columns, the first being the key;
// every third column of a changed row differs.
func WithSamples(res *datadiff.Result, n, cols int) *datadiff.Result {
	out := *res
	s := &datadiff.Samples{}
	s.Columns = append(s.Columns, "id")
	for c := 1; c < cols; c++ {
		s.Columns = append(s.Columns, fmt.Sprintf("col_%02d", c))
	}
	row := func(i int, side string) datadiff.Row {
		r := make(datadiff.Row, cols)
		r[0] = str(fmt.Sprint(i))
		for c := 1; c < cols; c++ {
			switch {
			case c%7 == 0:
				r[c] = nil
			case c%3 == 0:
				r[c] = str(fmt.Sprintf("%s value %d.%d", side, i, c))
			default:
				r[c] = str(fmt.Sprintf("value %d.%d", i, c))
			}
		}
		return r
	}
	var differs []string
	for c := 3; c < cols; c += 3 {
		if c%7 != 0 {
			differs = append(differs, s.Columns[c])
		}
	}
	for i := range n {
		s.Changed = append(s.Changed, datadiff.ChangedRow{Prod: row(i, "prod"), PR: row(i, "pr"), Differs: differs})
	}
	for i := range n / 10 {
		s.ProdOnly = append(s.ProdOnly, row(n+i, "prod"))
		s.PROnly = append(s.PROnly, row(2*n+i, "pr"))
	}
	out.Samples = s
	out.SamplesOff = ""
	out.Changed = max(out.Changed, int64(n))
	return &out
}
