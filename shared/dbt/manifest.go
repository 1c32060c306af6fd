package dbt

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// Schema versions of manifest.json that Read accepts (dbt 1.0 to 1.11).
const (
	MinSchemaVersion = 4
	MaxSchemaVersion = 12
)

// Manifest is what diffgate keeps of one manifest.json: enough to compare it
// with another and plan diffs, not the whole document.
type Manifest struct {
	SchemaVersion int    // 4 to 12, from metadata.dbt_schema_version
	DBTVersion    string // metadata.dbt_version
	ProjectName   string
	AdapterType   string
	GeneratedAt   string
	// Quoting is metadata.quoting, with the adapter's defaults where the
	// manifest does not say.
	Quoting events.Quoting

	nodes     map[string]*Node // models, seeds, snapshots, analyses, operations
	tests     []*Test          // generic tests (with test_metadata)
	testsOf   map[string][]*Test
	sources   map[string]*Source
	exposures map[string]*Exposure
	macros    map[string]*macro
	others    map[string]*otherNode // metrics, semantic models, saved queries, ...
	disabled  map[string]string     // unique_id → resource_type
	children  map[string][]string   // child_map, or derived from depends_on
	metaQuote metaQuoting
	// singularTests counts tests without test_metadata (kept nowhere else).
	singularTests int

	ids map[string]string // interned unique_ids
}

// Node is a model, seed, snapshot (or another dbt node that is built or run:
// analysis, operation) as read from the manifest.
type Node struct {
	UniqueID     string
	Name         string
	ResourceType string // model, seed, snapshot, analysis, operation, ...
	PackageName  string
	Path         string // original_file_path
	// Version is the model version ("2" for model.p.orders.v2); empty when
	// the model is not versioned.
	Version      string
	Database     string
	Schema       string
	Alias        string
	RelationName string // as dbt renders it; empty for ephemeral models
	Materialized string
	Language     string
	Tags         []string
	Description  string
	Columns      []Column // in the order they are declared
	DependsOn    []string // depends_on.nodes: the node's parents
	Macros       []string // depends_on.macros
	Constraints  []Constraint

	meta       json.RawMessage
	configMeta json.RawMessage
	uniqueKey  json.RawMessage
	relation   *events.Relation
	quoting    nodeQuoting

	// What state:modified compares.
	body             digest
	checksumName     string // seeds: "sha256", or "path" for seeds over 1 MB
	checksum         string
	config           digest
	dbRepr           [3]string // unrendered database, schema, alias
	fqn              digest
	persistRelation  bool
	persistColumns   bool
	descDigest       digest
	colDescDigest    digest
	contractEnforced bool
	contractChecksum string
	latestVersion    string
	access           string
	deprecationDate  string
}

// Column is one column declared in a model's YAML.
type Column struct {
	Name        string
	DataType    string
	Tags        []string // tags and config.tags
	Constraints []Constraint

	meta       json.RawMessage
	configMeta json.RawMessage
}

// Constraint is a model- or column-level constraint (dbt 1.5 and later).
type Constraint struct {
	Type    string   // check, not_null, unique, primary_key, foreign_key, custom
	Columns []string // model-level constraints only
}

// Test is a generic data test (unique, not_null, dbt_utils.*, ...).
type Test struct {
	UniqueID  string
	Name      string // the test node's name, e.g. unique_orders_order_id
	TestName  string // test_metadata.name, e.g. unique
	Namespace string // test_metadata.namespace, e.g. dbt_utils
	// ColumnName is the column_name the test was written on; it can be an
	// expression such as "a || '-' || b".
	ColumnName string
	// Combination is kwargs.combination_of_columns
	// (dbt_utils.unique_combination_of_columns).
	Combination []string
	// AttachedNode is the node the test is written on (attached_node, or
	// before schema v9 the first model it depends on).
	AttachedNode string
	DependsOn    []string
}

// Source is a dbt source table.
type Source struct {
	UniqueID     string
	Name         string
	SourceName   string
	Database     string
	Schema       string
	Identifier   string
	RelationName string
	Description  string
	Tags         []string

	cmp  digest
	meta json.RawMessage
}

// Exposure is a dbt exposure (a dashboard, an application...).
type Exposure struct {
	UniqueID   string
	Name       string
	Label      string
	Type       string
	URL        string
	OwnerName  string
	OwnerEmail string
	DependsOn  []string
}

type macro struct {
	sql       digest
	dependsOn []string
}

// otherNode is a node diffgate only walks through: metrics, semantic
// models, saved queries, unit tests, singular tests.
type otherNode struct {
	resourceType string
	name         string
	dependsOn    []string
}

// nodeQuoting is a node's config.quoting; nil fields are unset.
type nodeQuoting struct {
	Database   *bool `json:"database"`
	Schema     *bool `json:"schema"`
	Identifier *bool `json:"identifier"`
}

type metaQuoting struct {
	Database   *bool `json:"database"`
	Schema     *bool `json:"schema"`
	Identifier *bool `json:"identifier"`
}

// Node returns a model, seed, snapshot (or analysis, operation) by
// unique_id.
func (m *Manifest) Node(uniqueID string) (*Node, bool) {
	n, ok := m.nodes[uniqueID]
	return n, ok
}

// Source returns a source by unique_id.
func (m *Manifest) Source(uniqueID string) (*Source, bool) {
	s, ok := m.sources[uniqueID]
	return s, ok
}

// Exposure returns an exposure by unique_id.
func (m *Manifest) Exposure(uniqueID string) (*Exposure, bool) {
	e, ok := m.exposures[uniqueID]
	return e, ok
}

// Disabled reports whether unique_id is a disabled node, and its type.
func (m *Manifest) Disabled(uniqueID string) (resourceType string, ok bool) {
	rt, ok := m.disabled[uniqueID]
	return rt, ok
}

// Nodes returns the models, seeds and snapshots, sorted by unique_id.
func (m *Manifest) Nodes() []*Node {
	out := make([]*Node, 0, len(m.nodes))
	for _, n := range m.nodes {
		if isBuildable(n.ResourceType) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *Node) int { return strings.Compare(a.UniqueID, b.UniqueID) })
	return out
}

// Tests returns the generic tests written on a node, by unique_id.
func (m *Manifest) Tests(nodeID string) []*Test { return m.testsOf[nodeID] }

// Counts returns how many nodes of each resource_type the manifest's
// "nodes" section holds (the counts dbt users see), plus "source",
// "exposure" and "macro".
func (m *Manifest) Counts() map[string]int {
	c := map[string]int{}
	for _, n := range m.nodes {
		c[n.ResourceType]++
	}
	if t := len(m.tests) + m.singularTests; t > 0 {
		c["test"] = t
	}
	c["source"] = len(m.sources)
	c["exposure"] = len(m.exposures)
	c["macro"] = len(m.macros)
	return c
}

// Children returns the unique_ids of a node's direct children (child_map).
func (m *Manifest) Children(uniqueID string) []string { return m.children[uniqueID] }

// isBuildable: the resource types that become relations and are diffed.
func isBuildable(rt string) bool {
	return rt == "model" || rt == "seed" || rt == "snapshot"
}

// Ephemeral reports whether the node is an ephemeral model (never built).
func (n *Node) Ephemeral() bool { return n.Materialized == "ephemeral" }

// DisplayName is the node's name as dbt users write it in selectors:
// "orders", or "orders.v2" for a versioned model.
func (n *Node) DisplayName() string {
	if n.Version != "" {
		return n.Name + ".v" + n.Version
	}
	return n.Name
}

// Relation is the relation dbt builds for the node, quoted as the manifest
// says; ok is false for nodes that are not built (ephemeral models).
func (n *Node) Relation() (events.Relation, bool) {
	if n.relation == nil {
		return events.Relation{}, false
	}
	return *n.relation, true
}
