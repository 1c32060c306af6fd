package hightouch

import (
	"context"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
)

// DBTNode is what the mapping needs of a dbt node: its unique id and the
// relation it builds in production. Callers map manifest nodes into it.
type DBTNode struct {
	UniqueID string
	Relation events.Relation
}

// RefMatch is one relation name in a model's query and the dbt nodes it
// can name. More than one node means the name is ambiguous (a one-part
// name that exists in several schemas).
type RefMatch struct {
	Ref
	Nodes []string // unique ids
}

// Reads is what one Hightouch model reads.
type Reads struct {
	Model *Model
	Kind  QueryKind
	// SQL is the query Hightouch runs for raw SQL and table models.
	SQL string
	// Refs are the relation names in SQL that name dbt nodes.
	Refs []RefMatch
	// DBTNodes are the unique ids the model reads, sorted.
	DBTNodes []string
	// Parent is the model a visual model is built on.
	Parent ID
}

// nodeIndex finds dbt nodes by relation name, case-insensitively.
type nodeIndex struct {
	byIdent map[string][]*DBTNode
	byID    map[string]*DBTNode
}

func newNodeIndex(nodes []DBTNode) *nodeIndex {
	ix := &nodeIndex{byIdent: map[string][]*DBTNode{}, byID: map[string]*DBTNode{}}
	for i := range nodes {
		n := &nodes[i]
		if _, dup := ix.byID[n.UniqueID]; dup {
			continue
		}
		ix.byID[n.UniqueID] = n
		k := strings.ToLower(n.Relation.Identifier)
		ix.byIdent[k] = append(ix.byIdent[k], n)
	}
	return ix
}

// match returns the unique ids of the nodes a 1-, 2- or 3-part name can
// denote: the last part is the identifier, the one before it the schema,
// the first of three the database.
func (ix *nodeIndex) match(parts []string) []string {
	if len(parts) == 0 || len(parts) > 3 {
		return nil
	}
	var out []string
	for _, n := range ix.byIdent[strings.ToLower(parts[len(parts)-1])] {
		if len(parts) >= 2 && !strings.EqualFold(parts[len(parts)-2], n.Relation.Schema) {
			continue
		}
		if len(parts) == 3 && !strings.EqualFold(parts[0], n.Relation.Database) {
			continue
		}
		out = append(out, n.UniqueID)
	}
	slices.Sort(out)
	return out
}

// Resolve maps each model on one of sourceIDs (all models when sourceIDs
// is empty) to what it reads, dispatching on the query object present:
// dbt-backed models by their dbt unique id (or database, schema and name
// when the id is missing), raw SQL models by the relations after FROM and
// JOIN, table models by their table. Visual models read their parent
// model; custom (non-SQL) and unknown models read nothing known and are
// logged.
func Resolve(ctx context.Context, models []Model, nodes []DBTNode, sourceIDs []int64) []Reads {
	log := zerolog.Ctx(ctx)
	ix := newNodeIndex(nodes)
	var out []Reads
	for i := range models {
		m := &models[i]
		if len(sourceIDs) > 0 && !slices.Contains(sourceIDs, m.SourceID.Int()) {
			log.Debug().Str("hightouch_model", string(m.ID)).Str("source", string(m.SourceID)).
				Msg("Hightouch model on a source that is not configured: ignored")
			continue
		}
		r := Reads{Model: m, Kind: m.Kind()}
		switch r.Kind {
		case QueryDBT:
			q := m.DBTQuery()
			switch {
			case q.DBTUniqueID != "":
				r.DBTNodes = []string{q.DBTUniqueID}
			case q.Name != "":
				parts := []string{q.Name}
				if q.Schema != "" {
					parts = []string{q.Schema, q.Name}
					if q.Database != "" {
						parts = []string{q.Database, q.Schema, q.Name}
					}
				}
				r.DBTNodes = ix.match(parts)
			}
		case QueryRawSQL, QueryTable:
			if r.Kind == QueryTable {
				r.SQL = "select * from " + m.Table.Name
			} else {
				r.SQL = m.SQL()
			}
			for _, ref := range Refs(r.SQL) {
				if ids := ix.match(ref.Parts); len(ids) > 0 {
					r.Refs = append(r.Refs, RefMatch{Ref: ref, Nodes: ids})
					r.DBTNodes = append(r.DBTNodes, ids...)
				}
			}
		case QueryVisual:
			r.Parent = m.Visual.ParentID
		case QueryCustom:
			log.Debug().Str("hightouch_model", string(m.ID)).Msg("Hightouch custom (non-SQL) model: not mapped to dbt")
		default:
			log.Warn().Str("hightouch_model", string(m.ID)).Str("name", m.Name).Str("query_type", m.QueryType).
				Msg("Hightouch model with an unknown query type: not mapped to dbt")
		}
		slices.Sort(r.DBTNodes)
		r.DBTNodes = slices.Compact(r.DBTNodes)
		out = append(out, r)
	}
	return out
}
