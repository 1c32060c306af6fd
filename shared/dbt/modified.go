package dbt

import (
	"fmt"
	"slices"
	"strings"
)

// Reasons a node is modified. The first six are dbt's state:modified
// sub-selectors; fqn and ref are the parts of dbt's state:modified that have
// no sub-selector of their own.
const (
	ReasonBody                  = "body"                   // SQL/Python as written; a seed's file checksum
	ReasonConfigs               = "configs"                // unrendered config, except alias, schema, database, tags, group
	ReasonRelation              = "relation"               // configured database, schema or alias
	ReasonPersistedDescriptions = "persisted_descriptions" // descriptions, when persist_docs writes them to the warehouse
	ReasonMacros                = "macros"                 // a macro it calls changed, directly or through other macros
	ReasonContract              = "contract"               // the enforced contract changed
	ReasonFQN                   = "fqn"                    // the node moved in the project tree
	ReasonRef                   = "ref"                    // latest_version, access or deprecation_date changed
)

// Modification is one node that is new or modified in the PR manifest.
type Modification struct {
	ID      string
	Node    *Node // in the PR manifest
	Old     *Node // in the production manifest; nil when New
	New     bool
	Reasons []string // empty when New
}

// Comparison is the outcome of comparing a PR manifest with production, node
// by node, following dbt's state:modified.
type Comparison struct {
	// Modified holds the new and modified models, seeds and snapshots,
	// sorted by unique_id.
	Modified []Modification
	// Sources that changed (relation, quoting, freshness, loaded_at,
	// external, config). They are not modified nodes themselves, but what
	// reads them is impacted.
	Sources []string
	// Removed holds production models, seeds and snapshots that are gone
	// (deleted, renamed or disabled) from the PR, sorted by unique_id.
	Removed []*Node
	// Warnings a reviewer should see (contract breaking changes, large
	// seeds, different dbt versions).
	Warnings []string
}

// Compare compares the PR manifest with production the way dbt's
// state:modified does, for the nodes diffgate can diff (models, seeds,
// snapshots) and for sources.
func Compare(prod, pr *Manifest) *Comparison {
	c := &Comparison{}
	if prod.DBTVersion != pr.DBTVersion && prod.DBTVersion != "" && pr.DBTVersion != "" {
		c.Warnings = append(c.Warnings, fmt.Sprintf(
			"production's manifest is from dbt %s and the PR's from dbt %s: models that call dbt's own macros may show as modified because the macros differ between versions",
			prod.DBTVersion, pr.DBTVersion))
	}
	mc := newMacroCheck(prod, pr)
	ids := make([]string, 0, len(pr.nodes))
	for id, n := range pr.nodes {
		if isBuildable(n.ResourceType) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		n := pr.nodes[id]
		old, ok := prod.nodes[id]
		if !ok || !isBuildable(old.ResourceType) {
			c.Modified = append(c.Modified, Modification{ID: id, Node: n, New: true})
			continue
		}
		reasons, warns := compareNodes(old, n, mc)
		c.Warnings = append(c.Warnings, warns...)
		if len(reasons) > 0 {
			c.Modified = append(c.Modified, Modification{ID: id, Node: n, Old: old, Reasons: reasons})
		}
	}
	for id, s := range pr.sources {
		if old, ok := prod.sources[id]; ok && old.cmp != s.cmp {
			c.Sources = append(c.Sources, id)
		}
	}
	slices.Sort(c.Sources)
	for id, n := range prod.nodes {
		if !isBuildable(n.ResourceType) {
			continue
		}
		if now, ok := pr.nodes[id]; ok && isBuildable(now.ResourceType) {
			continue
		}
		c.Removed = append(c.Removed, n)
	}
	slices.SortFunc(c.Removed, func(a, b *Node) int { return strings.Compare(a.UniqueID, b.UniqueID) })
	for _, n := range c.Removed {
		if _, disabled := pr.disabled[n.UniqueID]; disabled {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s %s is disabled in the PR, so it is no longer built", n.ResourceType, n.DisplayName()))
		}
		if n.ResourceType == "model" && n.contractEnforced {
			c.Warnings = append(c.Warnings, fmt.Sprintf("model %s had an enforced contract and is removed in the PR: a breaking change for what reads it", n.DisplayName()))
		}
	}
	return c
}

// compareNodes returns why new differs from old (nil when it does not),
// following dbt's same_contents and its state:modified sub-selectors.
func compareNodes(old, n *Node, mc *macroCheck) (reasons, warnings []string) {
	if n.ResourceType == "seed" {
		if n.checksumName == "path" {
			switch {
			case old.checksumName != "path":
				warnings = append(warnings, fmt.Sprintf("seed %s grew over 1 MB: dbt compares large seeds by path, so later edits to its contents will not show as modified", n.Name))
			case old.checksum == n.checksum:
				warnings = append(warnings, fmt.Sprintf("seed %s is over 1 MB: dbt compares it by path, not contents, so a change to its rows is not detected", n.Name))
			}
		}
	}
	if old.body != n.body {
		reasons = append(reasons, ReasonBody)
	}
	if old.config != n.config {
		reasons = append(reasons, ReasonConfigs)
	}
	if old.dbRepr != n.dbRepr {
		reasons = append(reasons, ReasonRelation)
	}
	if !samePersistedDescription(old, n) {
		reasons = append(reasons, ReasonPersistedDescriptions)
	}
	if mc.nodeModified(n) {
		reasons = append(reasons, ReasonMacros)
	}
	if n.ResourceType == "model" {
		same, breaking := sameContract(old, n)
		if !same {
			reasons = append(reasons, ReasonContract)
		}
		if len(breaking) > 0 {
			warnings = append(warnings, fmt.Sprintf("model %s: breaking change to its enforced contract: %s", n.DisplayName(), strings.Join(breaking, "; ")))
		}
	}
	if old.fqn != n.fqn {
		reasons = append(reasons, ReasonFQN)
	}
	if n.ResourceType == "model" && (old.latestVersion != n.latestVersion || old.access != n.access || old.deprecationDate != n.deprecationDate) {
		reasons = append(reasons, ReasonRef)
	}
	return reasons, warnings
}

// samePersistedDescription: descriptions count only when persist_docs
// writes them to the warehouse (the new node's setting, as dbt checks).
func samePersistedDescription(old, n *Node) bool {
	if n.persistRelation && old.descDigest != n.descDigest {
		return false
	}
	if n.persistColumns && old.colDescDigest != n.colDescDigest {
		return false
	}
	return true
}

// sameContract follows dbt's ModelNode.same_contract, and lists the
// breaking changes dbt would warn about (or fail on, for versioned models).
func sameContract(old, n *Node) (same bool, breaking []string) {
	switch {
	case !old.contractEnforced && !n.contractEnforced:
		return true, nil
	case !old.contractEnforced && n.contractEnforced:
		return false, nil
	case n.contractEnforced && n.contractChecksum == old.contractChecksum:
		return true, nil
	}
	if !n.contractEnforced {
		breaking = append(breaking, "contract enforcement was removed")
	}
	cols := map[string]*Column{}
	for i := range n.Columns {
		cols[n.Columns[i].Name] = &n.Columns[i]
	}
	var removed, retyped []string
	for _, oc := range old.Columns {
		nc, ok := cols[oc.Name]
		if !ok {
			removed = append(removed, oc.Name)
			continue
		}
		if oc.DataType != nc.DataType {
			retyped = append(retyped, fmt.Sprintf("%s (%s → %s)", oc.Name, oc.DataType, nc.DataType))
		}
	}
	if len(removed) > 0 {
		breaking = append(breaking, "columns removed: "+strings.Join(removed, ", "))
	}
	if len(retyped) > 0 {
		breaking = append(breaking, "data types changed: "+strings.Join(retyped, ", "))
	}
	enforces := func(m string) bool { return m == "table" || m == "incremental" }
	if enforces(old.Materialized) && !enforces(n.Materialized) && (len(old.Constraints) > 0 || hasColumnConstraints(old)) {
		breaking = append(breaking, fmt.Sprintf("materialization changed from %s to %s with enforced constraints", old.Materialized, n.Materialized))
	}
	return false, breaking
}

func hasColumnConstraints(n *Node) bool {
	for _, c := range n.Columns {
		if len(c.Constraints) > 0 {
			return true
		}
	}
	return false
}

// macroCheck answers "does this node call a modified macro, directly or
// through other macros", as dbt's check_macros_modified does.
type macroCheck struct {
	modified map[string]bool
	pr       *Manifest
	memo     map[string]bool
}

func newMacroCheck(prod, pr *Manifest) *macroCheck {
	mc := &macroCheck{modified: map[string]bool{}, pr: pr, memo: map[string]bool{}}
	for id, m := range pr.macros {
		if old, ok := prod.macros[id]; !ok || old.sql != m.sql {
			mc.modified[id] = true
		}
	}
	for id := range prod.macros {
		if _, ok := pr.macros[id]; !ok {
			mc.modified[id] = true
		}
	}
	return mc
}

func (mc *macroCheck) nodeModified(n *Node) bool {
	if len(mc.modified) == 0 {
		return false
	}
	for _, id := range n.Macros {
		if mc.macroModified(id) {
			return true
		}
	}
	return false
}

func (mc *macroCheck) macroModified(id string) bool {
	if v, ok := mc.memo[id]; ok {
		return v
	}
	mc.memo[id] = false // a cycle ends here, as dbt's visited list does
	v := mc.modified[id]
	if !v {
		if m, ok := mc.pr.macros[id]; ok {
			for _, dep := range m.dependsOn {
				if mc.macroModified(dep) {
					v = true
					break
				}
			}
		}
	}
	mc.memo[id] = v
	return v
}
