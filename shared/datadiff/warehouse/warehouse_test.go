package warehouse

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/postgres"
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

// A warehouse that goes away after the data source was opened is
// reported as unavailable (worth retrying), never as a bad filter or
// query, whichever statement hit it first.
func TestUnreachableWarehouseIsUnavailable(t *testing.T) {
	db, err := sql.Open("pgx", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	src := datadiff.NewSource(db, postgres.Dialect{}, datadiff.Options{MaxConcurrency: 1})
	defer src.Close()
	for name, spec := range map[string]datadiff.Spec{
		"relations and a filter": {
			Prod:   &datadiff.Side{Relation: &datadiff.Relation{Schema: "a", Identifier: "t"}},
			PR:     datadiff.Side{Relation: &datadiff.Relation{Schema: "b", Identifier: "t"}},
			Key:    []string{"id"},
			Filter: "id > 0",
		},
		"queries": {
			Prod: &datadiff.Side{Query: "select 1 as id"},
			PR:   datadiff.Side{Query: "select 1 as id"},
			Key:  []string{"id"},
		},
	} {
		_, err := src.Diff(t.Context(), spec)
		if !errors.Is(err, datadiff.ErrUnavailable) || datadiff.Code(err) != datadiff.CodeUnavailable {
			t.Errorf("%s: Diff on an unreachable warehouse = %v (code %s), want unavailable", name, err, datadiff.Code(err))
		}
	}
}

// TestOpenUnreachable: a data source whose server does not answer is
// unavailable (worth trying again), and the error keeps the DSN's
// password to itself.
func TestOpenUnreachable(t *testing.T) {
	for typ, dsn := range map[string]string{
		"postgres": "postgres://u:s3cret-pw@127.0.0.1:1/x?connect_timeout=1&sslmode=disable",
		"mysql":    "u:s3cret-pw@tcp(127.0.0.1:1)/x?timeout=1s",
	} {
		_, err := Open(t.Context(), typ, dsn, datadiff.Options{})
		if !errors.Is(err, datadiff.ErrUnavailable) {
			t.Errorf("%s on a closed port: error = %v, want ErrUnavailable", typ, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: the error leaks the password: %v", typ, err)
		}
	}
}
