package hightouch_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/fixtures"
	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
)

func TestConformanceModels(t *testing.T) {
	tests := []struct {
		file string
		kind hightouch.QueryKind
		sql  string
	}{
		{"model_raw_sql_nested_raw_object.json", hightouch.QueryRawSQL, "SELECT * FROM table WHERE id = 1"},
		{"model_raw_sql_direct_rawSql_field.json", hightouch.QueryRawSQL, "SELECT * FROM table WHERE id = 2"},
		{"model_table.json", hightouch.QueryTable, ""},
	}
	for _, tt := range tests {
		var m hightouch.Model
		if err := json.Unmarshal(fixtures.Read(t, "hightouch", "datahub-project_datahub", tt.file), &m); err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if m.ID != "123" || m.WorkspaceID != "456" || m.SourceID.Int() != 789 || m.PrimaryKey != "id" || m.CreatedAt.IsZero() {
			t.Errorf("%s: %+v", tt.file, m)
		}
		if m.Kind() != tt.kind || m.SQL() != tt.sql {
			t.Errorf("%s: kind %s sql %q", tt.file, m.Kind(), m.SQL())
		}
	}
	var m hightouch.Model
	_ = json.Unmarshal(fixtures.Read(t, "hightouch", "datahub-project_datahub", "model_table.json"), &m)
	if m.Table == nil || m.Table.Name != "my_table" {
		t.Errorf("table %+v", m.Table)
	}
}

// jsonName turns a Go field name of the generated SDK's docs into the
// API's JSON name: CreatedAt → createdAt, DbtUniqueID → dbtUniqueId,
// CompiledSQL → compiledSql.
func jsonName(goName string) string {
	n := strings.ReplaceAll(goName, "SQL", "Sql")
	n = strings.ReplaceAll(n, "ID", "Id")
	return strings.ToLower(n[:1]) + n[1:]
}

// requiredFields reads the field table of a generated SDK doc page.
func requiredFields(t *testing.T, file string) []string {
	t.Helper()
	b := fixtures.Read(t, "hightouch", "speakeasy-sdks_hightouch-go-sdk", file)
	re := regexp.MustCompile("(?m)^\\| `(\\w+)`\\s*\\|[^|]*\\|\\s*:heavy_check_mark:")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, jsonName(m[1]))
	}
	if len(out) == 0 {
		t.Fatalf("%s: no required fields found", file)
	}
	return out
}

// The stand-in's models carry every field Hightouch's spec requires, and
// the keys of the recorded model objects.
func TestStandInShape(t *testing.T) {
	s := hightouchtest.New(t)
	s.AddModel(hightouchtest.Model{ID: 1, Name: "raw", SourceID: 42, PrimaryKey: "id", SQL: "select 1", Syncs: []int64{9}})
	s.AddModel(hightouchtest.Model{ID: 2, Name: "table", SourceID: 42, Table: "t"})
	s.AddModel(hightouchtest.Model{ID: 3, Name: "dbt", SourceID: 42, DBTUniqueID: "model.p.m", DBTRelation: [3]string{"db", "s", "m"}})
	s.AddModel(hightouchtest.Model{ID: 4, Name: "visual", SourceID: 42, VisualParent: 1})
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/models", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var list struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Data) != 4 {
		t.Fatalf("%d models", len(list.Data))
	}
	// Fields the 2024 spec marks required, but that belong to one query
	// kind (they are required within their sub-object) are checked there.
	model := requiredFields(t, "model.md")
	for _, m := range list.Data {
		for _, k := range model {
			if _, ok := m[k]; !ok {
				t.Errorf("model %v lacks required %q", m["id"], k)
			}
		}
	}
	subs := map[string]map[string]any{"raw.md": obj(list.Data[0]["raw"]), "table.md": obj(list.Data[1]["table"]),
		"dbt.md": obj(list.Data[2]["dbt"]), "visual.md": obj(list.Data[3]["visual"])}
	for file, o := range subs {
		if o == nil {
			t.Errorf("%s: query object missing", file)
			continue
		}
		for _, k := range requiredFields(t, file) {
			if _, ok := o[k]; !ok {
				t.Errorf("%s: lacks %q", file, k)
			}
		}
	}
	// Every key of the recorded objects, except the legacy rawSql field.
	dir := fixtures.Dir(t, "hightouch", "datahub-project_datahub")
	for _, f := range []string{"model_raw_sql_nested_raw_object.json", "model_table.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		_ = json.Unmarshal(b, &rec)
		standin := list.Data[0]
		if f == "model_table.json" {
			standin = list.Data[1]
		}
		for k := range rec {
			if _, ok := standin[k]; !ok {
				t.Errorf("%s: stand-in lacks %q", f, k)
			}
		}
		if standin["queryType"] != rec["queryType"] {
			t.Errorf("%s: queryType %v, recorded %v", f, standin["queryType"], rec["queryType"])
		}
	}
	// And the client decodes it.
	models, err := s.Client().ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kinds := []hightouch.QueryKind{hightouch.QueryRawSQL, hightouch.QueryTable, hightouch.QueryDBT, hightouch.QueryVisual}
	for i, m := range models {
		if m.Kind() != kinds[i] {
			t.Errorf("model %s kind %s, want %s", m.ID, m.Kind(), kinds[i])
		}
	}
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
