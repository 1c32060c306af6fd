package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// graphNode is a lineage node picked for a drawing, with what the report
// knows about it.
type graphNode struct {
	events.LineageNode
	State State // the model's state when it was diffed; "" otherwise
}

// lineageGraph is the part of a plan's lineage that a drawing shows.
type lineageGraph struct {
	Nodes []graphNode
	Edges []events.Edge
	Total int // nodes in the whole lineage
}

// lineage picks at most max nodes of the plan's lineage, most
// important first: modified and new models, then downstream models, then
// exposures and Hightouch assets, then context (sources, parents). Edges
// are kept between picked nodes.
func (r *Report) lineage(max int) lineageGraph {
	if r.Plan == nil || len(r.Plan.Lineage.Nodes) == 0 {
		return lineageGraph{}
	}
	nodes := r.Plan.Lineage.Nodes
	rank := func(n events.LineageNode) int {
		switch {
		case n.Change == events.ChangeModified || n.Change == events.ChangeNew:
			return 0
		case n.Change == events.ChangeDownstream && !isAsset(n.ResourceType):
			return 1
		case isAsset(n.ResourceType):
			return 2
		}
		return 3
	}
	order := make([]int, len(nodes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rank(nodes[order[a]]) < rank(nodes[order[b]]) })
	if max > 0 && len(order) > max {
		order = order[:max]
	}
	sort.Ints(order) // draw in the plan's order, which is stable
	g := lineageGraph{Total: len(nodes)}
	picked := make(map[string]bool, len(order))
	for _, i := range order {
		n := nodes[i]
		gn := graphNode{LineageNode: n}
		if m, ok := r.Model(n.ID); ok && m.State != StateSkipped {
			gn.State = m.State
		}
		g.Nodes = append(g.Nodes, gn)
		picked[n.ID] = true
	}
	seen := make(map[events.Edge]bool)
	for _, e := range r.Plan.Lineage.Edges {
		if picked[e.From] && picked[e.To] && !seen[e] {
			seen[e] = true
			g.Edges = append(g.Edges, e)
		}
	}
	return g
}

func isAsset(resourceType string) bool {
	switch resourceType {
	case "exposure", "hightouch_model", "hightouch_sync":
		return true
	}
	return false
}

// graph draws the lineage as a Mermaid flowchart in a code fence.
func (w *writer) graph(max int) string {
	g := w.r.lineage(max)
	if len(g.Nodes) == 0 {
		return ""
	}
	var b strings.Builder
	if len(g.Nodes) < g.Total {
		fmt.Fprintf(&b, "The graph shows %d of %d nodes; the details page lists them all.\n\n", len(g.Nodes), g.Total)
	}
	b.WriteString("```mermaid\ngraph LR\n")
	ids := make(map[string]string, len(g.Nodes))
	for i, n := range g.Nodes {
		ids[n.ID] = fmt.Sprintf("n%d", i)
	}
	for i, n := range g.Nodes {
		label := n.Name
		if label == "" {
			label = n.ID
		}
		if note := nodeNote(n); note != "" {
			label += " · " + note
		}
		fmt.Fprintf(&b, "  n%d[\"%s\"]:::%s\n", i, mermaidText(Clip(label, 80)), nodeClass(n))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s --> %s\n", ids[e.From], ids[e.To])
	}
	b.WriteString("  classDef modified fill:#fde2b5,stroke:#b36b00,color:#000\n")
	b.WriteString("  classDef new fill:#d4f4dd,stroke:#1a7f37,color:#000\n")
	b.WriteString("  classDef downstream fill:#ddeeff,stroke:#0969da,color:#000\n")
	b.WriteString("  classDef asset fill:#efe3ff,stroke:#8250df,color:#000\n")
	b.WriteString("  classDef context fill:#f6f8fa,stroke:#8c959f,color:#57606a\n")
	b.WriteString("```\n")
	return b.String()
}

func nodeClass(n graphNode) string {
	switch {
	case isAsset(n.ResourceType):
		return "asset"
	case n.Change == events.ChangeModified:
		return "modified"
	case n.Change == events.ChangeNew:
		return "new"
	case n.Change == events.ChangeDownstream:
		return "downstream"
	}
	return "context"
}

// nodeNote is the short word after a node's name: what the diff found, or
// what kind of asset it is.
func nodeNote(n graphNode) string {
	switch n.State {
	case StateDiffers:
		return "differs"
	case StateUnchanged:
		return "no differences"
	case StateError, StateMissing:
		return "error"
	case StateNotBuilt:
		return "not built"
	case StateNew:
		return "new"
	}
	switch n.ResourceType {
	case "exposure":
		return "exposure"
	case "hightouch_model":
		return "Hightouch model"
	case "hightouch_sync":
		return "Hightouch sync"
	case "source":
		return "source"
	}
	return ""
}
