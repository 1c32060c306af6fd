package hightouch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ID is a Hightouch id. The current API sends numbers, older clients and
// payloads strings; both decode, and the id is kept as its decimal text.
type ID string

// UnmarshalJSON accepts a number or a string; null is "".
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("hightouch: id %s is neither a number nor a string", b)
		}
		if i, err := n.Int64(); err == nil {
			*id = ID(strconv.FormatInt(i, 10))
		} else if f, err := n.Float64(); err == nil && f == float64(int64(f)) {
			*id = ID(strconv.FormatInt(int64(f), 10)) // 42.0
		} else {
			*id = ID(n.String())
		}
	}
	return nil
}

// Int returns the id as a number, 0 when it is not one.
func (id ID) Int() int64 {
	n, _ := strconv.ParseInt(string(id), 10, 64)
	return n
}

// Model is a Hightouch model: a query on a source. Exactly one query
// object (Raw, Table, DBT, DBTCloud, Custom, Visual) is set.
type Model struct {
	ID          ID                `json:"id"`
	Name        string            `json:"name"`
	Slug        string            `json:"slug"`
	Description string            `json:"description"`
	WorkspaceID ID                `json:"workspaceId"`
	SourceID    ID                `json:"sourceId"`
	FolderID    ID                `json:"folderId"`
	QueryType   string            `json:"queryType"`
	PrimaryKey  string            `json:"primaryKey"` // empty when the model is not synced directly
	Tags        map[string]string `json:"tags"`
	IsSchema    bool              `json:"isSchema"`
	Syncs       []ID              `json:"syncs"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`

	Raw      *RawQuery   `json:"raw"`
	RawSQL   string      `json:"rawSql"` // an older form of Raw
	Table    *TableQuery `json:"table"`
	DBT      *DBTQuery   `json:"dbt"`
	DBTCloud *DBTQuery   `json:"dbt_cloud"`
	Custom   *struct {
		Query json.RawMessage `json:"query"`
	} `json:"custom"`
	Visual *VisualQuery `json:"visual"`
}

// RawQuery is a SQL model.
type RawQuery struct {
	SQL string `json:"sql"`
}

// TableQuery is a model that reads one table.
type TableQuery struct {
	Name string `json:"name"`
}

// DBTQuery is a model that reads a dbt model (dbt or dbt_cloud).
type DBTQuery struct {
	DBTUniqueID string `json:"dbtUniqueId"`
	CompiledSQL string `json:"compiledSql"`
	RawSQL      string `json:"rawSql"`
	Database    string `json:"database"`
	Schema      string `json:"schema"`
	Name        string `json:"name"`
	ModelID     ID     `json:"modelId"`
}

// VisualQuery is an audience built on a parent (schema) model.
type VisualQuery struct {
	ParentID       ID              `json:"parentId"`
	Filter         json.RawMessage `json:"filter"`
	PrimaryLabel   string          `json:"primaryLabel"`
	SecondaryLabel string          `json:"secondaryLabel"`
}

// QueryKind is how a model gets its rows, decided by which query object
// is present (queryType strings are not documented reliably).
type QueryKind string

// Query kinds.
const (
	QueryRawSQL  QueryKind = "raw_sql"
	QueryTable   QueryKind = "table"
	QueryDBT     QueryKind = "dbt"
	QueryCustom  QueryKind = "custom"
	QueryVisual  QueryKind = "visual"
	QueryUnknown QueryKind = "unknown"
)

// Kind dispatches on the query object present.
func (m *Model) Kind() QueryKind {
	switch {
	case m.DBT != nil || m.DBTCloud != nil:
		return QueryDBT
	case m.Raw != nil || m.RawSQL != "":
		return QueryRawSQL
	case m.Table != nil:
		return QueryTable
	case m.Visual != nil:
		return QueryVisual
	case m.Custom != nil:
		return QueryCustom
	}
	return QueryUnknown
}

// SQL is the model's query text for raw SQL models.
func (m *Model) SQL() string {
	if m.Raw != nil {
		return m.Raw.SQL
	}
	return m.RawSQL
}

// DBTQuery returns the dbt or dbt_cloud object, whichever is set.
func (m *Model) DBTQuery() *DBTQuery {
	if m.DBT != nil {
		return m.DBT
	}
	return m.DBTCloud
}

// Source is a Hightouch source (a warehouse connection).
type Source struct {
	ID          ID              `json:"id"`
	Name        string          `json:"name"`
	Slug        string          `json:"slug"`
	WorkspaceID ID              `json:"workspaceId"`
	Type        string          `json:"type"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	Config      json.RawMessage `json:"configuration"` // shape depends on Type
}
