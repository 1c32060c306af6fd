package dbt_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/fixtures"
)

// FuzzRead feeds the reader arbitrary bytes: it must return a manifest or
// one of its errors, never panic, and a manifest it returns must plan
// against itself to nothing.
func FuzzRead(f *testing.F) {
	small := shop()
	f.Add(small.Bytes())
	small.SchemaVersion = 6
	f.Add(small.Bytes())
	small.OmitMaps = true
	f.Add(small.Bytes())
	f.Add([]byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"},"nodes":{}}`))
	f.Add([]byte(`{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"},"nodes":{"model.a.b":{"columns":{"x":{"meta":{"primary-key":true}}},"raw_code":"sel\\u00e9ct \\"1\\""}}}`))
	f.Add([]byte(`{"metadata":{"dbt_schema_version":"x"}}`))
	f.Add([]byte(`{"a":[1,2,{"b":"\\"}"}]}`))
	f.Add([]byte(""))
	f.Add([]byte("nul"))
	f.Add(fixtures.Read(f, "manifests", "jaffle_shop", "jaffle_shop_v4_manifest.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		m, err := dbt.Read(ctx, bytes.NewReader(data), dbt.ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			if !errors.Is(err, dbt.ErrEmpty) && !errors.Is(err, dbt.ErrSyntax) && !errors.Is(err, dbt.ErrInvalid) &&
				!errors.Is(err, dbt.ErrUnsupportedVersion) && !errors.Is(err, dbt.ErrTooLarge) {
				t.Fatalf("error of no known kind: %v", err)
			}
			return
		}
		p, err := dbt.Plan(ctx, m, m, dbt.PlanOptions{SlimDiff: true, ImportMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Models) != 0 || len(p.Removed) != 0 {
			t.Fatalf("a manifest against itself planned %d models, %d removed", len(p.Models), len(p.Removed))
		}
		for _, n := range m.Nodes() {
			dbt.FindPrimaryKey(m, n, "")
			n.Relation()
		}
		m.Relations()
	})
}
