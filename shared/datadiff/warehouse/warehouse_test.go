package warehouse

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	_ "github.com/duckdb/duckdb-go/v2"
)

func TestOpenByType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CREATE TABLE a AS SELECT range AS id FROM range(5)", "CREATE TABLE b AS SELECT range AS id FROM range(1, 6)"} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	src, err := Open(t.Context(), "DuckDB", path, datadiff.Options{MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Dialect().Name() != "duckdb" || src.MaxConcurrency() != 2 {
		t.Errorf("dialect %s, concurrency %d", src.Dialect().Name(), src.MaxConcurrency())
	}
	res, err := src.Diff(t.Context(), datadiff.Spec{
		Prod: &datadiff.Side{Relation: &datadiff.Relation{Identifier: "a"}},
		PR:   datadiff.Side{Relation: &datadiff.Relation{Identifier: "b"}},
		Key:  []string{"id"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Removed != 1 || res.Unchanged != 4 {
		t.Errorf("added %d removed %d unchanged %d; want 1, 1, 4", res.Added, res.Removed, res.Unchanged)
	}
}

func TestOpenUnknownType(t *testing.T) {
	_, err := Open(t.Context(), "oracle", "x", datadiff.Options{})
	if !errors.Is(err, datadiff.ErrUnsupported) {
		t.Fatalf("error = %v, want ErrUnsupported", err)
	}
}
