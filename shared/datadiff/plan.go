package datadiff

import (
	"fmt"
	"sort"
	"strings"
)

// How a pair of columns is compared.
type cmpMode int

const (
	modeNone    cmpMode = iota // not comparable
	modeNative                 // as they are (after Dialect.Comparable)
	modeBoolInt                // the boolean side as 0/1
	modeText                   // both rendered as text
)

// pairCol is a column present on both sides.
type pairCol struct {
	name             string // the PR's name, used in the result
	prodName, prName string
	prodType, prType string
	prodKind, prKind Kind
	mode             cmpMode
	tol              *Tolerance // nil: exact
	tolLabel         string
}

// plan is what the statements compare, worked out from the two sides'
// columns before any data is read.
type plan struct {
	keys    []pairCol
	cols    []pairCol // compared, in the PR's column order
	schema  SchemaDiff
	caveats []string
}

// Default relative tolerances for floating-point columns: two floats that
// differ only in the last bits (a sum computed in another order, a double
// stored as a real) are the same number to a reader.
const (
	defaultFloatRel = 1e-12
	defaultRealRel  = 1e-6
)

func compareMode(kx, ky Kind, tx, ty string) cmpMode {
	switch {
	case kx == ky && (kx != KindOther || strings.EqualFold(tx, ty)):
		return modeNative
	case kx.numeric() && ky.numeric():
		return modeNative
	case kx.temporal() && ky.temporal():
		return modeNative
	case kx == KindBoolean && ky == KindInteger, kx == KindInteger && ky == KindBoolean:
		return modeBoolInt
	case textLike(kx) && textLike(ky):
		return modeText
	case kx == KindText || ky == KindText:
		return modeText
	}
	return modeNone
}

func textLike(k Kind) bool {
	return k == KindText || k == KindJSON || k == KindUUID || k == KindOther
}

// findColumn finds name among cols: exactly, else as the database matches
// names, else case-insensitively when only one column matches that way.
func findColumn(d Dialect, cols []Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	for i, c := range cols {
		if d.SameName(c.Name, name) {
			return i
		}
	}
	found := -1
	for i, c := range cols {
		if strings.EqualFold(c.Name, name) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

func checkUniqueNames(d Dialect, cols []Column, side string) error {
	for i := range cols {
		for j := i + 1; j < len(cols); j++ {
			if d.SameName(cols[i].Name, cols[j].Name) {
				return &Error{Kind: ErrBadSpec, Side: side, Msg: fmt.Sprintf("the %s side has two columns named %q", side, cols[i].Name),
					Hint: "give every column of the query a distinct name"}
			}
		}
	}
	return nil
}

func columnNames(cols []Column) string {
	names := make([]string, 0, len(cols))
	for _, c := range cols {
		names = append(names, c.Name)
	}
	s := strings.Join(names, ", ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// makePlan matches the columns of the two sides, resolves the key, and
// decides which columns are compared and how.
func makePlan(d Dialect, spec Spec, prodName, prName string, prodCols, prCols []Column) (*plan, error) {
	if err := checkUniqueNames(d, prodCols, "production"); err != nil {
		return nil, err
	}
	if err := checkUniqueNames(d, prCols, "PR"); err != nil {
		return nil, err
	}
	if len(spec.Key) == 0 {
		return nil, &Error{Kind: ErrBadSpec, Msg: "no key columns given", Hint: "name the model's primary key (a primary-key tag, a unique test, or --key)"}
	}
	p := &plan{}
	isKey := map[int]bool{} // PR column index → key
	for _, k := range spec.Key {
		pi := findColumn(d, prodCols, k)
		if pi < 0 {
			return nil, &Error{Kind: ErrBadSpec, Side: "production", Relation: prodName,
				Msg: fmt.Sprintf("key column %q is not in the production relation %s (its columns: %s)", k, prodName, columnNames(prodCols))}
		}
		ri := findColumn(d, prCols, k)
		if ri < 0 {
			return nil, &Error{Kind: ErrBadSpec, Side: "PR", Relation: prName,
				Msg: fmt.Sprintf("key column %q is not in the PR relation %s (its columns: %s)", k, prName, columnNames(prCols))}
		}
		if isKey[ri] {
			return nil, &Error{Kind: ErrBadSpec, Msg: fmt.Sprintf("key column %q is given twice", k)}
		}
		isKey[ri] = true
		pc := pair(d, prodCols[pi], prCols[ri])
		if pc.mode == modeNone {
			pc.mode = modeText // keys of unrelated types still match by their text
		}
		p.keys = append(p.keys, pc)
	}

	usedInclude := map[string]bool{}
	usedExclude := map[string]bool{}
	usedTol := map[string]bool{}
	matches := func(set []string, name string, used map[string]bool) bool {
		hit := false
		for _, n := range set {
			if n == name || d.SameName(n, name) || strings.EqualFold(n, name) {
				used[n] = true
				hit = true
			}
		}
		return hit
	}

	prodSeen := make([]bool, len(prodCols))
	for ri, rc := range prCols {
		pi := findColumn(d, prodCols, rc.Name)
		if pi >= 0 && prodSeen[pi] {
			pi = -1
		}
		if pi < 0 {
			p.schema.Added = append(p.schema.Added, rc)
			continue
		}
		prodSeen[pi] = true
		pc := pair(d, prodCols[pi], rc)
		compared := false
		switch {
		case isKey[ri]:
			p.schema.NotCompared = append(p.schema.NotCompared, NotCompared{Name: rc.Name, Reason: "key column"})
		case matches(spec.Exclude, rc.Name, usedExclude):
			p.schema.NotCompared = append(p.schema.NotCompared, NotCompared{Name: rc.Name, Reason: "excluded by exclude_columns"})
		case len(spec.Include) > 0 && !matches(spec.Include, rc.Name, usedInclude):
			p.schema.NotCompared = append(p.schema.NotCompared, NotCompared{Name: rc.Name, Reason: "not in include_columns"})
		case pc.mode == modeNone:
			p.schema.NotCompared = append(p.schema.NotCompared, NotCompared{Name: rc.Name,
				Reason: fmt.Sprintf("incompatible types (%s → %s)", pc.prodType, pc.prType)})
		default:
			compared = true
		}
		if compared {
			for name, t := range spec.Tolerance {
				if name == rc.Name || d.SameName(name, rc.Name) || strings.EqualFold(name, rc.Name) {
					usedTol[name] = true
					if !(pc.prodKind.numeric() && pc.prKind.numeric()) {
						p.caveats = append(p.caveats, fmt.Sprintf("the tolerance on %s was ignored: it is not a numeric column", rc.Name))
						continue
					}
					if t.zero() {
						pc.tol, pc.tolLabel = nil, ""
						continue
					}
					tt := t
					pc.tol, pc.tolLabel = &tt, t.String()
				}
			}
			p.cols = append(p.cols, pc)
		}
		if !strings.EqualFold(pc.prodType, pc.prType) {
			p.schema.TypeChanged = append(p.schema.TypeChanged, TypeChange{Name: rc.Name, ProdType: pc.prodType, PRType: pc.prType, Compared: compared})
		}
	}
	for pi, pcol := range prodCols {
		if !prodSeen[pi] {
			p.schema.Removed = append(p.schema.Removed, pcol)
		}
	}

	unknown := func(what string, names []string, used map[string]bool) {
		var miss []string
		for _, n := range names {
			if !used[n] {
				miss = append(miss, n)
			}
		}
		if len(miss) > 0 {
			sort.Strings(miss)
			p.caveats = append(p.caveats, fmt.Sprintf("%s names %s, which is not a column both relations have", what, strings.Join(miss, ", ")))
		}
	}
	unknown("exclude_columns", spec.Exclude, usedExclude)
	unknown("include_columns", spec.Include, usedInclude)
	var tolNames []string
	for n := range spec.Tolerance {
		tolNames = append(tolNames, n)
	}
	unknown("tolerance", tolNames, usedTol)
	if len(p.cols) == 0 {
		p.caveats = append(p.caveats, "no columns were compared: rows are matched on the key only")
	}
	return p, nil
}

// pair describes a column present on both sides and how to compare it.
func pair(d Dialect, prod, pr Column) pairCol {
	pc := pairCol{
		name: pr.Name, prodName: prod.Name, prName: pr.Name,
		prodType: prod.Type, prType: pr.Type,
		prodKind: d.Kind(prod.Type), prKind: d.Kind(pr.Type),
	}
	pc.mode = compareMode(pc.prodKind, pc.prKind, prod.Type, pr.Type)
	if pc.mode == modeNative && (pc.prodKind.float() || pc.prKind.float()) {
		rel := defaultFloatRel
		if pc.prodKind == KindReal || pc.prKind == KindReal {
			rel = defaultRealRel
		}
		pc.tol = &Tolerance{Rel: rel}
		pc.tolLabel = pc.tol.String() + " (float default)"
	}
	return pc
}
