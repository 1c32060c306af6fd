package dbtgen

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

func (m *Manifest) quote(parts ...string) string {
	q := `"`
	if m.AdapterType == "bigquery" || m.AdapterType == "databricks" {
		q = "`"
	}
	quoting := Quoting{true, true, true}
	if m.Quoting != nil {
		quoting = *m.Quoting
	}
	flags := []bool{quoting.Database, quoting.Schema, quoting.Identifier}
	out := make([]string, 0, len(parts))
	for i, p := range parts {
		if p == "" {
			continue
		}
		if flags[i+3-len(parts)] {
			p = q + p + q
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// ordered is a JSON object that keeps its keys in order, as dbt writes
// columns in the order they are declared.
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, e := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

func columnsJSON(cols []Column, v int) ordered {
	out := make(ordered, 0, len(cols))
	for _, c := range cols {
		col := map[string]any{
			"name": c.Name, "description": c.Description, "meta": nonNilMap(c.Meta),
			"data_type": nilIfEmpty(c.DataType), "quote": nil, "tags": nonNil(c.Tags),
		}
		if v >= 9 {
			cons := []any{}
			for _, k := range c.Constraints {
				cons = append(cons, map[string]any{"type": k.Type, "name": nil, "expression": nil, "warn_unenforced": true, "warn_unsupported": true, "to": nil, "to_columns": []string{}})
			}
			col["constraints"] = cons
		}
		if v >= 12 {
			col["config"] = map[string]any{"meta": nonNilMap(c.Meta), "tags": nonNil(c.Tags)}
			col["granularity"] = nil
			col["doc_blocks"] = []string{}
		}
		out = append(out, kv{c.Name, col})
	}
	return out
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (m *Manifest) nodeJSON(n *Node, disabled bool) map[string]any {
	v := m.SchemaVersion
	id := n.ID(m.ProjectName)
	pkg := or(n.Package, m.ProjectName)
	mat := n.Materialized
	if mat == "" {
		switch n.ResourceType {
		case "seed", "snapshot", "test":
			mat = n.ResourceType
		default:
			mat = "view"
		}
	}
	alias := n.Alias
	if alias == "" {
		alias = n.Name
		if n.Version != nil {
			alias = fmt.Sprintf("%s_v%v", n.Name, n.Version)
		}
	}
	schema := or(n.Schema, m.Schema)
	if n.ResourceType == "test" {
		schema = or(n.Schema, m.Schema+"_dbt_test__audit")
	}
	database := or(n.Database, m.Database)
	path := n.Path
	if path == "" {
		switch n.ResourceType {
		case "seed":
			path = "seeds/" + n.Name + ".csv"
		case "snapshot":
			path = "snapshots/" + n.Name + ".sql"
		case "test":
			path = "models/schema.yml"
		default:
			path = "models/" + n.Name + ".sql"
			if n.Version != nil {
				path = fmt.Sprintf("models/%s_v%v.sql", n.Name, n.Version)
			}
		}
	}
	fqn := n.FQN
	if fqn == nil {
		fqn = []string{pkg, n.Name}
		if n.Version != nil {
			fqn = append(fqn, fmt.Sprintf("v%v", n.Version))
		}
	}
	config := map[string]any{
		"enabled": !disabled, "alias": nil, "schema": nil, "database": nil, "tags": nonNil(n.Tags),
		"meta": nonNilMap(n.Meta), "materialized": mat, "persist_docs": map[string]any{}, "post-hook": []any{},
		"pre-hook": []any{}, "quoting": map[string]any{}, "column_types": map[string]any{}, "full_refresh": nil,
		"unique_key": nil, "on_schema_change": "ignore", "grants": map[string]any{},
	}
	if v >= 9 {
		config["group"] = nil
		config["contract"] = map[string]any{"enforced": n.Contract != nil && n.Contract.Enforced, "alias_types": true}
		config["docs"] = map[string]any{"show": true, "node_color": nil}
		config["packages"] = []string{}
		config["on_configuration_change"] = "apply"
		config["incremental_strategy"] = nil
	}
	if v >= 12 {
		config["access"] = or(n.Access, "protected")
		config["event_time"] = nil
		config["batch_size"] = nil
		config["lookback"] = 1
		config["begin"] = nil
		config["concurrent_batches"] = nil
	}
	if n.ResourceType == "test" {
		for _, k := range []string{"persist_docs", "post-hook", "pre-hook", "quoting", "column_types", "full_refresh", "unique_key", "on_schema_change", "grants", "contract", "packages", "on_configuration_change", "access", "event_time", "batch_size", "lookback", "begin", "concurrent_batches", "incremental_strategy", "docs"} {
			delete(config, k)
		}
		config["schema"] = "dbt_test__audit"
		config["severity"] = "ERROR"
		config["store_failures"] = nil
		config["where"] = nil
		config["limit"] = nil
		config["fail_calc"] = "count(*)"
		config["warn_if"] = "!= 0"
		config["error_if"] = "!= 0"
	}
	if n.ResourceType == "seed" {
		config["delimiter"] = ","
		config["quote_columns"] = nil
	}
	maps.Copy(config, n.Config)
	unrendered := n.Unrendered
	if unrendered == nil {
		unrendered = map[string]any{}
		if n.Materialized != "" && n.ResourceType == "model" {
			unrendered["materialized"] = n.Materialized
		}
		maps.Copy(unrendered, n.Config)
	}
	checksum := map[string]any{"name": "sha256", "checksum": sha(n.RawCode)}
	if n.Checksum[0] != "" {
		checksum = map[string]any{"name": n.Checksum[0], "checksum": n.Checksum[1]}
	} else if n.ResourceType == "test" {
		checksum = map[string]any{"name": "none", "checksum": ""}
	}
	out := map[string]any{
		"database": database, "schema": schema, "name": n.Name, "resource_type": n.ResourceType,
		"package_name": pkg, "path": strings.TrimPrefix(path, "models/"), "original_file_path": path,
		"unique_id": id, "fqn": fqn, "alias": alias, "checksum": checksum, "config": config,
		"tags": nonNil(n.Tags), "description": n.Description, "columns": columnsJSON(n.Columns, v),
		"meta": nonNilMap(n.Meta), "docs": map[string]any{"show": true, "node_color": nil},
		"patch_path": nil, "build_path": nil, "unrendered_config": unrendered, "created_at": 1763632800.0,
	}
	if len(n.Columns) > 0 || n.Description != "" {
		out["patch_path"] = pkg + "://models/schema.yml"
	}
	code := "raw_code"
	compiled := "compiled_code"
	if v < 7 {
		code, compiled = "raw_sql", "compiled_sql"
	}
	out[code] = n.RawCode
	if v < 8 {
		out["root_path"] = "/home/dbt/" + m.ProjectName
		out["deferred"] = false
	}
	if v >= 9 && v < 12 {
		out["deferred"] = false
	}
	if v >= 9 {
		out["group"] = nil
	}
	if v >= 12 {
		out["doc_blocks"] = []string{}
	}
	relName := any(nil)
	if !n.NoRelationName && mat != "ephemeral" && n.ResourceType != "test" {
		relName = m.quote(database, schema, alias)
	}
	if n.ResourceType != "seed" {
		if v >= 7 {
			out["language"] = "sql"
		}
		refs := []any{}
		for _, p := range n.Parents {
			parts := strings.Split(p, ".")
			if parts[0] != "model" && parts[0] != "seed" && parts[0] != "snapshot" {
				continue
			}
			if v >= 9 {
				ref := map[string]any{"name": parts[2], "package": nil, "version": nil}
				if len(parts) == 4 {
					ref["version"] = strings.TrimPrefix(parts[3], "v")
				}
				refs = append(refs, ref)
			} else {
				refs = append(refs, []string{parts[2]})
			}
		}
		out["refs"] = refs
		srcs := []any{}
		for _, p := range n.Parents {
			if parts := strings.Split(p, "."); parts[0] == "source" && len(parts) == 4 {
				srcs = append(srcs, []string{parts[2], parts[3]})
			}
		}
		out["sources"] = srcs
		out["metrics"] = []any{}
		out["depends_on"] = map[string]any{"macros": nonNil(n.MacroDeps), "nodes": nonNil(n.Parents)}
		out["compiled_path"] = "target/compiled/" + pkg + "/" + path
		out["compiled"] = true
		out[compiled] = compile(n.RawCode)
		out["extra_ctes_injected"] = true
		out["extra_ctes"] = []any{}
		if v >= 9 {
			out["contract"] = map[string]any{"enforced": false, "alias_types": true, "checksum": nil}
			if n.Contract != nil {
				out["contract"] = map[string]any{"enforced": n.Contract.Enforced, "alias_types": true, "checksum": nilIfEmpty(n.Contract.Checksum)}
			}
		}
	} else {
		out["depends_on"] = map[string]any{"macros": nonNil(n.MacroDeps)}
		out["root_path"] = "/home/dbt/" + m.ProjectName
	}
	if v >= 8 || n.ResourceType != "seed" {
		out["relation_name"] = relName
	}
	switch n.ResourceType {
	case "model":
		if v >= 9 {
			out["access"] = or(n.Access, "protected")
			cons := []any{}
			for _, k := range n.Constraints {
				cons = append(cons, map[string]any{"type": k.Type, "name": nil, "expression": nil, "warn_unenforced": true, "warn_unsupported": true, "to": nil, "to_columns": []string{}, "columns": k.Columns})
			}
			out["constraints"] = cons
			out["version"] = n.Version
			out["latest_version"] = n.LatestVersion
		}
		if v >= 10 {
			out["deprecation_date"] = n.DeprecationDate
		}
		if v >= 12 {
			out["primary_key"] = []string{}
			out["time_spine"] = nil
		}
	case "test":
		kwargs := map[string]any{"model": fmt.Sprintf("{{ get_where_subquery(ref('%s')) }}", refName(n.AttachedNode))}
		if n.ColumnName != "" {
			kwargs["column_name"] = n.ColumnName
		}
		maps.Copy(kwargs, n.Kwargs)
		out["test_metadata"] = map[string]any{"name": n.TestName, "kwargs": kwargs, "namespace": nilIfEmpty(n.Namespace)}
		out["column_name"] = nilIfEmpty(n.ColumnName)
		out["file_key_name"] = "models." + refName(n.AttachedNode)
		if v >= 9 {
			out["attached_node"] = nilIfEmpty(n.AttachedNode)
		}
	}
	return out
}

func refName(id string) string {
	parts := strings.Split(id, ".")
	if len(parts) >= 3 {
		return parts[2]
	}
	return id
}

// compile stands in for Jinja rendering: refs become relation names.
func compile(raw string) string {
	return strings.NewReplacer("{{ ref('", `"analytics"."prod"."`, "') }}", `"`).Replace(raw)
}

func (m *Manifest) sourceJSON(s *Source) map[string]any {
	id := s.ID(m.ProjectName)
	db := or(s.Database, "raw")
	schema := or(s.Schema, s.SourceName)
	ident := or(s.Identifier, s.Name)
	out := map[string]any{
		"database": db, "schema": schema, "name": s.Name, "resource_type": "source",
		"package_name": or(s.Package, m.ProjectName), "path": "models/sources.yml",
		"original_file_path": "models/sources.yml", "unique_id": id,
		"fqn": []string{m.ProjectName, s.SourceName, s.Name}, "source_name": s.SourceName,
		"source_description": "", "loader": "", "identifier": ident,
		"quoting":         map[string]any{"database": nil, "schema": nil, "identifier": nil, "column": nil},
		"loaded_at_field": nilIfEmpty(s.LoadedAtField),
		"freshness":       map[string]any{"warn_after": map[string]any{"count": nil, "period": nil}, "error_after": map[string]any{"count": nil, "period": nil}, "filter": nil},
		"external":        nil, "description": s.Description, "columns": map[string]any{},
		"meta": nonNilMap(s.Meta), "source_meta": map[string]any{}, "tags": nonNil(s.Tags),
		"config":            map[string]any{"enabled": true},
		"patch_path":        nil,
		"unrendered_config": map[string]any{},
		"relation_name":     m.quote(db, schema, ident),
		"created_at":        1763632800.0,
	}
	if m.SchemaVersion >= 12 {
		out["unrendered_database"] = nil
		out["unrendered_schema"] = schema
	}
	return out
}
