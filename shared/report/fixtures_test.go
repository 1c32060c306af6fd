package report

import (
	"fmt"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
)

// The scenarios below are a small dbt project, written by hand in the
// shapes the pipeline produces: two modified models, a new one, a
// downstream mart, an exposure and a Hightouch model with two syncs.

var (
	t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	t1 = t0.Add(2*time.Minute + 13*time.Second)
)

func ghRun() events.Run {
	return events.Run{
		Provider: events.GitHub, Repository: "github.com/acme/analytics", PR: 42,
		HeadSHA: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", BaseSHA: "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
		Installation: 777, BaseRef: "main", HeadRef: "orders-discounts",
		URL: "https://github.com/acme/analytics/pull/42", Title: "Apply discounts to order totals",
	}
}

func glRun() events.Run {
	r := ghRun()
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
		GitSHA: ghRun().HeadSHA, URL: "https://cloud.getdbt.com/deploy/1/projects/5/runs/4421", FinishedAt: t0}
}

func prodRun() *events.DBTCloudRun {
	return &events.DBTCloudRun{AccountID: 1, ProjectID: 5, JobID: 11, RunID: 4400, Status: 10, StatusText: "Success",
		GitSHA: ghRun().BaseSHA, URL: "https://cloud.getdbt.com/deploy/1/projects/5/runs/4400", FinishedAt: t0.Add(-time.Hour)}
}

// basePlan is the sample project's plan.
func basePlan(run events.Run) *events.Plan {
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

// sameResult is a diffed model with no difference.
func sameResult(key string, rows int64, cols ...string) *datadiff.Result {
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

// ordersResult: rows added, removed and changed, two columns differ, one
// column added.
func ordersResult() *datadiff.Result {
	res := sameResult("order_id", 12_480, "customer_id", "status", "amount", "ordered_at")
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

// customersResult: no row differences, but NULL and duplicated keys in the
// PR.
func customersResult() *datadiff.Result {
	res := sameResult("customer_id", 3_100, "name", "email", "segment")
	res.PR.Rows = 3_107
	res.PR.KeyNulls = 3
	res.PR.DuplicateRows = 4
	res.PR.DistinctKeys = 3_100
	res.Caveats = []string{"3 PR rows have a NULL key and are not matched", "4 PR rows share 2 keys and are not matched"}
	return res
}

func diffResult(run events.Run, pm events.PlannedModel, res *datadiff.Result) events.DiffResult {
	full := &events.ObjectRef{Name: events.ResultObject(run.ID(), pm.ID), Size: 2048}
	return events.DiffResult{Version: 1, Run: run, ModelID: pm.ID, ModelName: pm.Name, Result: res, Full: full, At: t1}
}

func byName(p *events.Plan, name string) events.PlannedModel {
	for _, m := range p.Models {
		if m.Name == name {
			return m
		}
	}
	panic("no model " + name)
}

// cleanInput: every model compared, no differences.
func cleanInput() Input {
	run := ghRun()
	p := basePlan(run)
	p.Models = p.Models[:2]
	p.Removed, p.Exposures, p.Hightouch = nil, nil, nil
	p.Lineage.Nodes = p.Lineage.Nodes[:3]
	p.Lineage.Edges = p.Lineage.Edges[:1]
	return Input{
		Run: run, Integration: "analytics", Plan: p, StartedAt: t0, FinishedAt: t1,
		Results: []events.DiffResult{
			diffResult(run, byName(p, "customers"), sameResult("customer_id", 3_100, "name", "email")),
			diffResult(run, byName(p, "orders"), sameResult("order_id", 12_480, "status", "amount")),
		},
	}
}

// diffsInput: the whole sample project with differences everywhere.
func diffsInput(run events.Run) Input {
	p := basePlan(run)
	revenue := sameResult("day", 365, "revenue", "orders")
	revenue.Changed = 31
	revenue.Unchanged = 334
	revenue.Columns[0].Mismatches, revenue.Columns[0].MatchRate = 31, 1-31.0/365
	newRes := &datadiff.Result{Version: 1, Status: datadiff.StatusNew, Key: []string{"return_id"},
		PR: datadiff.SideStats{Rows: 1_204_311}, Schema: datadiff.SchemaDiff{Added: []datadiff.Column{
			{Name: "return_id", Type: "bigint"}, {Name: "order_id", Type: "bigint"}, {Name: "reason", Type: "text"}}}}
	payments := &datadiff.Result{Version: 1, Status: datadiff.StatusNotBuilt, Key: []string{"payment_id"}}
	ht := sameResult("account_id", 880, "name", "arr")
	return Input{
		Run: run, Integration: "analytics", Plan: p, StartedAt: t0, FinishedAt: t1,
		Results: []events.DiffResult{
			diffResult(run, byName(p, "customers"), customersResult()),
			diffResult(run, byName(p, "orders"), ordersResult()),
			diffResult(run, byName(p, "order_returns"), newRes),
			diffResult(run, byName(p, "fct_revenue"), revenue),
			diffResult(run, byName(p, "stg_payments"), payments),
			diffResult(run, byName(p, "Sales accounts"), ht),
		},
	}
}

// pkFailureInput: fail_on_primary_key_issues with a model whose key has
// NULLs and duplicates, and a model without a primary key.
func pkFailureInput() Input {
	in := diffsInput(ghRun())
	in.FailOnPrimaryKeyIssues = true
	nokey := planned("events_daily", events.ChangeModified)
	nokey.PrimaryKeyNote = "tag a column `primary-key`, or add a `unique` test on one column"
	in.Plan.Models = append(in.Plan.Models[:2:2], append([]events.PlannedModel{nokey}, in.Plan.Models[2:]...)...)
	res := &datadiff.Result{Version: 1, Status: datadiff.StatusDiffed,
		Prod: datadiff.SideStats{Rows: 90}, PR: datadiff.SideStats{Rows: 91}}
	in.Results = append(in.Results, diffResult(in.Run, nokey, res))
	return in
}

// ciFailureInput: the dbt Cloud CI run failed (a dbt test failed).
func ciFailureInput() Input {
	run := ghRun()
	ci := ciRun()
	ci.Status, ci.StatusText = 20, "Error"
	return Input{
		Run: run, Integration: "analytics", StartedAt: t0, FinishedAt: t1, AccountName: "Acme Analytics",
		Failure: &events.RunFailed{
			Version: 1, Run: run, Stage: events.StageCIWait, Code: events.FailCIError,
			Message: "dbt Cloud run #4421 failed: 1 of 214 tests failed (not_null_orders_order_id)",
			Hint:    "fix the failing test and push again; the diff runs once the CI job succeeds",
			Link:    ci.URL, CIRun: ci, At: t1,
		},
	}
}

// skippedInput: every changed file matches files_to_ignore.
func skippedInput() Input {
	return Input{
		Run: ghRun(), Integration: "analytics", StartedAt: t0, FinishedAt: t0.Add(300 * time.Millisecond),
		Skip: &Skip{Code: "files_ignored", Reason: "all 3 changed files match files_to_ignore (patterns `*.md`, `docs/**`)",
			Hint: "change a file outside those patterns, or edit ci.files_to_ignore"},
	}
}

// bigInput: 500 models, most with differences, long names.
func bigInput() Input {
	run := ghRun()
	p := &events.Plan{Version: 1, Run: &run, Integration: "analytics", AccountName: "Acme Analytics",
		CIRun: ciRun(), ProdRun: prodRun()}
	var results []events.DiffResult
	for i := range 500 {
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
		res := ordersResult()
		res.Key = []string{"touchpoint_id"}
		if i%5 == 0 {
			res = sameResult("touchpoint_id", int64(1000+i), "channel")
		}
		results = append(results, diffResult(run, pm, res))
	}
	for i := range 80 {
		p.Exposures = append(p.Exposures, events.Asset{ID: fmt.Sprintf("exposure.jaffle.dash_%d", i), Kind: "exposure",
			Name: fmt.Sprintf("Attribution dashboard %d", i), Type: "dashboard", URL: fmt.Sprintf("https://bi.example.com/d/%d", i)})
	}
	return Input{Run: run, Integration: "analytics", Plan: p, Results: results, StartedAt: t0, FinishedAt: t1}
}

// hostileInput: user text that tries to break tables, code, the marker and
// the page.
func hostileInput() Input {
	in := cleanInput()
	evil := "x|y`z<script>alert(1)</script>--> <!-- diffgate:sticky-comment --> **b** @team #1 $x$"
	in.Plan.Models[1].Name = evil
	in.Plan.Models[1].Change = events.ChangeModified
	in.Results[1].ModelName = evil
	in.Results[1].Result = ordersResult()
	in.Results[1].Result.Columns[2].Name = "amt|`<b>`"
	in.Results[0].Result = nil
	in.Results[0].Error = &events.Error{Code: "permission_denied", Message: "permission denied for table `customers` | -->",
		Hint: "grant SELECT on <schema> to the diffgate role"}
	in.Run.BaseRef = "main|<x>"
	return in
}
