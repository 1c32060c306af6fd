package hightouch_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch"
)

// BenchmarkAddToPlan: a 10,000-model project with 2,000 impacted models
// and a workspace of 1,000 Hightouch models (raw SQL with two joins,
// tables and dbt-backed models in equal parts).
func BenchmarkAddToPlan(b *testing.B) {
	var nodes []hightouch.DBTNode
	var planned []events.PlannedModel
	for i := 0; i < 10_000; i++ {
		id := fmt.Sprintf("model.p.m%d", i)
		r := events.Relation{Database: "db", Schema: "marts", Identifier: fmt.Sprintf("m%d", i)}
		nodes = append(nodes, hightouch.DBTNode{UniqueID: id, Relation: r})
		if i%5 == 0 {
			pr := r
			pr.Schema = "dbt_cloud_pr_1_2"
			planned = append(planned, events.PlannedModel{ID: id, Name: r.Identifier, Kind: events.KindDBT,
				Change: events.ChangeModified, Prod: &r, PR: &pr})
		}
	}
	var models []hightouch.Model
	for i := 0; i < 1000; i++ {
		m := hightouch.Model{ID: hightouch.ID(fmt.Sprint(i)), Name: fmt.Sprintf("ht%d", i), WorkspaceID: "1",
			SourceID: "42", PrimaryKey: "id", Syncs: []hightouch.ID{hightouch.ID(fmt.Sprint(i))}}
		switch i % 3 {
		case 0:
			m.Raw = &hightouch.RawQuery{SQL: fmt.Sprintf(`with x as (select * from marts.m%d where note <> 'from y')
select a.*, b.v /* join z */ from x a join "MARTS"."M%d" b on a.id = b.id left join db.marts.m%d c using (id)`, i*7, i*3, i*11)}
		case 1:
			m.Table = &hightouch.TableQuery{Name: fmt.Sprintf("marts.m%d", i*5)}
		case 2:
			m.DBT = &hightouch.DBTQuery{DBTUniqueID: fmt.Sprintf("model.p.m%d", i*2)}
		}
		models = append(models, m)
	}
	quote := func(r events.Relation) (string, error) {
		return `"` + r.Database + `"."` + r.Schema + `"."` + r.Identifier + `"`, nil
	}
	b.ReportAllocs()
	var diffed int
	for b.Loop() {
		plan := &events.Plan{Models: append([]events.PlannedModel(nil), planned...)}
		if err := hightouch.AddToPlan(context.Background(), plan, models, nodes,
			hightouch.PlanOptions{DiffModels: true, SourceIDs: []int64{42}, Quote: quote}); err != nil {
			b.Fatal(err)
		}
		diffed = plan.DiffCount() // the dbt models are not marked Diff here
	}
	b.ReportMetric(float64(diffed), "hightouch-diffs")
}
