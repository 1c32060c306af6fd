package datadiff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Diff compares the two sides of spec inside the data source and says
// exactly what changed.
//
// Statements, each in a read-only transaction of its own, bounded by the
// source's concurrency:
//   - one probe per side for its columns, reading no row (and one more with
//     the filter, so that a bad filter is reported before anything runs);
//   - one count per side (rows, rows with a NULL key);
//   - the value pass: one join of the two sides on the key with one
//     null-safe inequality flag per compared column, folded into change
//     masks and counted in the database (a FULL OUTER JOIN, or a LEFT JOIN
//     plus an anti-join where the dialect prefers it);
//   - when those counts show a key that is not unique, the key statistics
//     per side and the value pass again without the duplicated keys;
//   - samples, when enabled and there is something to show.
//
// A missing PR relation gives StatusNotBuilt and a missing production
// relation (or spec.Prod nil) StatusNew; other failures are errors that
// match the package's sentinel errors. The result is never nil: after a
// failure it still lists the statements that ran.
func (s *Source) Diff(ctx context.Context, spec Spec) (res *Result, err error) {
	start := time.Now()
	rec := &recorder{}
	res = &Result{Version: ResultVersion, Status: StatusDiffed, Key: append([]string(nil), spec.Key...)}
	defer func() {
		res.Queries = rec.queries
		res.Duration = time.Since(start)
	}()

	if strings.TrimSpace(spec.Filter) != "" {
		if ferr := checkFragment(spec.Filter, s.dialect.Lexical()); ferr != nil {
			return res, &Error{Kind: ErrBadFilter, Msg: "the filter " + ferr.Error(), Hint: Hint(ErrBadFilter)}
		}
	}
	if spec.SampleSize < 0 {
		return res, &Error{Kind: ErrBadSpec, Msg: "the sample size must not be negative"}
	}
	if spec.SampleSize > MaxSampleSize {
		spec.SampleSize = MaxSampleSize
	}

	var sides [2]*Side
	sides[0], sides[1] = spec.Prod, &spec.PR
	var from [2]string
	for i, sd := range sides {
		if sd == nil {
			continue
		}
		f, ferr := s.fromItem(*sd, i == 0)
		if ferr != nil {
			return res, ferr
		}
		from[i] = f
	}

	// Columns of both sides, compiled but not run.
	var cols [2][]Column
	var colErr [2]error
	var wg sync.WaitGroup
	for i, sd := range sides {
		if sd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cols[i], colErr[i] = s.columns(ctx, rec, *sd, i == 0, from[i], spec.Filter)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return res, &Error{Kind: ErrCancelled, Msg: "the diff was cancelled"}
	}
	if colErr[1] != nil {
		if spec.PR.Relation != nil && errors.Is(colErr[1], ErrRelationMissing) {
			res.Status = StatusNotBuilt
			return res, nil
		}
		return res, colErr[1]
	}
	if spec.Prod == nil || (spec.Prod.Relation != nil && errors.Is(colErr[0], ErrRelationMissing)) {
		return s.newModel(ctx, rec, res, spec, from[1], cols[1])
	}
	if colErr[0] != nil {
		return res, colErr[0]
	}

	p, err := makePlan(s.dialect, spec, sides[0].String(), sides[1].String(), cols[0], cols[1])
	if err != nil {
		return res, err
	}
	res.Key = make([]string, len(p.keys))
	for i, k := range p.keys {
		res.Key[i] = k.name
	}
	res.Schema = p.schema
	res.Caveats = append(res.Caveats, p.caveats...)

	full := s.dialect.FullOuterJoin()
	switch s.join {
	case JoinFull:
		full = true
	case JoinLeftAnti:
		full = false
	}
	b := &builder{d: s.dialect, p: p, from: from, filter: spec.Filter, fullJoin: full, sampleSize: spec.SampleSize}

	// Pass 1: counts and the value pass, assuming the key is unique.
	var cnt [2]sideCount
	var groups []groupRow
	var gmu sync.Mutex
	addGroups := func(g []groupRow) {
		gmu.Lock()
		groups = append(groups, g...)
		gmu.Unlock()
	}
	stmts := []statement{
		s.countStatement(b, true, sides[0].String(), &cnt[0]),
		s.countStatement(b, false, sides[1].String(), &cnt[1]),
		{label: "values", sql: b.valuesSQL(), scan: b.scanGroups(addGroups)},
	}
	if !full {
		stmts = append(stmts, statement{label: "added", sql: b.addedSQL(), scan: b.scanGroups(addGroups)})
	}
	if err := s.runAll(ctx, rec, stmts); err != nil {
		return res, err
	}
	sum := summarize(groups, len(p.cols))
	nn := [2]int64{cnt[0].rows - cnt[0].nulls, cnt[1].rows - cnt[1].nulls}
	unique := sum.onlyKeys[1] == sum.onlyRows[1] && sum.onlyKeys[2] == sum.onlyRows[2] &&
		sum.matched == nn[0]-sum.onlyRows[1] && sum.matched == nn[1]-sum.onlyRows[2]

	if unique {
		for i := range 2 {
			st := &res.Prod
			if i == 1 {
				st = &res.PR
			}
			*st = SideStats{Rows: cnt[i].rows, KeyNulls: cnt[i].nulls, DistinctKeys: nn[i], ExclusiveKeys: sum.onlyRows[i+1], SetAside: cnt[i].nulls}
		}
	} else {
		// Pass 2: a key is duplicated on some side. Measure the keys, and
		// compare again leaving out every duplicated key.
		b.dedup = true
		var ks [2]keyStats
		var excl [2]int64
		groups = nil
		stmts := []statement{
			s.keyStatsStatement(b, true, sides[0].String(), &ks[0]),
			s.keyStatsStatement(b, false, sides[1].String(), &ks[1]),
			s.exclusiveStatement(b, true, &excl[0]),
			s.exclusiveStatement(b, false, &excl[1]),
			{label: "values without duplicated keys", sql: b.valuesSQL(), scan: b.scanGroups(addGroups)},
		}
		if !full {
			stmts = append(stmts, statement{label: "added without duplicated keys", sql: b.addedSQL(), scan: b.scanGroups(addGroups)})
		}
		if err := s.runAll(ctx, rec, stmts); err != nil {
			return res, err
		}
		sum = summarize(groups, len(p.cols))
		res.Prod = SideStats{Rows: ks[0].rows, KeyNulls: ks[0].nulls, DuplicateRows: ks[0].dups, DistinctKeys: ks[0].keys, ExclusiveKeys: excl[0],
			SetAside: ks[0].rows - sum.onlyRows[1] - sum.matched}
		res.PR = SideStats{Rows: ks[1].rows, KeyNulls: ks[1].nulls, DuplicateRows: ks[1].dups, DistinctKeys: ks[1].keys, ExclusiveKeys: excl[1],
			SetAside: ks[1].rows - sum.onlyRows[2] - sum.matched}
		res.Caveats = append(res.Caveats, fmt.Sprintf(
			"the key is not unique: %d production and %d PR rows share their key with another row; every key duplicated on either side is left out of added, removed, changed and unchanged (%d production and %d PR rows set aside, NULL keys included)",
			ks[0].dups, ks[1].dups, res.Prod.SetAside, res.PR.SetAside))
	}
	res.Removed, res.Added = sum.onlyRows[1], sum.onlyRows[2]
	res.Changed, res.Unchanged = sum.changed, sum.unchanged
	for i, side := range []string{"production", "PR"} {
		nulls := res.Prod.KeyNulls
		if i == 1 {
			nulls = res.PR.KeyNulls
		}
		if nulls > 0 {
			res.Caveats = append(res.Caveats, fmt.Sprintf("%s with a NULL key %s not matched", rowsOf(nulls, side), isAre(nulls)))
		}
	}
	matched := sum.changed + sum.unchanged
	res.Columns = make([]ColumnStats, len(p.cols))
	for j, c := range p.cols {
		rate := 1.0
		if matched > 0 {
			rate = 1 - float64(sum.mism[j])/float64(matched)
		}
		res.Columns[j] = ColumnStats{Name: c.name, ProdType: c.prodType, PRType: c.prType, Mismatches: sum.mism[j], MatchRate: rate, Tolerance: c.tolLabel}
	}

	switch {
	case spec.SamplesOff != "":
		res.SamplesOff = spec.SamplesOff
	case spec.SampleSize == 0:
		res.SamplesOff = "sample size is 0"
	default:
		smp, err := s.samples(ctx, rec, b, res, sum)
		if err != nil {
			return res, err
		}
		res.Samples = smp
	}
	return res, nil
}

// fromItem renders a side as a FROM item.
func (s *Source) fromItem(sd Side, prod bool) (string, error) {
	if sd.Relation == nil {
		q := trimQuery(sd.Query)
		if q == "" {
			return "", &Error{Kind: ErrBadSpec, Side: sideName(prod), Msg: "the " + sideName(prod) + " side has neither a relation nor a query"}
		}
		if err := checkFragment(q, s.dialect.Lexical()); err != nil {
			return "", &Error{Kind: ErrBadQuery, Side: sideName(prod), Relation: "query", Msg: "the " + sideName(prod) + " query " + err.Error()}
		}
		if sd.TimeTravel != "" {
			return "", &Error{Kind: ErrBadSpec, Side: sideName(prod), Msg: "time travel applies to relations, not to queries"}
		}
		return "(\n" + q + "\n)", nil
	}
	if sd.Relation.Identifier == "" {
		return "", &Error{Kind: ErrBadSpec, Side: sideName(prod), Msg: "the " + sideName(prod) + " relation has no name"}
	}
	f, err := s.dialect.Relation(*sd.Relation)
	if err != nil {
		return "", &Error{Kind: ErrBadSpec, Side: sideName(prod), Relation: sd.Relation.String(), Msg: "bad relation name", Err: err}
	}
	if sd.TimeTravel != "" {
		f, err = s.dialect.TimeTravel(f, sd.TimeTravel)
		if err != nil {
			kind := ErrBadSpec
			if errors.Is(err, ErrUnsupported) {
				kind = ErrUnsupported
			}
			return "", &Error{Kind: kind, Side: sideName(prod), Relation: sd.Relation.String(), Msg: "time travel " + s.dialect.Name() + ": " + err.Error()}
		}
	}
	return f, nil
}

// columns reads a side's columns with a compile-only probe, then checks
// that the filter compiles on that side.
func (s *Source) columns(ctx context.Context, rec *recorder, sd Side, prod bool, from, filter string) ([]Column, error) {
	what := error(nil)
	if sd.Relation == nil {
		what = ErrBadQuery
	}
	var cols []Column
	query := "SELECT * FROM " + from + " AS t"
	st := statement{label: "columns " + sideName(prod), sql: query, side: sideName(prod), relation: sd.String(), what: what,
		probe: func(ctx context.Context, conn *sql.Conn) error {
			var err error
			cols, err = s.dialect.Columns(ctx, conn, query, sd.Relation)
			return err
		}}
	if err := s.run(ctx, rec, st); err != nil {
		return nil, err
	}
	if strings.TrimSpace(filter) == "" {
		return cols, nil
	}
	fq := query + " WHERE (\n" + filter + "\n)"
	st = statement{label: "filter " + sideName(prod), sql: fq, side: sideName(prod), relation: sd.String(), what: ErrBadFilter,
		probe: func(ctx context.Context, conn *sql.Conn) error {
			_, err := s.dialect.Columns(ctx, conn, fq, nil)
			return err
		}}
	if err := s.run(ctx, rec, st); err != nil {
		var de *Error
		if errors.As(err, &de) && (de.Kind == ErrRelationMissing || de.Kind == ErrBadQuery) {
			de.Kind = ErrBadFilter // the side compiled without the filter
			de.Msg = "the filter does not compile on the " + sideName(prod) + " side (" + sd.String() + ")"
			de.Hint = Hint(ErrBadFilter)
		}
		return nil, err
	}
	return cols, nil
}

// runAll runs statements concurrently (within the source's bound). On the
// first failure the others are cancelled and that failure is returned.
func (s *Source) runAll(ctx context.Context, rec *recorder, stmts []statement) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, st := range stmts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.run(ctx, rec, st); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// newModel measures the PR side alone.
func (s *Source) newModel(ctx context.Context, rec *recorder, res *Result, spec Spec, from string, cols []Column) (*Result, error) {
	res.Status = StatusNew
	res.Schema.Added = cols
	p := &plan{}
	for _, k := range spec.Key {
		i := findColumn(s.dialect, cols, k)
		if i < 0 {
			p = nil
			res.Caveats = append(res.Caveats, fmt.Sprintf("key column %q is not in the PR relation; key checks skipped", k))
			break
		}
		pc := pair(s.dialect, cols[i], cols[i])
		p.keys = append(p.keys, pc)
	}
	if p != nil && len(p.keys) == 0 {
		p = nil
	}
	b := &builder{d: s.dialect, p: p, from: [2]string{"", from}, filter: spec.Filter}
	if p == nil {
		var n int64
		st := statement{label: "count PR", sql: "SELECT count(*) AS n FROM " + from + " AS t" + b.where(), side: "PR", relation: spec.PR.String(),
			scan: func(r *sql.Rows) error { return scanOne(r, (*intScan)(&n)) }}
		if err := s.run(ctx, rec, st); err != nil {
			return res, err
		}
		res.PR = SideStats{Rows: n}
		return res, nil
	}
	res.Key = make([]string, len(p.keys))
	for i, k := range p.keys {
		res.Key[i] = k.name
	}
	var ks keyStats
	if err := s.run(ctx, rec, s.keyStatsStatement(b, false, spec.PR.String(), &ks)); err != nil {
		return res, err
	}
	res.PR = SideStats{Rows: ks.rows, KeyNulls: ks.nulls, DuplicateRows: ks.dups, DistinctKeys: ks.keys}
	if ks.nulls > 0 {
		res.Caveats = append(res.Caveats, fmt.Sprintf("%s %s a NULL key", rowsOf(ks.nulls, "PR"), hasHave(ks.nulls)))
	}
	if ks.dups > 0 {
		res.Caveats = append(res.Caveats, fmt.Sprintf("the key is not unique: %d PR rows share their key with another row", ks.dups))
	}
	return res, nil
}

type sideCount struct{ rows, nulls int64 }

func (s *Source) countStatement(b *builder, prod bool, name string, out *sideCount) statement {
	return statement{label: "count " + sideName(prod), sql: b.countSQL(prod), side: sideName(prod), relation: name,
		scan: func(r *sql.Rows) error { return scanOne(r, (*intScan)(&out.rows), (*intScan)(&out.nulls)) }}
}

type keyStats struct{ rows, nulls, keys, dups int64 }

func (s *Source) keyStatsStatement(b *builder, prod bool, name string, out *keyStats) statement {
	return statement{label: "key statistics " + sideName(prod), sql: b.keyStatsSQL(prod), side: sideName(prod), relation: name,
		scan: func(r *sql.Rows) error {
			return scanOne(r, (*intScan)(&out.rows), (*intScan)(&out.nulls), (*intScan)(&out.keys), (*intScan)(&out.dups))
		}}
}

func (s *Source) exclusiveStatement(b *builder, prod bool, out *int64) statement {
	return statement{label: "exclusive keys " + sideName(prod), sql: b.exclusiveKeysSQL(prod),
		scan: func(r *sql.Rows) error { return scanOne(r, (*intScan)(out)) }}
}

// groupRow is one row of the value pass: the counts of a (side, masks)
// group (on the row with rk 1) and, for rows on one side only, one of the
// first keys as text.
type groupRow struct {
	s            int64
	masks        []int64
	nkeys, nrows int64
	rk           int64
	key          []string
	// pattern holds the smallest and largest key of a change mask.
	pattern []string
}

func (b *builder) scanGroups(add func([]groupRow)) func(*sql.Rows) error {
	nmasks := len(b.maskNames())
	nkeys := 0
	if b.sampleKeys() {
		nkeys = len(b.p.keys)
	}
	return func(r *sql.Rows) error {
		var out []groupRow
		for r.Next() {
			g := groupRow{masks: make([]int64, nmasks)}
			dest := []any{(*intScan)(&g.s)}
			for i := range g.masks {
				dest = append(dest, (*intScan)(&g.masks[i]))
			}
			dest = append(dest, (*intScan)(&g.nkeys), (*intScan)(&g.nrows), (*intScan)(&g.rk))
			keys := make([]sql.NullString, nkeys)
			for i := range keys {
				dest = append(dest, &keys[i])
			}
			var kmin, kmax sql.NullString
			if b.patternKeys() {
				dest = append(dest, &kmin, &kmax)
			}
			if err := r.Scan(dest...); err != nil {
				return err
			}
			if g.s == 0 && kmin.Valid {
				g.pattern = []string{kmin.String}
				if kmax.String != kmin.String {
					g.pattern = append(g.pattern, kmax.String)
				}
			}
			if g.s != 0 && nkeys > 0 {
				for _, k := range keys {
					g.key = append(g.key, k.String)
				}
			}
			out = append(out, g)
		}
		add(out)
		return nil
	}
}

type summary struct {
	matched, changed, unchanged int64
	onlyRows, onlyKeys          [3]int64 // by s: 1 production only, 2 PR only
	mism                        []int64
	sampleKeys                  [3][][]string // by s: the first keys of rows on one side only
	patterns                    []pattern     // changed rows' sample keys by change masks
}

// pattern is a combination of changed columns and keys of rows with it.
type pattern struct {
	masks []int64
	keys  []string
}

func summarize(groups []groupRow, ncols int) summary {
	sum := summary{mism: make([]int64, ncols)}
	for _, g := range groups {
		if g.key != nil {
			sum.sampleKeys[g.s] = append(sum.sampleKeys[g.s], g.key)
		}
		if g.rk != 1 {
			continue // a sample key; the group's counts are on its first row
		}

		if g.s != 0 {
			sum.onlyRows[g.s] += g.nrows
			sum.onlyKeys[g.s] += g.nkeys
			continue
		}
		sum.matched += g.nrows
		changed := false
		for m, mask := range g.masks {
			if mask == 0 {
				continue
			}
			changed = true
			for bit := 0; bit < maskBits; bit++ {
				if mask&(1<<bit) != 0 {
					if j := m*maskBits + bit; j < ncols {
						sum.mism[j] += g.nrows
					}
				}
			}
		}
		if changed {
			sum.changed += g.nrows
			if len(g.pattern) > 0 {
				sum.patterns = append(sum.patterns, pattern{masks: g.masks, keys: g.pattern})
			}
		} else {
			sum.unchanged += g.nrows
		}
	}
	return sum
}

// rowsOf renders "1 PR row" or "3 PR rows".
func rowsOf(n int64, side string) string {
	if n == 1 {
		return "1 " + side + " row"
	}
	return fmt.Sprintf("%d %s rows", n, side)
}

func isAre(n int64) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func hasHave(n int64) string {
	if n == 1 {
		return "has"
	}
	return "have"
}
