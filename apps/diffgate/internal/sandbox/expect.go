package sandbox

import (
	"fmt"
	"slices"
)

// Figures are what a correct diff of one model reports, worked out from
// the generated rows alone (not by any SQL), so a test can hold the
// pipeline's numbers against them.
type Figures struct {
	Model string
	Key   string
	// Rows per side; KeyNulls and DuplicateRows as the diff counts them
	// (rows with a NULL key; rows whose key appears more than once).
	ProdRows, PRRows                   int64
	ProdKeyNulls, PRKeyNulls           int64
	ProdDuplicateRows, PRDuplicateRows int64
	// Added, Removed, Changed and Unchanged count the keys that are
	// matched: non-NULL and at most once on each side.
	Added, Removed, Changed, Unchanged int64
	// Mismatches per compared column (on both sides, not the key), of the
	// matched keys on both sides.
	Mismatches map[string]int64
	// ColumnsAdded and ColumnsRemoved are the schema changes.
	ColumnsAdded, ColumnsRemoved []string
}

// Differs reports whether the model has any difference.
func (f Figures) Differs() bool {
	return f.ProdRows != f.PRRows || f.Added+f.Removed+f.Changed > 0 || len(f.ColumnsAdded)+len(f.ColumnsRemoved) > 0 ||
		f.PRKeyNulls+f.PRDuplicateRows+f.ProdKeyNulls+f.ProdDuplicateRows > 0
}

// Expect returns the figures of every model the PR's diff covers: the
// modified model, the downstream ones, then the Hightouch model (named by
// its Hightouch name), in that order.
func (p *Project) Expect() []Figures {
	var out []Figures
	keys := map[string]string{"stg_orders": "order_id", "customers": "customer_id", "first_orders": "customer_id", "daily_revenue": "order_date"}
	for _, m := range append([]string{p.Modified}, p.Downstream...) {
		out = append(out, compare(m, keys[m], p.prod[m], p.pr[m]))
	}
	h := p.Hightouch
	out = append(out, compare(h.Name, h.PrimaryKey, project(p.prod[h.Reads], h.Columns), project(p.pr[h.Reads], h.Columns)))
	return out
}

// project keeps only the named columns of t, as a query selecting them.
func project(t *Table, names []string) *Table {
	out := &Table{Name: t.Name}
	var idx []int
	for _, n := range names {
		for i, c := range t.Columns {
			if c.Name == n {
				idx = append(idx, i)
				out.Columns = append(out.Columns, c)
			}
		}
	}
	for _, r := range t.Rows {
		row := make([]any, len(idx))
		for j, i := range idx {
			row[j] = r[i]
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

func column(t *Table, name string) int {
	return slices.IndexFunc(t.Columns, func(c Column) bool { return c.Name == name })
}

// compare works out the figures of prod against pr, matched on key.
func compare(model, key string, prod, pr *Table) Figures {
	f := Figures{Model: model, Key: key, ProdRows: int64(len(prod.Rows)), PRRows: int64(len(pr.Rows)), Mismatches: map[string]int64{}}
	kp, kq := column(prod, key), column(pr, key)
	if kp < 0 || kq < 0 {
		panic(fmt.Sprintf("sandbox: %s has no column %s", model, key))
	}
	count := func(t *Table, k int) (map[any]int, int64, int64) {
		n := map[any]int{}
		var nulls, dups int64
		for _, r := range t.Rows {
			if r[k] == nil {
				nulls++
				continue
			}
			n[r[k]]++
		}
		for _, c := range n {
			if c > 1 {
				dups += int64(c)
			}
		}
		return n, nulls, dups
	}
	np, nullsP, dupsP := count(prod, kp)
	nq, nullsQ, dupsQ := count(pr, kq)
	f.ProdKeyNulls, f.ProdDuplicateRows, f.PRKeyNulls, f.PRDuplicateRows = nullsP, dupsP, nullsQ, dupsQ
	matchable := func(k any) bool { return np[k] <= 1 && nq[k] <= 1 }
	rowsP := map[any][]any{}
	for _, r := range prod.Rows {
		if r[kp] != nil && matchable(r[kp]) {
			rowsP[r[kp]] = r
		}
	}
	type pair struct{ p, q int }
	var both []pair
	for i, c := range pr.Columns {
		if c.Name == key {
			continue
		}
		if j := column(prod, c.Name); j >= 0 {
			both = append(both, pair{j, i})
		} else {
			f.ColumnsAdded = append(f.ColumnsAdded, c.Name)
		}
	}
	for _, c := range prod.Columns {
		if column(pr, c.Name) < 0 {
			f.ColumnsRemoved = append(f.ColumnsRemoved, c.Name)
		}
	}
	seen := map[any]bool{}
	for _, r := range pr.Rows {
		k := r[kq]
		if k == nil || !matchable(k) {
			continue
		}
		seen[k] = true
		old, ok := rowsP[k]
		if !ok {
			f.Added++
			continue
		}
		changed := false
		for _, c := range both {
			if old[c.p] != r[c.q] {
				f.Mismatches[pr.Columns[c.q].Name]++
				changed = true
			}
		}
		if changed {
			f.Changed++
		} else {
			f.Unchanged++
		}
	}
	for k := range rowsP {
		if !seen[k] {
			f.Removed++
		}
	}
	return f
}
