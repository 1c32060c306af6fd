package dbt

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Primary-key rules, in the order they are tried; the plan names the one
// that found the key.
const (
	RuleModelMeta         = "model meta `%s`" // %s: the primary-key tag
	RuleColumnMeta        = "column meta"
	RuleColumnTags        = "column tags"
	RuleUniqueTest        = "unique test"
	RuleUniqueExpression  = "unique test on expression"
	RuleUniqueCombination = "dbt_utils.unique_combination_of_columns"
	RuleUniqueKey         = "unique_key config"
	RuleConstraint        = "primary_key constraint"
	RuleColumnID          = "column named id"
	RuleColumnPK          = "column named pk"
	RuleColumnPKey        = "column named pkey"
	RuleColumnModelID     = "column named <model>_id"
)

// DefaultPrimaryKeyTag is the tag that marks primary-key columns.
const DefaultPrimaryKeyTag = "primary-key"

// NoPrimaryKeyNote is what the plan says when no rule found a key.
const NoPrimaryKeyNote = "no primary key: tag a column `%s` or add a unique test"

// PrimaryKey is the key found for a model and how.
type PrimaryKey struct {
	Columns []string
	Rule    string // empty when none was found
	Note    string // a sentence for reviewers (a choice made, or the fix)
}

// FindPrimaryKey finds the primary key of a node in m, trying each rule in
// order: model meta with the tag; column meta with the tag;
// column tags; uniqueness tests; unique_key config; primary_key
// constraints; columns named id, pk, pkey, <model>_id.
func FindPrimaryKey(m *Manifest, n *Node, tag string) PrimaryKey {
	if tag == "" {
		tag = DefaultPrimaryKeyTag
	}
	if pk, ok := pkFromModelMeta(n, tag); ok {
		return pk
	}
	if cols := columnsWhere(n, func(c *Column) bool {
		v, ok := metaValue(tag, c.meta, c.configMeta)
		return ok && metaFlag(v)
	}); len(cols) > 0 {
		return PrimaryKey{Columns: cols, Rule: RuleColumnMeta}
	}
	if cols := columnsWhere(n, func(c *Column) bool { return containsString(c.Tags, tag) }); len(cols) > 0 {
		return PrimaryKey{Columns: cols, Rule: RuleColumnTags}
	}
	if pk, ok := pkFromTests(m.Tests(n.UniqueID), n); ok {
		return pk
	}
	if pk, ok := pkFromUniqueKey(n); ok {
		return pk
	}
	if pk, ok := pkFromConstraints(n); ok {
		return pk
	}
	if pk, ok := pkFromNames(n); ok {
		return pk
	}
	return PrimaryKey{Note: fmt.Sprintf(NoPrimaryKeyNote, tag)}
}

func pkFromModelMeta(n *Node, tag string) (PrimaryKey, bool) {
	v, ok := metaValue(tag, n.meta, n.configMeta)
	if !ok {
		return PrimaryKey{}, false
	}
	cols, err := stringList(v)
	if err != nil || len(cols) == 0 {
		return PrimaryKey{}, false
	}
	if len(cols) == 1 && strings.Contains(cols[0], ",") {
		cols = splitTrim(cols[0], ",")
	}
	pk := PrimaryKey{Columns: cols, Rule: fmt.Sprintf(RuleModelMeta, tag)}
	var unknown []string
	if len(n.Columns) > 0 {
		for i, c := range cols {
			if d, ok := declared(n, c); ok {
				cols[i] = d
			} else {
				unknown = append(unknown, c)
			}
		}
	}
	if len(unknown) > 0 {
		pk.Note = fmt.Sprintf("the model's meta names %s as key, which its YAML does not declare", joinQuoted(unknown))
	}
	return pk, true
}

// metaFlag: a column is marked by the tag in its meta unless the value is
// false or null.
func metaFlag(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	return s != "false" && s != "null" && s != `"false"`
}

func columnsWhere(n *Node, pred func(*Column) bool) []string {
	var out []string
	for i := range n.Columns {
		if pred(&n.Columns[i]) {
			out = append(out, n.Columns[i].Name)
		}
	}
	return out
}

// declared finds a declared column by name, ignoring case and quotes.
func declared(n *Node, name string) (string, bool) {
	name = unquoteIdent(name)
	for _, c := range n.Columns {
		if strings.EqualFold(unquoteIdent(c.Name), name) {
			return c.Name, true
		}
	}
	return "", false
}

func pkFromTests(tests []*Test, n *Node) (PrimaryKey, bool) {
	notNull := map[string]bool{}
	var single, expr, combo []*Test
	for _, t := range tests {
		isDBT := t.Namespace == "" || t.Namespace == "dbt"
		switch {
		case t.TestName == "not_null" && isDBT:
			if c, ok := plainIdent(t.ColumnName); ok {
				notNull[strings.ToLower(c)] = true
			}
		case t.TestName == "unique" && isDBT && t.ColumnName != "":
			if _, ok := plainIdent(t.ColumnName); ok {
				single = append(single, t)
			} else {
				expr = append(expr, t)
			}
		case t.TestName == "unique_combination_of_columns" && len(t.Combination) > 0:
			combo = append(combo, t)
		}
	}
	if len(single) > 0 {
		return pickSingleUnique(single, notNull, n), true
	}
	slices.SortFunc(expr, func(a, b *Test) int { return strings.Compare(a.UniqueID, b.UniqueID) })
	for _, t := range expr {
		if cols := identifiersIn(t.ColumnName, n); len(cols) > 0 {
			return PrimaryKey{Columns: cols, Rule: RuleUniqueExpression}, true
		}
	}
	if len(combo) > 0 {
		slices.SortFunc(combo, func(a, b *Test) int {
			if d := len(a.Combination) - len(b.Combination); d != 0 {
				return d
			}
			return strings.Compare(a.UniqueID, b.UniqueID)
		})
		cols := make([]string, len(combo[0].Combination))
		for i, c := range combo[0].Combination {
			if d, ok := declared(n, c); ok {
				cols[i] = d
			} else {
				cols[i] = c
			}
		}
		pk := PrimaryKey{Columns: cols, Rule: RuleUniqueCombination}
		if len(combo) > 1 {
			pk.Note = fmt.Sprintf("%d unique_combination_of_columns tests; using the one with the fewest columns", len(combo))
		}
		return pk, true
	}
	return PrimaryKey{}, false
}

// pickSingleUnique chooses one of several single-column unique tests: each
// proves one column unique, not that the columns together are the grain, so
// they never make a composite key. A column also tested not_null wins, then
// the column declared first, then the name.
func pickSingleUnique(tests []*Test, notNull map[string]bool, n *Node) PrimaryKey {
	type cand struct {
		col     string
		notNull bool
		pos     int
	}
	seen := map[string]bool{}
	var cs []cand
	for _, t := range tests {
		c, _ := plainIdent(t.ColumnName)
		if d, ok := declared(n, c); ok {
			c = d
		}
		if seen[strings.ToLower(c)] {
			continue
		}
		seen[strings.ToLower(c)] = true
		pos := len(n.Columns)
		for i, col := range n.Columns {
			if strings.EqualFold(unquoteIdent(col.Name), unquoteIdent(c)) {
				pos = i
				break
			}
		}
		cs = append(cs, cand{col: c, notNull: notNull[strings.ToLower(unquoteIdent(c))], pos: pos})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.notNull != b.notNull {
			if a.notNull {
				return -1
			}
			return 1
		}
		if a.pos != b.pos {
			return a.pos - b.pos
		}
		return strings.Compare(a.col, b.col)
	})
	pk := PrimaryKey{Columns: []string{cs[0].col}, Rule: RuleUniqueTest}
	if len(cs) > 1 {
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = c.col
		}
		why := "declared first"
		switch {
		case cs[0].notNull && !cs[1].notNull:
			why = "also tested not_null"
		case cs[0].pos == cs[1].pos:
			why = "first by name"
		}
		pk.Note = fmt.Sprintf("unique tests on %s each make one column unique, not a composite key; using `%s` (%s)", joinQuoted(names), cs[0].col, why)
	}
	return pk
}

func pkFromUniqueKey(n *Node) (PrimaryKey, bool) {
	if len(n.uniqueKey) == 0 {
		return PrimaryKey{}, false
	}
	var cols []string
	var list []string
	var one string
	switch {
	case json.Unmarshal(n.uniqueKey, &list) == nil:
		for _, c := range list {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
	case json.Unmarshal(n.uniqueKey, &one) == nil:
		if c, ok := plainIdent(one); ok {
			cols = []string{c}
		} else if strings.Contains(one, ",") && !strings.Contains(one, "(") {
			cols = splitTrim(one, ",")
		} else {
			cols = identifiersIn(one, n)
		}
	}
	if len(cols) == 0 {
		return PrimaryKey{}, false
	}
	for i, c := range cols {
		if d, ok := declared(n, c); ok {
			cols[i] = d
		}
	}
	return PrimaryKey{Columns: cols, Rule: RuleUniqueKey}, true
}

func pkFromConstraints(n *Node) (PrimaryKey, bool) {
	for _, c := range n.Constraints {
		if c.Type == "primary_key" && len(c.Columns) > 0 {
			cols := slices.Clone(c.Columns)
			for i, col := range cols {
				if d, ok := declared(n, col); ok {
					cols[i] = d
				}
			}
			return PrimaryKey{Columns: cols, Rule: RuleConstraint}, true
		}
	}
	cols := columnsWhere(n, func(c *Column) bool {
		for _, k := range c.Constraints {
			if k.Type == "primary_key" {
				return true
			}
		}
		return false
	})
	if len(cols) > 0 {
		return PrimaryKey{Columns: cols, Rule: RuleConstraint}, true
	}
	return PrimaryKey{}, false
}

func pkFromNames(n *Node) (PrimaryKey, bool) {
	for _, try := range []struct{ name, rule string }{
		{"id", RuleColumnID}, {"pk", RuleColumnPK}, {"pkey", RuleColumnPKey}, {n.Name + "_id", RuleColumnModelID},
	} {
		if c, ok := declared(n, try.name); ok {
			return PrimaryKey{Columns: []string{c}, Rule: try.rule}, true
		}
	}
	return PrimaryKey{}, false
}

// plainIdent reports whether s is one column name (possibly quoted) and
// returns it unquoted.
func plainIdent(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	if u := unquoteIdent(s); u != s {
		return u, true
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && ((r >= '0' && r <= '9') || r == '$')) {
			continue
		}
		return "", false
	}
	return s, true
}

func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 {
		switch {
		case s[0] == '"' && s[len(s)-1] == '"', s[0] == '`' && s[len(s)-1] == '`', s[0] == '[' && s[len(s)-1] == ']':
			inner := s[1 : len(s)-1]
			if !strings.ContainsAny(inner, "\"`[]") {
				return inner
			}
		}
	}
	return s
}

// identifiersIn returns the declared columns an SQL expression names, in the
// order it names them: "a || '-' || b" and "concat(a, b)" give [a b]. String
// literals and function names are not columns, so only declared columns
// count.
func identifiersIn(expr string, n *Node) []string {
	var out []string
	seen := map[string]bool{}
	add := func(word string) {
		if d, ok := declared(n, word); ok && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(expr) {
				if expr[j] == '\'' {
					if j+1 < len(expr) && expr[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
		case c == '"' || c == '`':
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				return out
			}
			add(expr[i+1 : i+1+j])
			i += j + 2
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i
			for j < len(expr) && (expr[j] == '_' || expr[j] == '$' || (expr[j]|0x20 >= 'a' && expr[j]|0x20 <= 'z') || (expr[j] >= '0' && expr[j] <= '9')) {
				j++
			}
			// a.b: the last part is the column
			word := expr[i:j]
			if j < len(expr) && expr[j] == '.' {
				i = j + 1
				continue
			}
			add(word)
			i = j
		default:
			i++
		}
	}
	return out
}

func splitTrim(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}
