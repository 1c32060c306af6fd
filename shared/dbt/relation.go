package dbt

import (
	"slices"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// buildRelation names the relation dbt builds for a node. relation_name is
// what dbt rendered, so it is the authority on which parts exist and which
// are quoted; without it (ephemeral models, nodes never compiled in old
// manifests) the node's database, schema and alias are quoted by the
// manifest's policy and the node's config.quoting.
func buildRelation(n *Node, policy events.Quoting) *events.Relation {
	if n.Ephemeral() || !isBuildable(n.ResourceType) {
		return nil
	}
	q := policy
	if n.quoting.Database != nil {
		q.Database = *n.quoting.Database
	}
	if n.quoting.Schema != nil {
		q.Schema = *n.quoting.Schema
	}
	if n.quoting.Identifier != nil {
		q.Identifier = *n.quoting.Identifier
	}
	r := &events.Relation{Database: n.Database, Schema: n.Schema, Identifier: n.Alias, Quoting: q}
	if parts, quoted, ok := splitRelationName(n.RelationName); ok {
		switch len(parts) {
		case 3:
			r.Database, r.Schema, r.Identifier = parts[0], parts[1], parts[2]
			r.Quoting = events.Quoting{Database: quoted[0], Schema: quoted[1], Identifier: quoted[2]}
		case 2:
			// The adapter leaves the database out of relation names.
			r.Database, r.Schema, r.Identifier = "", parts[0], parts[1]
			r.Quoting = events.Quoting{Schema: quoted[0], Identifier: quoted[1]}
		}
	}
	return r
}

// splitRelationName splits "db"."schema"."table" (or `p`.`d`.`t`, or
// [db].[schema].[table], or db.schema.table) into its parts and says which
// were quoted.
func splitRelationName(s string) (parts []string, quoted []bool, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil, false
	}
	for len(s) > 0 {
		var part string
		var q bool
		switch s[0] {
		case '"', '`', '[':
			closer := s[0]
			if closer == '[' {
				closer = ']'
			}
			var b strings.Builder
			i := 1
			for ; i < len(s); i++ {
				if s[i] == closer {
					if i+1 < len(s) && s[i+1] == closer { // doubled quote
						b.WriteByte(closer)
						i++
						continue
					}
					break
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, nil, false
			}
			part, q, s = b.String(), true, s[i+1:]
		default:
			i := strings.IndexByte(s, '.')
			if i < 0 {
				i = len(s)
			}
			part, s = s[:i], s[i:]
		}
		parts, quoted = append(parts, part), append(quoted, q)
		if s == "" {
			break
		}
		if s[0] != '.' {
			return nil, nil, false
		}
		s = s[1:]
	}
	if len(parts) < 2 || len(parts) > 3 {
		return nil, nil, false
	}
	return parts, quoted, true
}

// NodeRelation is one built node and the relation dbt builds for it.
type NodeRelation struct {
	UniqueID string
	Relation events.Relation
}

// Relations lists the models, seeds and snapshots that dbt builds (not
// ephemeral models) with their relations, sorted by unique_id: what a
// Hightouch model's table or SQL is matched against, and the relations
// `diffgate check` reads.
func (m *Manifest) Relations() []NodeRelation {
	out := make([]NodeRelation, 0, len(m.nodes))
	for _, n := range m.nodes {
		if r, ok := n.Relation(); ok {
			out = append(out, NodeRelation{UniqueID: n.UniqueID, Relation: r})
		}
	}
	slices.SortFunc(out, func(a, b NodeRelation) int { return strings.Compare(a.UniqueID, b.UniqueID) })
	return out
}
