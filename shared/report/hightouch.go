package report

import "github.com/diffgate/diffgate/shared/events"

// HightouchModel is a Hightouch model the change reaches, with its syncs.
type HightouchModel struct {
	ID    string
	Name  string
	URL   string // the model in Hightouch, when the plan's asset has one
	Type  string // the query type, e.g. raw_sql
	Owner string
	// Upstream are the ids of the dbt models it reads.
	Upstream []string
	// Syncs are the plan's sync assets that read the model.
	Syncs []events.Asset
	// SyncIDs are a diffed model's syncs by id, for when the plan lists
	// none of them as assets.
	SyncIDs []int64
}

// HightouchModels lists the Hightouch models of the plan, each once: those
// diffed, in the plan's order, then the other Hightouch assets. The impact
// stage lists every Hightouch model it reaches among the plan's assets,
// the diffed ones included; a diffed model's asset is the same model.
func (r *Report) HightouchModels() []HightouchModel {
	p := r.Plan
	if p == nil {
		return nil
	}
	var syncs []events.Asset
	for _, a := range p.Hightouch {
		if a.Kind == "hightouch_sync" {
			syncs = append(syncs, a)
		}
	}
	syncsOf := func(id string) []events.Asset {
		var out []events.Asset
		for _, s := range syncs {
			for _, up := range s.Upstream {
				if up == id {
					out = append(out, s)
					break
				}
			}
		}
		return out
	}
	var out []HightouchModel
	diffed := map[string]bool{}
	for i := range p.Models {
		pm := &p.Models[i]
		if pm.Kind != events.KindHightouch || diffed[pm.ID] {
			continue
		}
		diffed[pm.ID] = true
		name := pm.Name
		if mr := r.Results[pm.ID]; name == "" && mr != nil {
			name = mr.ModelName
		}
		out = append(out, HightouchModel{ID: pm.ID, Name: name, Owner: pm.Owner, Upstream: pm.Upstream,
			Syncs: syncsOf(pm.ID), SyncIDs: pm.Syncs})
	}
	for _, a := range p.Hightouch {
		if a.Kind == "hightouch_sync" || diffed[a.ID] {
			continue
		}
		out = append(out, HightouchModel{ID: a.ID, Name: a.Name, URL: a.URL, Type: a.Type, Owner: a.Owner,
			Upstream: a.Upstream, Syncs: syncsOf(a.ID)})
	}
	return out
}
