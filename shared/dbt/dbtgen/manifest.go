// Package dbtgen writes dbt manifest.json files in the real v12 shape (or
// the older shapes where a test needs them): small hand-made projects for
// tests, and large synthetic projects for benchmarks.
package dbtgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Manifest is a project to be written as manifest.json.
type Manifest struct {
	SchemaVersion int    // 4 to 12; 0 means 12
	DBTVersion    string // default 1.10.13
	ProjectName   string
	AdapterType   string // default postgres
	Database      string // default "analytics"
	Schema        string // the target schema, default "prod"
	// Quoting is metadata.quoting (v12); nil writes none.
	Quoting *Quoting

	Nodes     []*Node
	Sources   []*Source
	Macros    []*Macro
	Exposures []*Exposure
	Disabled  []*Node
	// OmitMaps leaves out child_map and parent_map (readers derive them).
	OmitMaps bool
}

// Quoting is a quoting policy.
type Quoting struct {
	Database   bool `json:"database"`
	Schema     bool `json:"schema"`
	Identifier bool `json:"identifier"`
}

// Column is a column declared in YAML.
type Column struct {
	Name        string
	Description string
	DataType    string
	Meta        map[string]any
	Tags        []string
	Constraints []Constraint
}

// Constraint is a model- or column-level constraint.
type Constraint struct {
	Type    string
	Columns []string
}

// Node is a model, seed, snapshot or test.
type Node struct {
	ResourceType  string // model, seed, snapshot, test
	Package       string // default: the project
	Name          string
	Version       any // model version (int or string), nil when not versioned
	LatestVersion any
	Path          string // original_file_path; default models/<name>.sql
	FQN           []string
	// Database, Schema and Alias are the rendered names; Schema defaults to
	// the manifest's, Alias to the name (or name_v<version>).
	Database, Schema, Alias string
	// NoRelationName writes relation_name null.
	NoRelationName bool
	RawCode        string
	Materialized   string // default view (models), seed, snapshot, test
	// Config are extra keys of config (and of unrendered_config when
	// Unrendered is nil).
	Config          map[string]any
	Unrendered      map[string]any
	Tags            []string
	Meta            map[string]any
	Description     string
	Columns         []Column
	Parents         []string  // depends_on.nodes
	MacroDeps       []string  // depends_on.macros
	Checksum        [2]string // name, checksum; default sha256 of RawCode
	Contract        *Contract
	Access          string
	Constraints     []Constraint
	DeprecationDate any

	// Generic tests.
	TestName     string         // unique, not_null, unique_combination_of_columns, ...
	Namespace    string         // dbt_utils, ...
	ColumnName   string         // the column (or expression) the test is on
	Kwargs       map[string]any // extra kwargs
	AttachedNode string
}

// Contract is a model contract.
type Contract struct {
	Enforced bool
	Checksum string
}

// Source is a source table.
type Source struct {
	Package, SourceName, Name    string
	Database, Schema, Identifier string
	Description                  string
	Meta                         map[string]any
	Tags                         []string
	LoadedAtField                string
}

// Macro is a macro.
type Macro struct {
	Package, Name string
	SQL           string
	Deps          []string
}

// Exposure is an exposure.
type Exposure struct {
	Package, Name, Label, Type, URL string
	OwnerName, OwnerEmail           string
	Parents                         []string
}

// ID is the node's unique_id.
func (n *Node) ID(project string) string {
	pkg := n.Package
	if pkg == "" {
		pkg = project
	}
	switch n.ResourceType {
	case "test":
		return "test." + pkg + "." + n.Name + "." + shortHash(n.Name)
	}
	id := n.ResourceType + "." + pkg + "." + n.Name
	if n.Version != nil {
		id += ".v" + fmt.Sprint(n.Version)
	}
	return id
}

// ID is the source's unique_id.
func (s *Source) ID(project string) string {
	return "source." + or(s.Package, project) + "." + s.SourceName + "." + s.Name
}

// ID is the macro's unique_id.
func (m *Macro) ID(project string) string { return "macro." + or(m.Package, project) + "." + m.Name }

// ID is the exposure's unique_id.
func (e *Exposure) ID(project string) string {
	return "exposure." + or(e.Package, project) + "." + e.Name
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *Manifest) defaults() {
	if m.SchemaVersion == 0 {
		m.SchemaVersion = 12
	}
	m.DBTVersion = or(m.DBTVersion, "1.10.13")
	m.ProjectName = or(m.ProjectName, "shop")
	m.AdapterType = or(m.AdapterType, "postgres")
	m.Database = or(m.Database, "analytics")
	m.Schema = or(m.Schema, "prod")
}

// Write writes the manifest as JSON, one node at a time.
func (m *Manifest) Write(w io.Writer) error {
	m.defaults()
	bw := bufio.NewWriterSize(w, 1<<20)
	ew := &errWriter{w: bw}
	ew.str(`{"metadata":`)
	md := map[string]any{
		"dbt_schema_version":         fmt.Sprintf("https://schemas.getdbt.com/dbt/manifest/v%d.json", m.SchemaVersion),
		"dbt_version":                m.DBTVersion,
		"generated_at":               "2026-11-20T10:00:00.000000Z",
		"invocation_id":              "6b0c3d1e-8a65-4f3e-9a3c-3f1f0d1c2b7a",
		"env":                        map[string]any{},
		"project_name":               m.ProjectName,
		"project_id":                 shortHash(m.ProjectName) + shortHash(m.ProjectName+"x") + "abcdefghijkl",
		"user_id":                    nil,
		"send_anonymous_usage_stats": false,
		"adapter_type":               m.AdapterType,
	}
	if m.Quoting != nil && m.SchemaVersion >= 12 {
		md["quoting"] = map[string]any{"database": m.Quoting.Database, "schema": m.Quoting.Schema, "identifier": m.Quoting.Identifier, "column": nil}
	}
	ew.json(md)

	parents := map[string][]string{}
	ew.str(`,"nodes":{`)
	for i, n := range m.Nodes {
		id := n.ID(m.ProjectName)
		if i > 0 {
			ew.str(",")
		}
		ew.json(id)
		ew.str(":")
		ew.json(m.nodeJSON(n, false))
		parents[id] = n.Parents
	}
	ew.str(`},"sources":{`)
	for i, s := range m.Sources {
		if i > 0 {
			ew.str(",")
		}
		id := s.ID(m.ProjectName)
		ew.json(id)
		ew.str(":")
		ew.json(m.sourceJSON(s))
		parents[id] = nil
	}
	ew.str(`},"macros":{`)
	for i, mc := range m.Macros {
		if i > 0 {
			ew.str(",")
		}
		ew.json(mc.ID(m.ProjectName))
		ew.str(":")
		ew.json(map[string]any{
			"name": mc.Name, "resource_type": "macro", "package_name": or(mc.Package, m.ProjectName),
			"path": "macros/" + mc.Name + ".sql", "original_file_path": "macros/" + mc.Name + ".sql",
			"unique_id": mc.ID(m.ProjectName), "macro_sql": mc.SQL,
			"depends_on": map[string]any{"macros": nonNil(mc.Deps)}, "description": "", "meta": map[string]any{},
			"docs": map[string]any{"show": true, "node_color": nil}, "patch_path": nil, "arguments": []any{},
			"created_at": 1763632800.0, "supported_languages": nil,
		})
	}
	ew.str(`},"docs":{},"exposures":{`)
	for i, e := range m.Exposures {
		if i > 0 {
			ew.str(",")
		}
		id := e.ID(m.ProjectName)
		ew.json(id)
		ew.str(":")
		ew.json(map[string]any{
			"name": e.Name, "resource_type": "exposure", "package_name": or(e.Package, m.ProjectName),
			"path": "exposures.yml", "original_file_path": "models/exposures.yml", "unique_id": id,
			"fqn": []string{m.ProjectName, e.Name}, "type": or(e.Type, "dashboard"),
			"owner": map[string]any{"email": e.OwnerEmail, "name": e.OwnerName}, "description": "",
			"label": e.Label, "maturity": "high", "meta": map[string]any{}, "tags": []string{},
			"config":            map[string]any{"enabled": true, "tags": []string{}, "meta": map[string]any{}},
			"unrendered_config": map[string]any{}, "url": e.URL,
			"depends_on": map[string]any{"macros": []string{}, "nodes": nonNil(e.Parents)},
			"refs":       []any{}, "sources": []any{}, "metrics": []any{}, "created_at": 1763632800.0,
		})
		parents[id] = e.Parents
	}
	ew.str(`},"metrics":{},"groups":{},"selectors":{},"disabled":{`)
	for i, n := range m.Disabled {
		if i > 0 {
			ew.str(",")
		}
		ew.json(n.ID(m.ProjectName))
		ew.str(":[")
		ew.json(m.nodeJSON(n, true))
		ew.str("]")
	}
	ew.str("}")
	if !m.OmitMaps {
		ids := make([]string, 0, len(parents))
		for id := range parents {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		children := map[string][]string{}
		for _, id := range ids {
			children[id] = children[id][:0:0]
		}
		for _, id := range ids {
			for _, p := range parents[id] {
				children[p] = append(children[p], id)
			}
		}
		ew.str(`,"parent_map":{`)
		for i, id := range ids {
			if i > 0 {
				ew.str(",")
			}
			ew.json(id)
			ew.str(":")
			ew.json(nonNil(parents[id]))
		}
		ew.str(`},"child_map":{`)
		for i, id := range ids {
			if i > 0 {
				ew.str(",")
			}
			ew.json(id)
			ew.str(":")
			ew.json(nonNil(children[id]))
		}
		ew.str("}")
	}
	if m.SchemaVersion >= 9 {
		ew.str(`,"group_map":{}`)
	}
	if m.SchemaVersion >= 10 {
		ew.str(`,"semantic_models":{}`)
	}
	if m.SchemaVersion >= 11 {
		ew.str(`,"saved_queries":{}`)
	}
	if m.SchemaVersion >= 12 {
		ew.str(`,"unit_tests":{}`)
	}
	ew.str("}\n")
	if ew.err != nil {
		return ew.err
	}
	return bw.Flush()
}

// Bytes returns the manifest as JSON.
func (m *Manifest) Bytes() []byte {
	var b strings.Builder
	if err := m.Write(&b); err != nil {
		panic(err) // a strings.Builder does not fail
	}
	return []byte(b.String())
}

type errWriter struct {
	w   *bufio.Writer
	err error
}

func (e *errWriter) str(s string) {
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *errWriter) json(v any) {
	if e.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		e.err = err
		return
	}
	_, e.err = e.w.Write(b)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func shortHash(s string) string {
	// FNV-1a, enough to make test ids look like dbt's.
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%010x", h)[:10]
}
