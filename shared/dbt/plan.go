package dbt

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// Labels that turn on diffing every downstream model while Slim Diff is on.
const (
	DefaultDiffAllDownstreamLabel  = "diffgate:diff-all-downstream"
	DatafoldDiffAllDownstreamLabel = "datafold:diff-all-downstream"
)

// MaxUpstream bounds PlannedModel.Upstream: a model deep in a large DAG can
// sit below hundreds of changes, and the lineage already holds them all.
const MaxUpstream = 25

// Sentences the plan gives reviewers for models it does not diff.
const (
	SkipEphemeral     = "ephemeral models are not built, so there is nothing to diff"
	SkipNew           = "new in this PR, so production has nothing to compare it with"
	SkipSlimDiff      = "Slim Diff is on: downstream models are diffed only with `slim_diff: diff_when_downstream` in their meta or the label `%s` on the PR"
	SkipNeverDiff     = "`never_diff: true` is set in %s"
	SkipProdEphemeral = "production builds no relation for it (it is ephemeral there), so there is nothing to compare with"
	SkipNoRelation    = "dbt does not build a relation for it"
)

// PlanOptions are the settings of one impact analysis.
type PlanOptions struct {
	// SlimDiff diffs only modified models, plus downstream models whose
	// meta says slim_diff: diff_when_downstream, plus every downstream
	// model when the PR carries the diff-all-downstream label.
	SlimDiff bool
	// Labels are the PR's labels.
	Labels []string
	// DiffAllDownstreamLabel defaults to DefaultDiffAllDownstreamLabel;
	// Datafold's datafold:diff-all-downstream is honoured too.
	DiffAllDownstreamLabel string
	// PrimaryKeyTag defaults to DefaultPrimaryKeyTag.
	PrimaryKeyTag string
	// ImportMetadata copies dbt tags, descriptions and owners (meta.owner)
	// into the models and the lineage.
	ImportMetadata bool
	// SampleSize and SamplesOff are copied into every model's DiffOptions.
	SampleSize int
	SamplesOff string
}

// Plan compares the PR manifest with production and plans the diffs: which
// models changed and why, what they affect downstream (models, seeds,
// snapshots and exposures), which to diff, with which primary key, and
// between which two relations.
func Plan(ctx context.Context, prod, pr *Manifest, opts PlanOptions) (*events.Plan, error) {
	if prod == nil || pr == nil {
		return nil, fmt.Errorf("dbt.Plan: both manifests are needed")
	}
	if opts.DiffAllDownstreamLabel == "" {
		opts.DiffAllDownstreamLabel = DefaultDiffAllDownstreamLabel
	}
	if opts.PrimaryKeyTag == "" {
		opts.PrimaryKeyTag = DefaultPrimaryKeyTag
	}
	cmpr := Compare(prod, pr)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &planner{prod: prod, pr: pr, opts: opts, cmp: cmpr, changed: map[string]*Modification{}}
	p.plan = &events.Plan{
		Version:     events.Version,
		ProjectName: cmp.Or(pr.ProjectName, prod.ProjectName),
		AdapterType: cmp.Or(pr.AdapterType, prod.AdapterType),
		ProdSchema:  "v" + strconv.Itoa(prod.SchemaVersion),
		PRSchema:    "v" + strconv.Itoa(pr.SchemaVersion),
		SlimDiff:    opts.SlimDiff,
		Models:      []events.PlannedModel{},
		Lineage:     events.Lineage{Nodes: []events.LineageNode{}, Edges: []events.Edge{}},
		Warnings:    slices.Clone(cmpr.Warnings),
	}
	for _, l := range opts.Labels {
		if strings.EqualFold(l, opts.DiffAllDownstreamLabel) || strings.EqualFold(l, DatafoldDiffAllDownstreamLabel) {
			p.plan.DiffAllDownstream = true
		}
	}
	for i := range cmpr.Modified {
		p.changed[cmpr.Modified[i].ID] = &cmpr.Modified[i]
	}
	p.impacted()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.models()
	p.exposures()
	p.lineage()
	for _, n := range cmpr.Removed {
		p.plan.Removed = append(p.plan.Removed, events.Node{ID: n.UniqueID, Name: n.DisplayName(), ResourceType: n.ResourceType})
	}
	return p.plan, nil
}

type planner struct {
	prod, pr *Manifest
	opts     PlanOptions
	cmp      *Comparison
	plan     *events.Plan
	changed  map[string]*Modification
	// impact: every node reached from a change, with the nearest changed
	// nodes above it (for downstream nodes).
	impact   map[string]bool
	upstream map[string][]string
	// order: impacted models, seeds and snapshots.
	order []*Node
	// ephemeralFed: downstream models fed by a changed ephemeral model
	// through ephemeral models only (their SQL inlines the change).
	ephemeralFed map[string]bool
}

// impacted walks the PR's child map from every changed node and source.
func (p *planner) impacted() {
	p.impact = map[string]bool{}
	var queue []string
	for id := range p.changed {
		queue = append(queue, id)
	}
	queue = append(queue, p.cmp.Sources...)
	roots := map[string]bool{}
	for _, id := range queue {
		roots[id] = true
	}
	slices.Sort(queue)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if p.impact[id] {
			continue
		}
		p.impact[id] = true
		for _, c := range p.pr.children[id] {
			if p.impact[c] || p.skipInWalk(c) {
				continue
			}
			queue = append(queue, c)
		}
	}
	// Upstream: the nearest changed nodes above each downstream node,
	// the first MaxUpstream by unique_id (the lineage has the whole graph).
	rootIDs := make([]string, 0, len(roots))
	for id := range roots {
		rootIDs = append(rootIDs, id)
	}
	slices.Sort(rootIDs)
	rootIndex := make(map[string]int32, len(rootIDs))
	for i, id := range rootIDs {
		rootIndex[id] = int32(i)
	}
	p.upstream = map[string][]string{}
	memo := map[string][]int32{}
	var near func(id string) []int32
	near = func(id string) []int32 {
		if v, ok := memo[id]; ok {
			return v
		}
		memo[id] = nil // cycles (which dbt forbids) end here
		var out []int32
		for _, par := range p.parents(id) {
			if !p.impact[par] {
				continue
			}
			if r, ok := rootIndex[par]; ok {
				out = append(out, r)
			} else {
				out = append(out, near(par)...)
			}
		}
		slices.Sort(out)
		out = slices.Compact(out)
		if len(out) > MaxUpstream {
			out = out[:MaxUpstream:MaxUpstream]
		}
		memo[id] = out
		return out
	}
	for id := range p.impact {
		if n, ok := p.pr.nodes[id]; ok && isBuildable(n.ResourceType) {
			p.order = append(p.order, n)
			if !roots[id] {
				idx := near(id)
				ups := make([]string, len(idx))
				for i, r := range idx {
					ups[i] = rootIDs[r]
				}
				p.upstream[id] = ups
			}
		}
	}
	// Map order is random; the plan (and its warnings) must not be.
	slices.SortFunc(p.order, func(a, b *Node) int { return strings.Compare(a.UniqueID, b.UniqueID) })
	p.ephemeralFed = map[string]bool{}
	fed := map[string]int{} // 0 unknown, 1 yes, 2 no, 3 visiting
	var isFed func(id string) bool
	isFed = func(id string) bool {
		switch fed[id] {
		case 1:
			return true
		case 2, 3:
			return false
		}
		fed[id] = 3
		v := false
		for _, par := range p.parents(id) {
			pn, ok := p.pr.nodes[par]
			if !ok || !pn.Ephemeral() || !p.impact[par] {
				continue
			}
			if _, ch := p.changed[par]; ch || isFed(par) {
				v = true
				break
			}
		}
		if v {
			fed[id] = 1
		} else {
			fed[id] = 2
		}
		return v
	}
	for _, n := range p.order {
		if _, ch := p.changed[n.UniqueID]; !ch && isFed(n.UniqueID) {
			p.ephemeralFed[n.UniqueID] = true
		}
	}
}

// skipInWalk: tests are not impacted (their failures show in dbt Cloud);
// everything else is walked through.
func (p *planner) skipInWalk(id string) bool {
	if o, ok := p.pr.others[id]; ok {
		return o.resourceType == "test" || o.resourceType == "unit_test"
	}
	return strings.HasPrefix(id, "test.") || strings.HasPrefix(id, "unit_test.")
}

func (p *planner) parents(id string) []string {
	if n, ok := p.pr.nodes[id]; ok {
		return n.DependsOn
	}
	if e, ok := p.pr.exposures[id]; ok {
		return e.DependsOn
	}
	if o, ok := p.pr.others[id]; ok {
		return o.dependsOn
	}
	return nil
}

func (p *planner) models() {
	for _, n := range p.order {
		p.plan.Models = append(p.plan.Models, p.model(n))
	}
	rank := func(c events.Change) int {
		if c == events.ChangeDownstream {
			return 1
		}
		return 0
	}
	slices.SortFunc(p.plan.Models, func(a, b events.PlannedModel) int {
		return cmp.Or(rank(a.Change)-rank(b.Change), strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
}

func (p *planner) model(n *Node) events.PlannedModel {
	pm := events.PlannedModel{
		ID:           n.UniqueID,
		Name:         n.DisplayName(),
		Kind:         events.KindDBT,
		ResourceType: n.ResourceType,
		Materialized: n.Materialized,
		Path:         n.Path,
		Change:       events.ChangeDownstream,
	}
	if m, ok := p.changed[n.UniqueID]; ok {
		if m.New {
			pm.Change = events.ChangeNew
		} else {
			pm.Change = events.ChangeModified
			pm.Reasons = m.Reasons
		}
	} else {
		pm.Upstream = p.upstream[n.UniqueID]
	}
	if r, ok := n.Relation(); ok {
		pm.PR = &r
	}
	if old, ok := p.prod.nodes[n.UniqueID]; ok && pm.Change != events.ChangeNew {
		if r, ok := old.Relation(); ok {
			pm.Prod = &r
		}
	}
	s := readSettings(n)
	p.plan.Warnings = append(p.plan.Warnings, s.warnings...)
	pm.Options = s.opts
	pm.Options.SampleSize = p.opts.SampleSize
	pm.Options.SamplesOff = p.opts.SamplesOff

	pk := FindPrimaryKey(p.pr, n, p.opts.PrimaryKeyTag)
	pm.PrimaryKey, pm.PrimaryKeyRule, pm.PrimaryKeyNote = pk.Columns, pk.Rule, pk.Note

	if p.opts.ImportMetadata {
		pm.Tags = n.Tags
		pm.Description = n.Description
		pm.Owner = owner(n.meta, n.configMeta)
	}

	// Whether to diff, and if not, why; the first reason that applies.
	switch {
	case n.Ephemeral():
		pm.SkipReason = SkipEphemeral
	case s.neverDiff:
		pm.SkipReason = fmt.Sprintf(SkipNeverDiff, s.neverDiffFrom)
	case pm.Change == events.ChangeDownstream && p.opts.SlimDiff && !p.plan.DiffAllDownstream && !s.whenDownstream && !p.ephemeralFed[n.UniqueID]:
		pm.SkipReason = fmt.Sprintf(SkipSlimDiff, p.opts.DiffAllDownstreamLabel)
	case pm.Change == events.ChangeNew:
		pm.SkipReason = SkipNew
	case pm.Prod == nil && p.prod.nodes[n.UniqueID] != nil && p.prod.nodes[n.UniqueID].Ephemeral():
		pm.SkipReason = SkipProdEphemeral
	case pm.PR == nil || pm.Prod == nil:
		pm.SkipReason = SkipNoRelation
	case len(pm.PrimaryKey) == 0:
		pm.SkipReason = pk.Note
	default:
		pm.Diff = true
	}
	if !pm.Diff && len(pk.Columns) == 0 && pm.SkipReason != pk.Note {
		// A missing key matters only for a model that would be diffed;
		// an ephemeral or never_diff model must not fail a check for it.
		pm.PrimaryKeyNote = ""
	}
	return pm
}

func (p *planner) exposures() {
	ids := make([]string, 0)
	for id := range p.impact {
		if _, ok := p.pr.exposures[id]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := p.pr.exposures[id]
		a := events.Asset{
			ID: id, Kind: "exposure", Name: cmp.Or(e.Label, e.Name), Type: e.Type, URL: e.URL,
			Owner:    cmp.Or(e.OwnerName, e.OwnerEmail),
			Upstream: p.listedAncestors(id, func(x string) bool { return p.isPlanned(x) }),
		}
		p.plan.Exposures = append(p.plan.Exposures, a)
	}
}

func (p *planner) isPlanned(id string) bool {
	n, ok := p.pr.nodes[id]
	return ok && p.impact[id] && isBuildable(n.ResourceType)
}

// listedAncestors returns the nearest ancestors of id that satisfy keep,
// walking through the nodes that do not (metrics, semantic models).
func (p *planner) listedAncestors(id string, keep func(string) bool) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(x string) {
		for _, par := range p.parents(x) {
			if seen[par] {
				continue
			}
			seen[par] = true
			if keep(par) {
				out = append(out, par)
			} else if _, ok := p.pr.others[par]; ok && p.impact[par] {
				walk(par)
			}
		}
	}
	walk(id)
	slices.Sort(out)
	return out
}

// lineage is the impacted subgraph: impacted models, seeds and snapshots,
// changed sources, downstream exposures, and the direct parents of impacted
// nodes as context.
func (p *planner) lineage() {
	lin := &p.plan.Lineage
	in := map[string]bool{}
	for _, pm := range p.plan.Models {
		in[pm.ID] = true
	}
	for _, s := range p.cmp.Sources {
		in[s] = true
	}
	for _, e := range p.plan.Exposures {
		in[e.ID] = true
	}
	// Context: parents of impacted nodes that are not impacted.
	ctxNodes := map[string]bool{}
	for id := range in {
		if _, ok := p.pr.exposures[id]; ok {
			continue
		}
		for _, par := range p.parents(id) {
			if !in[par] && (p.pr.nodes[par] != nil || p.pr.sources[par] != nil) {
				ctxNodes[par] = true
			}
		}
	}
	all := make([]string, 0, len(in)+len(ctxNodes))
	for id := range in {
		all = append(all, id)
	}
	for id := range ctxNodes {
		all = append(all, id)
	}
	slices.Sort(all)
	listed := func(id string) bool { return in[id] || ctxNodes[id] }
	for _, id := range all {
		lin.Nodes = append(lin.Nodes, p.lineageNode(id, in[id]))
		var parents []string
		if _, ok := p.pr.exposures[id]; ok {
			parents = p.listedAncestors(id, listed)
		} else if in[id] {
			for _, par := range p.parents(id) {
				if listed(par) {
					parents = append(parents, par)
				}
			}
		}
		for _, par := range parents {
			lin.Edges = append(lin.Edges, events.Edge{From: par, To: id})
		}
	}
	slices.SortFunc(lin.Edges, func(a, b events.Edge) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To))
	})
	lin.Edges = slices.Compact(lin.Edges)
}

func (p *planner) lineageNode(id string, impacted bool) events.LineageNode {
	ln := events.LineageNode{ID: id}
	if n, ok := p.pr.nodes[id]; ok {
		ln.Name, ln.ResourceType, ln.Materialized = n.DisplayName(), n.ResourceType, n.Materialized
		if impacted {
			ln.Change = events.ChangeDownstream
			if m, ok := p.changed[id]; ok {
				ln.Change = events.ChangeModified
				if m.New {
					ln.Change = events.ChangeNew
				}
			}
		}
		if p.opts.ImportMetadata {
			ln.Tags, ln.Description, ln.Owner = n.Tags, n.Description, owner(n.meta, n.configMeta)
		}
		return ln
	}
	if s, ok := p.pr.sources[id]; ok {
		ln.Name, ln.ResourceType = s.SourceName+"."+s.Name, "source"
		if impacted {
			ln.Change = events.ChangeModified
		}
		if p.opts.ImportMetadata {
			ln.Tags, ln.Description, ln.Owner = s.Tags, s.Description, owner(s.meta)
		}
		return ln
	}
	if e, ok := p.pr.exposures[id]; ok {
		ln.Name, ln.ResourceType = cmp.Or(e.Label, e.Name), "exposure"
		if p.opts.ImportMetadata {
			ln.Owner = cmp.Or(e.OwnerName, e.OwnerEmail)
		}
		if impacted {
			ln.Change = events.ChangeDownstream
		}
		return ln
	}
	return ln
}
