package hightouch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// Plan vocabulary.
const (
	ResourceModel = "hightouch_model"
	ResourceSync  = "hightouch_sync"
	// PrimaryKeyRule is the rule name reported for a Hightouch model's key.
	PrimaryKeyRule = "hightouch primaryKey"
)

// ErrNoQuoter: diffing needs a quoting function for the warehouse dialect.
var ErrNoQuoter = errors.New("hightouch: PlanOptions.Quote is required when DiffModels is on")

// PlanOptions configure AddToPlan.
type PlanOptions struct {
	// DiffModels diffs the impacted models (diff_hightouch_models). Slim
	// Diff does not apply to Hightouch models.
	DiffModels bool
	// SourceIDs restricts to models on these Hightouch sources (the ones on
	// the integration's warehouse); empty keeps every model.
	SourceIDs []int64
	// Quote renders a relation as the warehouse dialect quotes it; the PR
	// query reads the PR relations through it.
	Quote func(events.Relation) (string, error)
	// Options are copied into every planned Hightouch model.
	Options events.DiffOptions
}

// ModelID is the plan id of a Hightouch model: hightouch.<workspace>.<id>.
func ModelID(m *Model) string { return "hightouch." + string(m.WorkspaceID) + "." + string(m.ID) }

// SyncID is the plan id of a Hightouch sync.
func SyncID(workspace, sync ID) string {
	return "hightouch." + string(workspace) + ".sync." + string(sync)
}

// AddToPlan appends to plan every Hightouch model downstream of an impacted
// dbt model of the plan (reading it directly, or through other Hightouch
// models, however many hops), as planned models with the queries to diff,
// plus Hightouch assets (models and their syncs) and lineage. nodes are
// the manifest's nodes, so that names in SQL resolve; the plan's own dbt
// models are added to them.
func AddToPlan(ctx context.Context, plan *events.Plan, models []Model, nodes []DBTNode, opts PlanOptions) error {
	if opts.DiffModels && opts.Quote == nil {
		return ErrNoQuoter
	}
	impacted := map[string]*events.PlannedModel{}
	for i := range plan.Models {
		pm := &plan.Models[i]
		if pm.Kind != events.KindDBT && pm.Kind != "" {
			continue
		}
		impacted[pm.ID] = pm
		if pm.Prod != nil {
			nodes = append(nodes, DBTNode{UniqueID: pm.ID, Relation: *pm.Prod})
		}
	}
	reads := Resolve(ctx, models, nodes, opts.SourceIDs)

	// Which models are impacted, directly or through their parents.
	byID := map[ID]*Reads{}
	for i := range reads {
		byID[reads[i].Model.ID] = &reads[i]
	}
	hit := map[ID]bool{}
	for changed := true; changed; {
		changed = false
		for i := range reads {
			r := &reads[i]
			if hit[r.Model.ID] {
				continue
			}
			direct := slices.ContainsFunc(r.DBTNodes, func(id string) bool { return impacted[id] != nil })
			if direct || r.Parent != "" && hit[r.Parent] {
				hit[r.Model.ID] = true
				changed = true
			}
		}
	}

	var chosen []*Reads
	for i := range reads {
		if hit[reads[i].Model.ID] {
			chosen = append(chosen, &reads[i])
		}
	}
	sort.SliceStable(chosen, func(i, j int) bool {
		if chosen[i].Model.Name != chosen[j].Model.Name {
			return chosen[i].Model.Name < chosen[j].Model.Name
		}
		return chosen[i].Model.ID < chosen[j].Model.ID
	})

	// upstream is the modified dbt nodes behind a model, memoised.
	upstream := map[ID][]string{}
	var upstreamOf func(r *Reads, depth int) []string
	upstreamOf = func(r *Reads, depth int) []string {
		if u, ok := upstream[r.Model.ID]; ok || depth > len(reads) {
			return u
		}
		var u []string
		for _, id := range r.DBTNodes {
			pm := impacted[id]
			switch {
			case pm == nil:
			case pm.Change == events.ChangeDownstream:
				u = append(u, pm.Upstream...)
			default:
				u = append(u, pm.ID)
			}
		}
		if p := byID[r.Parent]; p != nil && hit[p.Model.ID] {
			u = append(u, upstreamOf(p, depth+1)...)
		}
		slices.Sort(u)
		u = slices.Compact(u)
		upstream[r.Model.ID] = u
		return u
	}

	lineage := map[string]bool{}
	for _, n := range plan.Lineage.Nodes {
		lineage[n.ID] = true
	}
	addNode := func(n events.LineageNode) {
		if !lineage[n.ID] {
			lineage[n.ID] = true
			plan.Lineage.Nodes = append(plan.Lineage.Nodes, n)
		}
	}

	for _, r := range chosen {
		m := r.Model
		id := ModelID(m)
		pm := events.PlannedModel{
			ID:           id,
			Name:         m.Name,
			Kind:         events.KindHightouch,
			ResourceType: ResourceModel,
			Change:       events.ChangeDownstream,
			Upstream:     upstreamOf(r, 0),
			Description:  m.Description,
			Options:      opts.Options,
		}
		for _, s := range m.Syncs {
			pm.Syncs = append(pm.Syncs, s.Int())
		}
		if m.PrimaryKey != "" {
			pm.PrimaryKey = []string{m.PrimaryKey}
			pm.PrimaryKeyRule = PrimaryKeyRule
		} else {
			pm.PrimaryKeyNote = "set the model's primary key in Hightouch"
		}
		if m.Kind() == QueryRawSQL || m.Kind() == QueryTable || m.Kind() == QueryDBT {
			pm.Materialized = string(m.Kind())
		}
		prodQ, prQ, why, err := queries(r, impacted, opts.Quote)
		if err != nil {
			return fmt.Errorf("hightouch: model %s: %w", id, err)
		}
		switch {
		case !opts.DiffModels:
			pm.SkipReason = "diff_hightouch_models is off"
		case why != "":
			pm.SkipReason = why
		case m.PrimaryKey == "":
			pm.SkipReason = "no primary key: set the model's primary key in Hightouch"
		default:
			pm.Diff = true
		}
		if opts.DiffModels {
			pm.ProdQuery, pm.PRQuery = prodQ, prQ
		}
		plan.Models = append(plan.Models, pm)

		var up []string
		for _, n := range r.DBTNodes {
			if impacted[n] != nil {
				up = append(up, n)
			}
		}
		if p := byID[r.Parent]; p != nil && hit[p.Model.ID] {
			up = append(up, ModelID(p.Model))
		}
		plan.Hightouch = append(plan.Hightouch, events.Asset{
			ID: id, Kind: ResourceModel, Name: m.Name, Type: string(r.Kind), Upstream: up,
		})
		addNode(events.LineageNode{ID: id, Name: m.Name, ResourceType: ResourceModel,
			Materialized: pm.Materialized, Change: events.ChangeDownstream, Description: m.Description})
		for _, from := range up {
			plan.Lineage.Edges = append(plan.Lineage.Edges, events.Edge{From: from, To: id})
		}
		for _, s := range m.Syncs {
			sid := SyncID(m.WorkspaceID, s)
			name := "Sync " + string(s)
			plan.Hightouch = append(plan.Hightouch, events.Asset{ID: sid, Kind: ResourceSync, Name: name, Upstream: []string{id}})
			addNode(events.LineageNode{ID: sid, Name: name, ResourceType: ResourceSync})
			plan.Lineage.Edges = append(plan.Lineage.Edges, events.Edge{From: id, To: sid})
		}
	}
	return nil
}

// queries builds the production query (as Hightouch runs it) and the PR
// query (each impacted relation replaced by its PR relation), or says why
// the model cannot be diffed. err is a relation quote could not render.
func queries(r *Reads, impacted map[string]*events.PlannedModel, quote func(events.Relation) (string, error)) (prod, pr, why string, err error) {
	switch r.Kind {
	case QueryVisual:
		return "", "", "a visual (audience) model has no SQL to diff", nil
	case QueryCustom:
		return "", "", "a custom (non-SQL) model cannot be diffed", nil
	case QueryUnknown:
		return "", "", fmt.Sprintf("unknown Hightouch query type %q", r.Model.QueryType), nil
	case QueryDBT:
		for _, id := range r.DBTNodes {
			pm := impacted[id]
			if pm == nil {
				continue
			}
			if pm.Prod == nil || pm.PR == nil {
				return "", "", fmt.Sprintf("dbt model %s has no relation on both sides (not built in this PR, or new)", pm.Name), nil
			}
			if quote == nil {
				return "", "", "", nil
			}
			if prod, err = quote(*pm.Prod); err == nil {
				pr, err = quote(*pm.PR)
			}
			return "select * from " + prod, "select * from " + pr, "", err
		}
		return "", "", "its dbt model is not in the plan", nil
	}
	var reps []replacement
	for _, ref := range r.Refs {
		var hits []*events.PlannedModel
		for _, id := range ref.Nodes {
			if pm := impacted[id]; pm != nil {
				hits = append(hits, pm)
			}
		}
		if len(hits) == 0 {
			continue
		}
		if len(ref.Nodes) > 1 {
			return "", "", fmt.Sprintf("%q names several dbt models (%s): qualify it with its schema",
				ref.String(), strings.Join(ref.Nodes, ", ")), nil
		}
		if hits[0].PR == nil {
			return "", "", fmt.Sprintf("dbt model %s was not built in this PR", hits[0].Name), nil
		}
		if quote != nil {
			text, err := quote(*hits[0].PR)
			if err != nil {
				return "", "", "", err
			}
			reps = append(reps, replacement{start: ref.Start, end: ref.End, text: text})
		}
	}
	return r.SQL, substitute(r.SQL, reps), "", nil
}
