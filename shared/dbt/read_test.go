package dbt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/fixtures"
)

// The node counts are the ones the fixture provenance records for each file.
func TestReadJaffleShopFixtures(t *testing.T) {
	dir := fixtures.Dir(t, "manifests", "jaffle_shop")
	tests := []struct {
		file    string
		version int
		counts  map[string]int // of the "nodes" section, plus sources
		adapter string
	}{
		{"jaffle_shop_v4_manifest.json", 4, map[string]int{"model": 5, "seed": 3, "test": 20, "source": 0}, "bigquery"},
		{"jaffle_shop_v5_manifest.json", 5, map[string]int{"model": 25, "operation": 1, "seed": 3, "test": 20, "source": 6}, "bigquery"},
		{"jaffle_shop_v6_manifest.json", 6, map[string]int{"model": 5, "seed": 3, "test": 20, "source": 0}, "bigquery"},
		{"jaffle_shop_v7_manifest.json", 7, map[string]int{"model": 5, "seed": 3, "test": 20, "source": 0}, "bigquery"},
		{"jaffle_shop_v8_manifest.json", 8, map[string]int{"model": 7, "seed": 3, "test": 21, "source": 0}, "bigquery"},
		{"jaffle_shop_v9_manifest.json", 9, map[string]int{"model": 34, "operation": 2, "seed": 3, "test": 21, "source": 0}, "bigquery"},
		{"jaffle_shop_v10_manifest.json", 10, map[string]int{"model": 6, "seed": 3, "test": 20, "source": 0}, "bigquery"},
		{"jaffle_shop_v11_manifest.json", 11, map[string]int{"model": 35, "operation": 2, "seed": 3, "test": 20, "source": 0}, "bigquery"},
		{"jaffle_shop_v12_dbt1.8.json", 12, map[string]int{"model": 36, "operation": 2, "seed": 3, "test": 20, "source": 0}, "bigquery"},
		{"jaffle_shop_v12_dbt1.10.json", 12, map[string]int{"model": 13, "test": 27, "source": 6}, "duckdb"},
		{"jaffle_shop_v12_dbt1.12.json", 12, map[string]int{"model": 13, "seed": 6, "test": 27, "source": 6}, "duckdb"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := dbt.Read(context.Background(), bytes.NewReader(data), dbt.ReadOptions{})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if m.SchemaVersion != tt.version || m.AdapterType != tt.adapter {
				t.Errorf("version %d adapter %q, want %d %q", m.SchemaVersion, m.AdapterType, tt.version, tt.adapter)
			}
			got := m.Counts()
			delete(got, "macro")
			delete(got, "exposure")
			if diff := cmp.Diff(tt.counts, got); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			// The same manifest read in small pieces (values crossing
			// buffer boundaries everywhere) gives the same manifest.
			slow, err := dbt.Read(context.Background(), &chunked{r: bytes.NewReader(data), n: 61}, dbt.ReadOptions{})
			if err != nil {
				t.Fatalf("Read in small pieces: %v", err)
			}
			if diff := cmp.Diff(m.Counts(), slow.Counts()); diff != "" {
				t.Errorf("in small pieces (-whole +pieces):\n%s", diff)
			}
			plan, err := dbt.Plan(context.Background(), m, slow, dbt.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(plan.Models) != 0 || len(plan.Removed) != 0 || len(plan.Exposures) != 0 {
				t.Errorf("a manifest compared with itself: %d models, %d removed, %d exposures; want none: %+v",
					len(plan.Models), len(plan.Removed), len(plan.Exposures), plan.Models)
			}
			// Every built node has a relation; ephemeral models none.
			for _, n := range m.Nodes() {
				r, ok := n.Relation()
				if n.Ephemeral() {
					if ok {
						t.Errorf("%s is ephemeral but has relation %v", n.UniqueID, r)
					}
					continue
				}
				if !ok || r.Schema == "" || r.Identifier == "" {
					t.Errorf("%s: relation %+v", n.UniqueID, r)
				}
			}
		})
	}
}

func TestReadFixtureDetails(t *testing.T) {
	dir := fixtures.Dir(t, "manifests", "jaffle_shop")
	open := func(name string) *dbt.Manifest {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := dbt.Read(context.Background(), f, dbt.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// v12 on DuckDB: relation_name is "db"."schema"."alias", all quoted.
	m := open("jaffle_shop_v12_dbt1.10.json")
	n, ok := m.Node("model.jaffle_shop.customers")
	if !ok {
		t.Fatal("no customers model")
	}
	r, _ := n.Relation()
	want := events.Relation{Database: "jaffle_shop", Schema: "main", Identifier: "customers", Quoting: events.Quoting{Database: true, Schema: true, Identifier: true}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("relation (-want +got):\n%s", diff)
	}
	// Tests know their node: attached_node from v9 on.
	var unique []string
	for _, tst := range m.Tests("model.jaffle_shop.customers") {
		if tst.TestName == "unique" {
			unique = append(unique, tst.ColumnName)
		}
	}
	if diff := cmp.Diff([]string{"customer_id"}, unique); diff != "" {
		t.Errorf("unique tests on customers (-want +got):\n%s", diff)
	}
	// v4: no attached_node; the tested model comes from depends_on.
	m4 := open("jaffle_shop_v4_manifest.json")
	pk := dbt.FindPrimaryKey(m4, mustNode(t, m4, "model.jaffle_shop.orders"), "")
	if diff := cmp.Diff(dbt.PrimaryKey{Columns: []string{"order_id"}, Rule: dbt.RuleUniqueTest}, pk); diff != "" {
		t.Errorf("v4 primary key (-want +got):\n%s", diff)
	}
	// v4 BigQuery: backtick-quoted relation names.
	o, _ := mustNode(t, m4, "model.jaffle_shop.orders").Relation()
	if !o.Quoting.Identifier || o.Database != "your-gcp-project" {
		t.Errorf("v4 relation %+v", o)
	}
	rels := m.Relations()
	if len(rels) == 0 || rels[0].Relation.Identifier == "" {
		t.Errorf("Relations: %+v", rels)
	}
}

func mustNode(t *testing.T, m *dbt.Manifest, id string) *dbt.Node {
	t.Helper()
	n, ok := m.Node(id)
	if !ok {
		t.Fatalf("no node %s", id)
	}
	return n
}

func TestReadBadInput(t *testing.T) {
	good := shop().Bytes()
	tests := []struct {
		name  string
		input string
		opts  dbt.ReadOptions
		is    error
		says  string
	}{
		{"empty file", "", dbt.ReadOptions{}, dbt.ErrEmpty, "empty"},
		{"only whitespace", " \n\t ", dbt.ReadOptions{}, dbt.ErrEmpty, "empty"},
		{"truncated in a node", string(good[:len(good)/2]), dbt.ReadOptions{}, dbt.ErrSyntax, "truncated"},
		{"truncated after the metadata", string(good[:bytes.Index(good, []byte(`"nodes"`))]), dbt.ReadOptions{}, dbt.ErrSyntax, "ends early"},
		{"truncated at the very end", string(good[:len(good)-2]), dbt.ReadOptions{}, dbt.ErrSyntax, "ends early"},
		{"not an object", `["nodes"]`, dbt.ReadOptions{}, dbt.ErrInvalid, "JSON array"},
		{"not JSON", "<html>502 Bad Gateway</html>", dbt.ReadOptions{}, dbt.ErrInvalid, "not JSON"},
		{"unknown schema version", `{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v13.json"},"nodes":{}}`,
			dbt.ReadOptions{}, dbt.ErrUnsupportedVersion, "schema v13"},
		{"schema version too old", `{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v3.json"},"nodes":{}}`,
			dbt.ReadOptions{}, dbt.ErrUnsupportedVersion, "v4 (dbt 1.0) to v12"},
		{"a run_results file", `{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/run-results/v6.json"},"results":[]}`,
			dbt.ReadOptions{}, dbt.ErrInvalid, "run-results"},
		{"no metadata", `{"nodes":{}}`, dbt.ReadOptions{}, dbt.ErrInvalid, "dbt_schema_version is missing"},
		{"no nodes", `{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"}}`, dbt.ReadOptions{}, dbt.ErrInvalid, `no "nodes"`},
		{"nodes is a list", `{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"},"nodes":[]}`,
			dbt.ReadOptions{}, dbt.ErrInvalid, "nodes is a JSON array, expected an object"},
		{"a name that is a number", strings.Replace(string(good), `"name":"orders"`, `"name":5`, 1),
			dbt.ReadOptions{}, dbt.ErrInvalid, `name in nodes["model.shop.orders"] is a JSON number, expected a string`},
		{"a column meta that is a string", strings.Replace(string(good), `"data_type":null`, `"data_type":{"a":1}`, 1),
			dbt.ReadOptions{}, dbt.ErrInvalid, "data_type"},
		{"depends_on.nodes that is an object", strings.Replace(string(good), `"nodes":["source.shop.app.orders"]`, `"nodes":{"x":1}`, 1),
			dbt.ReadOptions{}, dbt.ErrInvalid, "depends_on.nodes"},
		{"trailing garbage", string(good) + "{}", dbt.ReadOptions{}, dbt.ErrSyntax, "more data after"},
		{"far over the size limit", string(good), dbt.ReadOptions{MaxBytes: 1000}, dbt.ErrTooLarge, "over 1000 bytes"},
		{"a bracket that does not match", `{"metadata":{"dbt_schema_version":"https://schemas.getdbt.com/dbt/manifest/v12.json"},"docs":{"a":[1}],"nodes":{}}`,
			dbt.ReadOptions{}, dbt.ErrSyntax, "mismatched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := dbt.Read(context.Background(), strings.NewReader(tt.input), tt.opts)
			if err == nil {
				t.Fatalf("Read succeeded (%d nodes); want an error", len(m.Nodes()))
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestReadExactlyAtTheLimit(t *testing.T) {
	data := shop().Bytes()
	if _, err := dbt.Read(context.Background(), bytes.NewReader(data), dbt.ReadOptions{MaxBytes: int64(len(data))}); err != nil {
		t.Errorf("a manifest of exactly the limit: %v", err)
	}
	if _, err := dbt.Read(context.Background(), bytes.NewReader(data), dbt.ReadOptions{MaxBytes: -1}); err != nil {
		t.Errorf("no limit: %v", err)
	}
}

func TestReadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := dbt.Read(ctx, bytes.NewReader(shop().Bytes()), dbt.ReadOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Without child_map and parent_map (some tools strip them) the graph comes
// from depends_on.
func TestReadDerivesChildMap(t *testing.T) {
	withMaps := read(t, shop())
	s := shop()
	s.OmitMaps = true
	without := read(t, s)
	for _, id := range []string{"model.shop.stg_orders", "model.shop.orders", "source.shop.app.orders", "model.shop.customers"} {
		if diff := cmp.Diff(withMaps.Children(id), without.Children(id)); diff != "" {
			t.Errorf("children of %s (-child_map +derived):\n%s", id, diff)
		}
	}
	if got := without.Children("model.shop.customers"); len(got) != 2 {
		t.Errorf("children of customers = %v, want its test and the exposure", got)
	}
}

// Manifests before v7 call the body raw_sql; before v9 tests have no
// attached_node and refs are lists.
func TestReadOldShapes(t *testing.T) {
	for _, v := range []int{4, 6, 7, 8, 9, 11, 12} {
		s := shop()
		s.SchemaVersion = v
		m := read(t, s)
		if m.SchemaVersion != v {
			t.Errorf("v%d read as v%d", v, m.SchemaVersion)
		}
		// A body edit is seen in every version.
		e := shop()
		e.SchemaVersion = v
		node(t, e, "orders").RawCode += " where amount > 0"
		plan, err := dbt.Plan(context.Background(), m, read(t, e), dbt.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Models) == 0 || plan.Models[0].ID != "model.shop.orders" || !slicesEqual(plan.Models[0].Reasons, []string{"body"}) {
			t.Errorf("v%d: body edit planned as %+v", v, plan.Models)
		}
		pk := dbt.FindPrimaryKey(m, mustNode(t, m, "model.shop.orders"), "")
		if pk.Rule != dbt.RuleUniqueTest {
			t.Errorf("v%d: primary key %+v", v, pk)
		}
	}
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// Bodies are compared as the text they encode, not as the JSON bytes:
// "é" and "\u00e9" are the same body; backslashes and quotes at the end of
// a string, and across buffer boundaries, are read right.
func TestReadStringEscapes(t *testing.T) {
	const body = `select 'café' as "name", '\' as slash, '😀' as face -- \`
	p := shop()
	node(t, p, "orders").RawCode = body
	data := p.Bytes()
	// The same text with every non-ASCII character escaped, as Python's
	// json.dumps writes it.
	escaped := bytes.ReplaceAll(data, []byte("é"), []byte(`\u00e9`))
	escaped = bytes.ReplaceAll(escaped, []byte("😀"), []byte(`\ud83d\ude00`))
	if bytes.Equal(escaped, data) {
		t.Fatal("nothing was escaped")
	}
	q := shop()
	node(t, q, "orders").RawCode = body + " "
	changed := q.Bytes()
	readAll := func(b []byte, oneByte bool) *dbt.Manifest {
		t.Helper()
		r := io.Reader(bytes.NewReader(b))
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		m, err := dbt.Read(context.Background(), r, dbt.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	base := readAll(data, false)
	for _, tt := range []struct {
		name     string
		data     []byte
		oneByte  bool
		modified bool
	}{
		{"the same bytes, one at a time", data, true, false},
		{"escaped", escaped, false, false},
		{"escaped, one byte at a time", escaped, true, false},
		{"one more space", changed, false, true},
	} {
		c := dbt.Compare(base, readAll(tt.data, tt.oneByte))
		if got := len(c.Modified) > 0; got != tt.modified {
			t.Errorf("%s: modified %v, want %v (%+v)", tt.name, got, tt.modified, c.Modified)
		}
	}
}

// Before v9 a test does not name the node it is written on; a
// relationships test depends on two models (listed by name), and the one
// it is written on is the one its kwargs.model refers to.
func TestReadTestAttachmentBeforeV9(t *testing.T) {
	s := shop()
	s.SchemaVersion = 8
	s.Nodes = append(s.Nodes, &dbtgen.Node{ResourceType: "test", Name: "relationships_orders_customer_id__customer_id__ref_customers_",
		TestName: "relationships", ColumnName: "customer_id", AttachedNode: "model.shop.orders",
		Parents: []string{"model.shop.customers", "model.shop.orders"},
		Kwargs:  map[string]any{"to": "ref('customers')", "field": "customer_id"}})
	m := read(t, s)
	var on []string
	for _, tst := range m.Tests("model.shop.orders") {
		on = append(on, tst.TestName)
	}
	if diff := cmp.Diff([]string{"unique", "not_null", "relationships"}, on); diff != "" {
		t.Errorf("tests on orders (-want +got):\n%s", diff)
	}
	for _, tst := range m.Tests("model.shop.customers") {
		if tst.TestName == "relationships" {
			t.Errorf("the relationships test is attached to customers")
		}
	}
}

// chunked reads at most n bytes at a time.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}
