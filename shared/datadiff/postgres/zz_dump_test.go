package postgres

import (
	"fmt"
	"os"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/internal/difftest"
)

func TestZZDump(t *testing.T) {
	src, err := Open(t.Context(), "postgres://postgres@127.0.0.1:5432/diffgate_bench?sslmode=disable", datadiff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rel := func(n string) datadiff.Relation { return datadiff.Relation{Schema: "public", Identifier: n} }
	res, err := src.Diff(t.Context(), difftest.BenchSpec(rel("v1_prod"), rel("v1_pr"), 10))
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range res.Queries {
		os.WriteFile(fmt.Sprintf("/tmp/exp/q/%02d.sql", i), []byte(q+";\n"), 0o644)
	}
	t.Log(res.Duration, res.Changed, res.Added, res.Removed, len(res.Samples.Changed), len(res.Samples.ProdOnly), len(res.Samples.PROnly))
}
