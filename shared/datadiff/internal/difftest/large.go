package difftest

import (
	"fmt"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// largeRows is the size of the generated tables: large enough that the
// counts come from several statements (the value pass, the anti-join, the
// pass without duplicated keys) and must add up.
const largeRows = 20000

var largeCols = []Col{{"id", Int}, {"a", Int}, {"b", Text}, {"c", BigInt}}

// genLarge writes a production and a PR table with scattered updates,
// NULL ↔ value changes, deletes and inserts; with dups, also duplicated and
// NULL keys on both sides.
func genLarge(n int, dups bool) (prod, pr Table) {
	prod.Cols, pr.Cols = largeCols, largeCols
	cval := func(i int) any {
		if i%10 == 0 {
			return nil
		}
		return i * 3
	}
	for i := 1; i <= n; i++ {
		prod.Rows = append(prod.Rows, []any{i, i % 1000, fmt.Sprintf("s%d", i%97), cval(i)})
		if dups && i%4999 == 0 {
			prod.Rows = append(prod.Rows, []any{i, i%1000 + 1, "dup", nil})
		}
		if i%997 == 0 {
			continue // deleted in the PR
		}
		a, b, c := i%1000, fmt.Sprintf("s%d", i%97), cval(i)
		if i%101 == 0 {
			a++
		}
		if i%211 == 0 {
			b += "!"
		}
		if i%30 == 0 {
			c = i // NULL → value
		}
		if i%103 == 0 {
			c = nil // value → NULL (or stays NULL)
		}
		pr.Rows = append(pr.Rows, []any{i, a, b, c})
		if dups && i%6007 == 0 {
			pr.Rows = append(pr.Rows, []any{i, a, b, c})
		}
	}
	for i := n + 1; i <= n+37; i++ {
		pr.Rows = append(pr.Rows, []any{i, i % 1000, "new", nil})
	}
	if dups {
		for i := 0; i < 3; i++ {
			prod.Rows = append(prod.Rows, []any{nil, i, "nullkey", nil})
		}
		for i := 0; i < 2; i++ {
			pr.Rows = append(pr.Rows, []any{nil, i, "nullkey", nil})
		}
	}
	return prod, pr
}

// LargeTables returns the generated tables.
func LargeTables() map[string]Table {
	p1, r1 := genLarge(largeRows, false)
	p2, r2 := genLarge(largeRows, true)
	return map[string]Table{"large_prod": p1, "large_pr": r1, "largedup_prod": p2, "largedup_pr": r2}
}

// LargeCases diffs the generated tables; the wanted counts come from
// Reference, a plain Go implementation of the same rules.
func LargeCases() []Case {
	p1, r1 := genLarge(largeRows, false)
	p2, r2 := genLarge(largeRows, true)
	return []Case{
		{Name: "large_unique_keys", Spec: diffOf("large_prod", "large_pr", datadiff.Spec{}), Want: Reference(p1, r1)},
		{Name: "large_duplicated_keys", Spec: diffOf("largedup_prod", "largedup_pr", datadiff.Spec{}), Want: Reference(p2, r2)},
	}
}

// Reference computes what the engine must report for two tables keyed on
// their first column, comparing every other column exactly.
func Reference(prod, pr Table) Want {
	type sideIndex struct {
		rows  map[string][][]any
		nulls int64
		total int64
	}
	index := func(t Table) sideIndex {
		s := sideIndex{rows: map[string][][]any{}}
		for _, r := range t.Rows {
			s.total++
			if r[0] == nil {
				s.nulls++
				continue
			}
			k := fmt.Sprint(r[0])
			s.rows[k] = append(s.rows[k], r)
		}
		return s
	}
	a, b := index(prod), index(pr)
	w := Want{Status: datadiff.StatusDiffed, Key: []string{"id"}, Mismatches: map[string]int64{}, NoSamplesChecked: true}
	for _, c := range prod.Cols[1:] {
		w.Mismatches[c.Name] = 0
	}
	stats := func(s, other sideIndex) datadiff.SideStats {
		st := datadiff.SideStats{Rows: s.total, KeyNulls: s.nulls, DistinctKeys: int64(len(s.rows))}
		for k, rs := range s.rows {
			if len(rs) > 1 {
				st.DuplicateRows += int64(len(rs))
			}
			if _, ok := other.rows[k]; !ok {
				st.ExclusiveKeys++
			}
		}
		return st
	}
	w.Prod, w.PR = stats(a, b), stats(b, a)
	dup := func(k string) bool { return len(a.rows[k]) > 1 || len(b.rows[k]) > 1 }
	for k, rs := range a.rows {
		if dup(k) {
			continue
		}
		other, ok := b.rows[k]
		if !ok {
			w.Removed++
			continue
		}
		changed := false
		for j := 1; j < len(prod.Cols); j++ {
			if fmt.Sprint(rs[0][j]) != fmt.Sprint(other[0][j]) {
				w.Mismatches[prod.Cols[j].Name]++
				changed = true
			}
		}
		if changed {
			w.Changed++
		} else {
			w.Unchanged++
		}
	}
	for k := range b.rows {
		if _, ok := a.rows[k]; !ok && !dup(k) {
			w.Added++
		}
	}
	w.Prod.SetAside = w.Prod.Rows - w.Removed - w.Changed - w.Unchanged
	w.PR.SetAside = w.PR.Rows - w.Added - w.Changed - w.Unchanged
	return w
}
