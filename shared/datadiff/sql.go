package datadiff

import (
	"fmt"
	"strconv"
	"strings"
)

// maskBits is how many compared columns share one change mask. 30 keeps
// every mask inside a 32-bit signed integer in every dialect.
const maskBits = 30

// builder writes the statements of one diff. Every name it splices is
// quoted by the dialect or is one of its own aliases (t, a, b, g, k0, c0,
// m0...); the filter goes in parentheses on lines of its own, after
// checkFragment.
type builder struct {
	d          Dialect
	p          *plan
	from       [2]string // rendered FROM items: 0 production, 1 PR
	filter     string
	dedup      bool // leave out keys that are NULL-free but not unique
	fullJoin   bool
	sampleSize int
}

func (b *builder) q(name string) string { return b.d.QuoteIdent(name) }

func (b *builder) colName(c pairCol, prod bool) string {
	if prod {
		return c.prodName
	}
	return c.prName
}

func (b *builder) colType(c pairCol, prod bool) string {
	if prod {
		return c.prodType
	}
	return c.prType
}

func (b *builder) colKind(c pairCol, prod bool) Kind {
	if prod {
		return c.prodKind
	}
	return c.prKind
}

// norm renders expr (a value of column c on one side) in the form both
// sides are compared in.
func (b *builder) norm(c pairCol, prod bool, expr string) string {
	t := b.colType(c, prod)
	switch c.mode {
	case modeText:
		return b.d.Text(expr, t)
	case modeBoolInt:
		if b.colKind(c, prod) == KindBoolean {
			return b.d.Integer(expr)
		}
		return expr
	}
	return b.d.Comparable(expr, t)
}

// where renders the filter and the extra conditions of a side.
func (b *builder) where(extra ...string) string {
	var conds []string
	if strings.TrimSpace(b.filter) != "" {
		conds = append(conds, "(\n"+b.filter+"\n)")
	}
	conds = append(conds, extra...)
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// keyNotNull is the condition that no key column of the side is NULL.
func (b *builder) keyNotNull(prod bool, alias string) string {
	parts := make([]string, len(b.p.keys))
	for i, k := range b.p.keys {
		parts[i] = alias + "." + b.q(b.colName(k, prod)) + " IS NOT NULL"
	}
	return strings.Join(parts, " AND ")
}

func (b *builder) keyNull(prod bool, alias string) string {
	parts := make([]string, len(b.p.keys))
	for i, k := range b.p.keys {
		parts[i] = alias + "." + b.q(b.colName(k, prod)) + " IS NULL"
	}
	return strings.Join(parts, " OR ")
}

// keyExprs are the side's key columns in matching form.
func (b *builder) keyExprs(prod bool, alias string) []string {
	out := make([]string, len(b.p.keys))
	for i, k := range b.p.keys {
		out[i] = b.norm(k, prod, alias+"."+b.q(b.colName(k, prod)))
	}
	return out
}

// side renders one side as a subquery with columns k0.. (keys in matching
// form), r0.. (keys as stored) and c0.. (compared columns as stored),
// without NULL keys, and without duplicated keys in dedup mode.
func (b *builder) side(prod bool) string {
	var cols []string
	for i, e := range b.keyExprs(prod, "t") {
		cols = append(cols, e+" AS k"+strconv.Itoa(i))
	}
	for i, k := range b.p.keys {
		cols = append(cols, "t."+b.q(b.colName(k, prod))+" AS r"+strconv.Itoa(i))
	}
	for j, c := range b.p.cols {
		cols = append(cols, "t."+b.q(b.colName(c, prod))+" AS c"+strconv.Itoa(j))
	}
	extra := []string{b.keyNotNull(prod, "t")}
	if b.dedup {
		extra = append(extra, "NOT EXISTS (SELECT 1 FROM dupkeys AS d WHERE "+b.eqKeys("d", b.keyExprs(prod, "t"))+")")
	}
	return "(SELECT " + strings.Join(cols, ", ") + " FROM " + b.from[idx(prod)] + " AS t" + b.where(extra...) + ")"
}

func idx(prod bool) int {
	if prod {
		return 0
	}
	return 1
}

// eqKeys renders alias.k0 = exprs[0] AND ...
func (b *builder) eqKeys(alias string, exprs []string) string {
	parts := make([]string, len(exprs))
	for i, e := range exprs {
		parts[i] = alias + ".k" + strconv.Itoa(i) + " = " + e
	}
	return strings.Join(parts, " AND ")
}

// joinOn renders a.k0 = b.k0 AND ...
func (b *builder) joinOn() string {
	parts := make([]string, len(b.p.keys))
	for i := range b.p.keys {
		k := "k" + strconv.Itoa(i)
		parts[i] = "a." + k + " = b." + k
	}
	return strings.Join(parts, " AND ")
}

// with renders the CTE of the keys to leave out in dedup mode.
func (b *builder) with() string {
	if !b.dedup {
		return ""
	}
	var sel [2]string
	for s, prod := range []bool{true, false} {
		exprs := b.keyExprs(prod, "t")
		cols := make([]string, len(exprs))
		for i, e := range exprs {
			cols[i] = e + " AS k" + strconv.Itoa(i)
		}
		sel[s] = "SELECT " + strings.Join(cols, ", ") + " FROM " + b.from[s] + " AS t" +
			b.where(b.keyNotNull(prod, "t")) + " GROUP BY " + strings.Join(exprs, ", ") + " HAVING count(*) > 1"
	}
	return "WITH dupkeys AS (" + sel[0] + "\nUNION\n" + sel[1] + ")\n"
}

// differs is the condition that compared column j differs between a and b.
func (b *builder) differs(j int) string {
	c := b.p.cols[j]
	x := b.norm(c, true, "a.c"+strconv.Itoa(j))
	y := b.norm(c, false, "b.c"+strconv.Itoa(j))
	if c.tol == nil {
		return b.d.Distinct(x, y)
	}
	var within string
	if c.tol.Rel > 0 {
		within = fmt.Sprintf("abs(%s - %s) <= %s * greatest(abs(%s), abs(%s))", x, y, num(c.tol.Rel), x, y)
	} else {
		within = fmt.Sprintf("abs(%s - %s) <= %s", x, y, num(c.tol.Abs))
	}
	return fmt.Sprintf("(CASE WHEN %s IS NULL AND %s IS NULL THEN 0 WHEN %s IS NULL OR %s IS NULL THEN 1 WHEN %s = %s THEN 0 WHEN %s THEN 0 ELSE 1 END) = 1",
		x, y, x, y, x, y, within)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// masks are the change masks: bit j%30 of mask j/30 is set when compared
// column j differs. Summing in the database one flag per column is the
// whole value comparison; grouping by the masks counts changed rows and
// every column's mismatches in one pass.
func (b *builder) masks() []string {
	n := (len(b.p.cols) + maskBits - 1) / maskBits
	if n == 0 {
		return []string{"0"}
	}
	out := make([]string, n)
	for m := 0; m < n; m++ {
		var terms []string
		for j := m * maskBits; j < len(b.p.cols) && j < (m+1)*maskBits; j++ {
			terms = append(terms, fmt.Sprintf("CASE WHEN %s THEN %d ELSE 0 END", b.differs(j), 1<<(j%maskBits)))
		}
		out[m] = "(" + strings.Join(terms, "\n + ") + ")"
	}
	return out
}

func (b *builder) maskNames() []string {
	n := len(b.masks())
	out := make([]string, n)
	for i := range out {
		out[i] = "m" + strconv.Itoa(i)
	}
	return out
}

// sampleKeys reports whether the value pass also returns the first keys
// of the rows only on one side, for samples.
func (b *builder) sampleKeys() bool { return b.sampleSize > 0 }

// patternKeys reports whether the value pass also returns, for each change
// mask, the smallest and the largest key with it: sample keys of changed
// rows at the price of two aggregates, where the key is one column of a
// type with min and max.
func (b *builder) patternKeys() bool {
	if !b.sampleKeys() || len(b.p.keys) != 1 {
		return false
	}
	k := b.p.keys[0]
	ordered := func(kd Kind) bool {
		return kd == KindInteger || kd == KindDecimal || kd == KindText || kd.temporal()
	}
	// Both sides' keys must print alike: the PR's rows are fetched by the
	// production key's text.
	return k.mode == modeNative && ordered(k.prodKind) && strings.EqualFold(k.prodType, k.prType)
}

// windowed wraps a grouped pass (columns s, m0.., e0.., x0.., n) so that it
// returns, per (s, masks), the number of groups (nkeys), the rows (nrows)
// and the first groups by key: one row per group up to the sample size
// (rk numbers them), each carrying the key as text (x0..).
func (b *builder) windowed(inner string) string {
	masks := strings.Join(b.maskNames(), ", ")
	var es, xs []string
	for i := range b.p.keys {
		es = append(es, "g.e"+strconv.Itoa(i))
		if b.sampleKeys() {
			xs = append(xs, "x"+strconv.Itoa(i))
		}
	}
	part := "PARTITION BY s, " + masks
	if b.patternKeys() {
		xs = append(xs, "xmin", "xmax")
	}
	x := ""
	if len(xs) > 0 {
		x = ", " + strings.Join(xs, ", ")
	}
	return b.with() + "SELECT s, " + masks + ", nkeys, nrows, rk" + x + " FROM (\nSELECT g.*, count(*) OVER (" + part + ") AS nkeys, sum(n) OVER (" + part +
		") AS nrows, row_number() OVER (" + part + " ORDER BY " + strings.Join(es, ", ") + ") AS rk\nFROM (\n" + inner + "\n) AS g\n) AS w WHERE rk <= " +
		strconv.Itoa(max(1, b.sampleSize))
}

// valuesSQL is the value pass: one join of the two sides grouped by which
// side a row is on (s: 0 both, 1 production only, 2 PR only) and by its
// change masks. Rows on one side only are also grouped by key, so that the
// groups count their distinct keys and the first keys come back as
// samples.
func (b *builder) valuesSQL() string {
	join := "FULL OUTER JOIN"
	if !b.fullJoin {
		join = "LEFT JOIN"
	}
	var sel []string
	sel = append(sel, "CASE WHEN b.k0 IS NULL THEN 1 WHEN a.k0 IS NULL THEN 2 ELSE 0 END AS s")
	for i, m := range b.masks() {
		sel = append(sel, "CASE WHEN a.k0 IS NULL OR b.k0 IS NULL THEN 0 ELSE "+m+" END AS m"+strconv.Itoa(i))
	}
	for i := range b.p.keys {
		k := "k" + strconv.Itoa(i)
		sel = append(sel, "CASE WHEN b.k0 IS NULL THEN a."+k+" WHEN a.k0 IS NULL THEN b."+k+" END AS e"+strconv.Itoa(i))
	}
	if b.sampleKeys() {
		for i, k := range b.p.keys {
			r := "r" + strconv.Itoa(i)
			sel = append(sel, "CASE WHEN b.k0 IS NULL THEN "+b.d.Text("a."+r, k.prodType)+" WHEN a.k0 IS NULL THEN "+b.d.Text("b."+r, k.prType)+
				" END AS x"+strconv.Itoa(i))
		}
	}
	groupBy := make([]string, len(sel))
	for i := range sel {
		groupBy[i] = strconv.Itoa(i + 1)
	}
	if b.patternKeys() {
		k := b.p.keys[0]
		sel = append(sel, b.d.Text("min(a.r0)", k.prodType)+" AS xmin", b.d.Text("max(a.r0)", k.prodType)+" AS xmax")
	}
	return b.windowed("SELECT " + strings.Join(sel, ",\n") + ",\ncount(*) AS n\nFROM " +
		b.side(true) + " AS a\n" + join + " " + b.side(false) + " AS b ON " + b.joinOn() +
		"\nGROUP BY " + strings.Join(groupBy, ", "))
}

// addedSQL counts the rows only in the PR, for dialects without a FULL
// OUTER JOIN pass; it returns rows shaped like valuesSQL's.
func (b *builder) addedSQL() string {
	var sel, groupBy []string
	sel = append(sel, "2 AS s")
	for i := range b.maskNames() {
		sel = append(sel, "0 AS m"+strconv.Itoa(i))
	}
	for i := range b.p.keys {
		sel = append(sel, "b.k"+strconv.Itoa(i)+" AS e"+strconv.Itoa(i))
		groupBy = append(groupBy, "b.k"+strconv.Itoa(i))
	}
	if b.sampleKeys() {
		for i, k := range b.p.keys {
			x := b.d.Text("b.r"+strconv.Itoa(i), k.prType)
			sel = append(sel, x+" AS x"+strconv.Itoa(i))
			groupBy = append(groupBy, x)
		}
	}
	if b.patternKeys() {
		sel = append(sel, "NULL AS xmin", "NULL AS xmax")
	}
	return b.windowed("SELECT " + strings.Join(sel, ", ") + ", count(*) AS n FROM " + b.side(false) + " AS b\nWHERE NOT EXISTS (SELECT 1 FROM " +
		b.side(true) + " AS a WHERE " + b.joinOn() + ")\nGROUP BY " + strings.Join(groupBy, ", "))
}

// countSQL counts a side's rows and rows with a NULL key.
func (b *builder) countSQL(prod bool) string {
	return "SELECT count(*) AS n, sum(CASE WHEN " + b.keyNull(prod, "t") + " THEN 1 ELSE 0 END) AS nulls FROM " + b.from[idx(prod)] + " AS t" + b.where()
}

// keyStatsSQL groups a side by key: rows, rows with a NULL key, distinct
// non-NULL keys, rows whose non-NULL key appears more than once.
func (b *builder) keyStatsSQL(prod bool) string {
	exprs := b.keyExprs(prod, "t")
	return "SELECT sum(n) AS nrows, sum(CASE WHEN kn = 1 THEN n ELSE 0 END) AS nulls, sum(CASE WHEN kn = 0 THEN 1 ELSE 0 END) AS nkeys, " +
		"sum(CASE WHEN kn = 0 AND n > 1 THEN n ELSE 0 END) AS dups FROM (\nSELECT max(CASE WHEN " + b.keyNull(prod, "t") +
		" THEN 1 ELSE 0 END) AS kn, count(*) AS n FROM " + b.from[idx(prod)] + " AS t" + b.where() + "\nGROUP BY " + strings.Join(exprs, ", ") + "\n) AS g"
}

// exclusiveKeysSQL counts the side's distinct non-NULL keys that the other
// side does not have.
func (b *builder) exclusiveKeysSQL(prod bool) string {
	c := *b
	c.dedup = false
	b = &c
	exprs := b.keyExprs(prod, "t")
	cols := make([]string, len(exprs))
	on := make([]string, len(exprs))
	for i, e := range exprs {
		cols[i] = e + " AS k" + strconv.Itoa(i)
		on[i] = "y.k" + strconv.Itoa(i) + " = x.k" + strconv.Itoa(i)
	}
	return "SELECT count(*) AS n FROM (SELECT DISTINCT " + strings.Join(cols, ", ") + " FROM " + b.from[idx(prod)] + " AS t" +
		b.where(b.keyNotNull(prod, "t")) + ") AS x\nWHERE NOT EXISTS (SELECT 1 FROM " + b.side(!prod) + " AS y WHERE " + strings.Join(on, " AND ") + ")"
}

// sampleColumns renders the sampled values of one side as text: keys as
// stored, then the compared columns.
func (b *builder) sampleColumns(prod bool, alias string, pre string) []string {
	var out []string
	for i, k := range b.p.keys {
		out = append(out, b.d.Text(alias+"."+pre+"r"+strconv.Itoa(i), b.colType(k, prod)))
	}
	for j, c := range b.p.cols {
		out = append(out, b.d.Text(alias+"."+pre+"c"+strconv.Itoa(j), b.colType(c, prod)))
	}
	return out
}

// changedSampleSQL returns up to sampleSize changed rows: production's
// values, the PR's values, then the masks.
func (b *builder) changedSampleSQL() string {
	var inner []string
	for _, side := range []string{"a", "b"} {
		for i := range b.p.keys {
			inner = append(inner, side+".r"+strconv.Itoa(i)+" AS "+side+"r"+strconv.Itoa(i))
		}
		for j := range b.p.cols {
			inner = append(inner, side+".c"+strconv.Itoa(j)+" AS "+side+"c"+strconv.Itoa(j))
		}
	}
	var cond []string
	for i, m := range b.masks() {
		inner = append(inner, m+" AS m"+strconv.Itoa(i))
		cond = append(cond, "x.m"+strconv.Itoa(i)+" <> 0")
	}
	outer := append(b.sampleColumns(true, "x", "a"), b.sampleColumns(false, "x", "b")...)
	for i := range b.maskNames() {
		outer = append(outer, "x.m"+strconv.Itoa(i))
	}
	return b.with() + "SELECT " + strings.Join(outer, ", ") + " FROM (\nSELECT " + strings.Join(inner, ", ") + "\nFROM " +
		b.side(true) + " AS a\nJOIN " + b.side(false) + " AS b ON " + b.joinOn() + "\n) AS x WHERE " + strings.Join(cond, " OR ") +
		" LIMIT " + strconv.Itoa(b.sampleSize)
}

// keyRowsSQL fetches the rows of one side whose keys, as text, are among
// keys. A key compared as it is stored meets the text as a literal the
// database converts to the key's type once, so the scan compares values;
// keys compared as text are rendered as text on every row.
func (b *builder) keyRowsSQL(prod bool, keys [][]string) string {
	keyExpr := make([]string, len(b.p.keys))
	for i, kc := range b.p.keys {
		keyExpr[i] = "t." + b.q(b.colName(kc, prod))
		if kc.mode == modeText {
			keyExpr[i] = b.d.Text(keyExpr[i], b.colType(kc, prod))
		}
	}
	var cond string
	if len(b.p.keys) == 1 {
		lits := make([]string, len(keys))
		for i, k := range keys {
			lits[i] = b.d.QuoteString(k[0])
		}
		cond = keyExpr[0] + " IN (" + strings.Join(lits, ", ") + ")"
	} else {
		var any []string
		for _, k := range keys {
			and := make([]string, len(b.p.keys))
			for i := range b.p.keys {
				and[i] = keyExpr[i] + " = " + b.d.QuoteString(k[i])
			}
			any = append(any, "("+strings.Join(and, " AND ")+")")
		}
		cond = "(" + strings.Join(any, " OR ") + ")"
	}
	var cols []string
	for _, k := range b.p.keys {
		cols = append(cols, b.d.Text("t."+b.q(b.colName(k, prod)), b.colType(k, prod)))
	}
	for _, c := range b.p.cols {
		cols = append(cols, b.d.Text("t."+b.q(b.colName(c, prod)), b.colType(c, prod)))
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + b.from[idx(prod)] + " AS t" + b.where(cond)
}
