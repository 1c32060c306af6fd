package task

import (
	"errors"
	"fmt"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/google/go-cmp/cmp"
)

func TestSpec(t *testing.T) {
	task := events.DiffTask{
		Prod: &events.DiffSide{Relation: &events.Relation{Database: "db", Schema: "analytics", Identifier: "Orders", Quoting: events.Quoting{Identifier: true}}},
		PR:   events.DiffSide{Relation: &events.Relation{Database: "db", Schema: "dbt_cloud_pr_22_7", Identifier: "Orders", Quoting: events.Quoting{Identifier: true}}},
		Key:  []string{"order_id"},
		Options: events.DiffOptions{
			Filter: "created_at > '2024-01-01'", IncludeColumns: []string{"a"}, ExcludeColumns: []string{"b"},
			ProdTimeTravel: "-1h", Tolerance: map[string]string{"amount": "0.01", "ratio": "0.5%"},
			SampleSize: 20, SamplesOff: "sensitive",
		},
	}
	got, err := Spec(task)
	if err != nil {
		t.Fatal(err)
	}
	want := datadiff.Spec{
		Prod: &datadiff.Side{Relation: &datadiff.Relation{Database: "db", Schema: "analytics", Identifier: "Orders", Quoting: datadiff.Quoting{Identifier: true}}, TimeTravel: "-1h"},
		PR:   datadiff.Side{Relation: &datadiff.Relation{Database: "db", Schema: "dbt_cloud_pr_22_7", Identifier: "Orders", Quoting: datadiff.Quoting{Identifier: true}}},
		Key:  []string{"order_id"}, Include: []string{"a"}, Exclude: []string{"b"}, Filter: "created_at > '2024-01-01'",
		Tolerance:  map[string]datadiff.Tolerance{"amount": {Abs: 0.01}, "ratio": {Rel: 0.005}},
		SampleSize: 20, SamplesOff: "sensitive",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spec (-want +got):\n%s", d)
	}
}

func TestSpecNewModelAndQueries(t *testing.T) {
	got, err := Spec(events.DiffTask{PR: events.DiffSide{Query: "select 1 as id"}, Key: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Prod != nil || got.PR.Query != "select 1 as id" {
		t.Errorf("spec %+v", got)
	}
}

func TestSpecErrors(t *testing.T) {
	for name, task := range map[string]events.DiffTask{
		"empty side":    {PR: events.DiffSide{}},
		"both":          {PR: events.DiffSide{Query: "select 1", Relation: &events.Relation{Identifier: "x"}}},
		"bad tolerance": {PR: events.DiffSide{Query: "select 1"}, Options: events.DiffOptions{Tolerance: map[string]string{"amount": "a lot"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Spec(task)
			if !errors.Is(err, datadiff.ErrBadSpec) {
				t.Fatalf("error = %v, want ErrBadSpec", err)
			}
			if name == "bad tolerance" && Error(err).Message == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestError(t *testing.T) {
	dbErr := errors.New(`relation "pr.orders" does not exist`)
	err := fmt.Errorf("diff: %w", &datadiff.Error{Kind: datadiff.ErrRelationMissing, Side: "PR", Relation: "pr.orders", Msg: "relation missing on the PR side (pr.orders)", Err: dbErr})
	got := Error(err)
	want := &events.Error{
		Code:    "relation_missing",
		Message: `relation missing on the PR side (pr.orders): relation "pr.orders" does not exist`,
		Hint:    datadiff.Hint(datadiff.ErrRelationMissing),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := Error(errors.New("boom")); got.Code != "internal" || got.Message != "boom" {
		t.Errorf("plain error: %+v", got)
	}
	if Error(nil) != nil {
		t.Error("nil error gives an events.Error")
	}
}
