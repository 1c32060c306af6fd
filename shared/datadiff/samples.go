package datadiff

import (
	"context"
	"database/sql"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// samples assembles up to b.sampleSize rows of each kind. The value pass
// returned the first keys of the rows on one side only and, for a simple
// key, the smallest and largest key of each combination of changed
// columns; their rows are fetched by key, one scan per side. A join
// stopping at the sample size finds changed rows only when those keys are
// too few.
func (s *Source) samples(ctx context.Context, rec *recorder, b *builder, res *Result, sum summary) (*Samples, error) {
	smp := &Samples{}
	for _, k := range b.p.keys {
		smp.Columns = append(smp.Columns, k.name)
	}
	for _, c := range b.p.cols {
		smp.Columns = append(smp.Columns, c.name)
	}
	width, nk, n := len(smp.Columns), len(b.p.keys), b.sampleSize

	// Changed keys: each pattern's smallest key, then each one's largest.
	pats := append([]pattern(nil), sum.patterns...)
	sort.Slice(pats, func(i, j int) bool { return slices.Compare(pats[i].masks, pats[j].masks) < 0 })
	var changed []pattern // one key each
	seen := map[string]bool{}
	for pass := 0; pass < 2; pass++ {
		for _, p := range pats {
			if pass < len(p.keys) && len(changed) < n && !seen[p.keys[pass]] {
				seen[p.keys[pass]] = true
				changed = append(changed, pattern{masks: p.masks, keys: []string{p.keys[pass]}})
			}
		}
	}
	var joined []ChangedRow
	var stmts []statement
	if res.Changed > 0 && int64(len(changed)) < min(int64(n), res.Changed) {
		nm := len(b.maskNames())
		stmts = append(stmts, statement{label: "sample changed", sql: b.changedSampleSQL(), scan: func(r *sql.Rows) error {
			for r.Next() {
				vals := make([]sql.NullString, 2*width)
				masks := make([]int64, nm)
				dest := make([]any, 0, 2*width+nm)
				for i := range vals {
					dest = append(dest, &vals[i])
				}
				for i := range masks {
					dest = append(dest, (*intScan)(&masks[i]))
				}
				if err := r.Scan(dest...); err != nil {
					return err
				}
				joined = append(joined, ChangedRow{Prod: toRow(vals[:width]), PR: toRow(vals[width:]), Differs: b.differing(masks)})
			}
			return nil
		}})
	}

	// Rows by key, one statement per side.
	var rows [2]map[string]Row
	for side := range 2 {
		keys := sum.sampleKeys[side+1]
		for _, c := range changed {
			keys = append(keys, c.keys)
		}
		if len(keys) == 0 {
			continue
		}
		rows[side] = map[string]Row{}
		dst := rows[side]
		stmts = append(stmts, statement{label: "sample rows " + sideName(side == 0), sql: b.keyRowsSQL(side == 0, keys), scan: func(r *sql.Rows) error {
			for r.Next() {
				vals := make([]sql.NullString, width)
				dest := make([]any, width)
				for i := range vals {
					dest[i] = &vals[i]
				}
				if err := r.Scan(dest...); err != nil {
					return err
				}
				row := toRow(vals)
				dst[rowKey(row, nk)] = row
			}
			return nil
		}})
	}
	if err := s.runAll(ctx, rec, stmts); err != nil {
		return nil, err
	}

	for _, c := range changed {
		k := strings.Join(c.keys, "\x00")
		p, ok1 := rows[0][k]
		r, ok2 := rows[1][k]
		if ok1 && ok2 {
			smp.Changed = append(smp.Changed, ChangedRow{Prod: p, PR: r, Differs: b.differing(c.masks)})
			seen[k] = true
		}
	}
	for _, j := range joined {
		if k := rowKey(j.Prod, nk); len(smp.Changed) < n && !seen[k] {
			seen[k] = true
			smp.Changed = append(smp.Changed, j)
		}
	}
	for side, dst := range []*[]Row{&smp.ProdOnly, &smp.PROnly} {
		for _, k := range sum.sampleKeys[side+1] {
			if row, ok := rows[side][strings.Join(k, "\x00")]; ok {
				*dst = append(*dst, row)
			}
		}
	}
	sort.SliceStable(smp.Changed, func(i, j int) bool { return lessKey(smp.Changed[i].Prod[:nk], smp.Changed[j].Prod[:nk]) })
	sort.SliceStable(smp.ProdOnly, func(i, j int) bool { return lessKey(smp.ProdOnly[i][:nk], smp.ProdOnly[j][:nk]) })
	sort.SliceStable(smp.PROnly, func(i, j int) bool { return lessKey(smp.PROnly[i][:nk], smp.PROnly[j][:nk]) })
	return smp, nil
}

// rowKey joins the key columns of a sampled row.
func rowKey(row Row, nk int) string {
	parts := make([]string, nk)
	for i := range parts {
		if row[i] != nil {
			parts[i] = *row[i]
		}
	}
	return strings.Join(parts, "\x00")
}

// differing names the compared columns whose bits are set in masks.
func (b *builder) differing(masks []int64) []string {
	var out []string
	for j, c := range b.p.cols {
		if masks[j/maskBits]&(1<<(j%maskBits)) != 0 {
			out = append(out, c.name)
		}
	}
	return out
}

func toRow(vals []sql.NullString) Row {
	row := make(Row, len(vals))
	for i, v := range vals {
		if v.Valid {
			s := v.String
			row[i] = &s
		}
	}
	return row
}

// lessKey orders sampled rows by key, numerically where both values are
// numbers.
func lessKey(a, b Row) bool {
	for i := range a {
		x, y := a[i], b[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return true
		case y == nil:
			return false
		}
		if *x == *y {
			continue
		}
		fx, ex := strconv.ParseFloat(*x, 64)
		fy, ey := strconv.ParseFloat(*y, 64)
		if ex == nil && ey == nil && fx != fy {
			return fx < fy
		}
		return *x < *y
	}
	return false
}
