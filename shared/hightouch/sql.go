package hightouch

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a SQL token.
type tokKind int

const (
	tkSpace   tokKind = iota
	tkComment         // -- … or /* … */
	tkString          // '…' or $tag$…$tag$
	tkWord            // unquoted identifier or keyword
	tkQuoted          // "…" or `…`
	tkNumber
	tkPunct
)

type token struct {
	kind       tokKind
	start, end int // byte offsets in the SQL
}

// lex splits SQL into tokens. It knows the quoting rules that matter for
// finding relation names: strings, comments (nested block comments too),
// double-quoted and backtick identifiers, dollar-quoted bodies. Anything
// else is a word, a number or one punctuation character. It never fails:
// an unterminated string or comment runs to the end.
func lex(sql string) []token {
	var toks []token
	i := 0
	for i < len(sql) {
		start := i
		c := sql[i]
		r, size := utf8.DecodeRuneInString(sql[i:])
		switch {
		case unicode.IsSpace(r):
			for i < len(sql) {
				r, n := utf8.DecodeRuneInString(sql[i:])
				if !unicode.IsSpace(r) {
					break
				}
				i += n
			}
			toks = append(toks, token{tkSpace, start, i})
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sql)
			}
			toks = append(toks, token{tkComment, start, i})
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			depth := 0
			for i < len(sql) {
				if strings.HasPrefix(sql[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(sql[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			toks = append(toks, token{tkComment, start, i})
		case c == '\'':
			i = closeQuote(sql, i, '\'')
			toks = append(toks, token{tkString, start, i})
		case c == '"' || c == '`':
			i = closeQuote(sql, i, c)
			toks = append(toks, token{tkQuoted, start, i})
		case c == '$' && dollarTag(sql[i:]) != "":
			tag := dollarTag(sql[i:])
			if j := strings.Index(sql[i+len(tag):], tag); j >= 0 {
				i += len(tag) + j + len(tag)
			} else {
				i = len(sql)
			}
			toks = append(toks, token{tkString, start, i})
		case r == '_' || unicode.IsLetter(r):
			i += size
			for i < len(sql) {
				r, n := utf8.DecodeRuneInString(sql[i:])
				if r != '_' && r != '$' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				i += n
			}
			toks = append(toks, token{tkWord, start, i})
		case c >= '0' && c <= '9':
			for i < len(sql) && (sql[i] >= '0' && sql[i] <= '9' || sql[i] == '.' || sql[i] == 'e' || sql[i] == 'E') {
				i++
			}
			toks = append(toks, token{tkNumber, start, i})
		default:
			i += size
			toks = append(toks, token{tkPunct, start, i})
		}
	}
	return toks
}

// closeQuote returns the offset after the quote that closes the one at
// i; a doubled quote is an escaped one.
func closeQuote(s string, i int, q byte) int {
	i++
	for i < len(s) {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(s)
}

// dollarTag returns the opening tag ($$ or $name$) at the start of s, or "".
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1]
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return ""
}

// Ref is a relation name found after FROM or JOIN.
type Ref struct {
	// Parts are the name's parts, unquoted: [table], [schema table] or
	// [database schema table].
	Parts []string
	// Start and End delimit the name in the SQL (bytes), for substitution.
	Start, End int
}

// String joins the parts with dots, for messages.
func (r Ref) String() string { return strings.Join(r.Parts, ".") }

// keywords that end a FROM item: after a relation name, a word that is
// not one of these is its alias.
var clauseWords = map[string]bool{
	"WHERE": true, "GROUP": true, "ORDER": true, "HAVING": true, "LIMIT": true, "JOIN": true, "INNER": true,
	"LEFT": true, "RIGHT": true, "FULL": true, "OUTER": true, "CROSS": true, "NATURAL": true, "ON": true,
	"USING": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "MINUS": true, "WINDOW": true,
	"QUALIFY": true, "OFFSET": true, "FETCH": true, "FOR": true, "LATERAL": true, "TABLESAMPLE": true,
	"AT": true, "BEFORE": true, "CHANGES": true, "PIVOT": true, "UNPIVOT": true, "SAMPLE": true,
	"MATCH_RECOGNIZE": true, "CONNECT": true, "START": true, "RETURNING": true, "SET": true, "VALUES": true,
	"WITH": true, "SELECT": true, "FROM": true, "INTO": true, "ASOF": true, "ANTI": true, "SEMI": true,
	"POSITIONAL": true, "FINAL": true, "PREWHERE": true, "STRAIGHT_JOIN": true, "USE": true, "IGNORE": true,
	"FORCE": true, "PARTITION": true,
}

// scanner walks the significant tokens (no spaces or comments).
type scanner struct {
	sql  string
	toks []token
}

func (s *scanner) text(i int) string { return s.sql[s.toks[i].start:s.toks[i].end] }

func (s *scanner) upper(i int) string {
	if i < 0 || i >= len(s.toks) || s.toks[i].kind != tkWord {
		return ""
	}
	return strings.ToUpper(s.text(i))
}

func (s *scanner) punct(i int, p string) bool {
	return i < len(s.toks) && s.toks[i].kind == tkPunct && s.text(i) == p
}

// skipParens returns the index after the parenthesis group opening at i.
func (s *scanner) skipParens(i int) int {
	depth := 0
	for ; i < len(s.toks); i++ {
		if s.punct(i, "(") {
			depth++
		} else if s.punct(i, ")") {
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

// name parses a possibly qualified name at i. ok is false when i does not
// start a name.
func (s *scanner) name(i int) (parts []string, start, end, next int, ok bool) {
	if i >= len(s.toks) {
		return nil, 0, 0, i, false
	}
	start = s.toks[i].start
	for {
		if i >= len(s.toks) {
			return nil, 0, 0, i, false
		}
		switch s.toks[i].kind {
		case tkWord:
			parts = append(parts, s.text(i))
		case tkQuoted:
			t := s.text(i)
			q := t[0]
			inner := t[1:]
			if len(inner) > 0 && inner[len(inner)-1] == q {
				inner = inner[:len(inner)-1]
			}
			inner = strings.ReplaceAll(inner, string([]byte{q, q}), string(q))
			if q == '`' {
				// BigQuery writes `project.dataset.table` as one quoted name.
				parts = append(parts, strings.Split(inner, ".")...)
			} else {
				parts = append(parts, inner)
			}
		default:
			return nil, 0, 0, i, false
		}
		end = s.toks[i].end
		i++
		if !s.punct(i, ".") {
			return parts, start, end, i, true
		}
		i++
	}
}

// fromItem parses one FROM item at i: a relation name with its alias, a
// parenthesised subquery, or a table function. It returns the reference
// (if the item is a relation) and the index after the item.
func (s *scanner) fromItem(i int) (*Ref, int) {
	for s.upper(i) == "ONLY" || s.upper(i) == "LATERAL" {
		i++
	}
	var ref *Ref
	if s.punct(i, "(") {
		i = s.skipParens(i)
	} else {
		if kw := s.upper(i); kw != "" && clauseWords[kw] {
			return nil, i
		}
		parts, start, end, next, ok := s.name(i)
		if !ok {
			return nil, i
		}
		i = next
		if s.punct(i, "(") { // a table function such as generate_series(…)
			i = s.skipParens(i)
		} else if len(parts) > 0 {
			ref = &Ref{Parts: parts, Start: start, End: end}
		}
	}
	// Optional alias, with optional column list.
	if s.upper(i) == "AS" {
		i++
	}
	if i < len(s.toks) && (s.toks[i].kind == tkQuoted || s.toks[i].kind == tkWord && !clauseWords[s.upper(i)]) {
		i++
		if s.punct(i, "(") {
			i = s.skipParens(i)
		}
	}
	return ref, i
}

// Refs returns the relation names the SQL reads: every name after FROM
// (and after the commas of a FROM list) or JOIN at query level, in order,
// without the names of its common table expressions. FROM inside function
// calls (EXTRACT(… FROM …)) and IS DISTINCT FROM are not relations.
func Refs(sql string) []Ref {
	var toks []token
	for _, t := range lex(sql) {
		if t.kind != tkSpace && t.kind != tkComment {
			toks = append(toks, t)
		}
	}
	s := &scanner{sql: sql, toks: toks}

	// Common table expressions: name [(cols)] AS [NOT] [MATERIALIZED] (.
	ctes := map[string]bool{}
	for i := range toks {
		if toks[i].kind != tkWord && toks[i].kind != tkQuoted {
			continue
		}
		j := i + 1
		if s.punct(j, "(") {
			j = s.skipParens(j)
		}
		if s.upper(j) != "AS" {
			continue
		}
		j++
		if s.upper(j) == "NOT" {
			j++
		}
		if s.upper(j) == "MATERIALIZED" {
			j++
		}
		if s.punct(j, "(") {
			if parts, _, _, _, ok := s.name(i); ok && len(parts) == 1 {
				ctes[strings.ToLower(parts[0])] = true
			}
		}
	}

	// query[d] says whether parenthesis level d holds a query (its first
	// token is SELECT or WITH) rather than a function's arguments.
	query := []bool{true}
	decided := []bool{true}
	var refs []Ref
	add := func(r *Ref) {
		if r == nil || len(r.Parts) == 1 && ctes[strings.ToLower(r.Parts[0])] {
			return
		}
		refs = append(refs, *r)
	}
	for i := 0; i < len(toks); i++ {
		d := len(query) - 1
		if !decided[d] {
			decided[d] = true
			query[d] = s.upper(i) == "SELECT" || s.upper(i) == "WITH"
		}
		switch {
		case s.punct(i, "("):
			query = append(query, false)
			decided = append(decided, false)
		case s.punct(i, ")"):
			if len(query) > 1 {
				query, decided = query[:d], decided[:d]
			}
		case !query[d]:
		case s.upper(i) == "FROM" && s.upper(i-1) != "DISTINCT":
			j := i + 1
			for {
				ref, next := s.fromItem(j)
				add(ref)
				if !s.punct(next, ",") || next == j {
					break
				}
				j = next + 1
			}
		case s.upper(i) == "JOIN":
			ref, _ := s.fromItem(i + 1)
			add(ref)
		}
	}
	return refs
}

// replacement is a byte span of the SQL and what to put there.
type replacement struct {
	start, end int
	text       string
}

// substitute applies non-overlapping replacements.
func substitute(sql string, reps []replacement) string {
	sort.Slice(reps, func(i, j int) bool { return reps[i].start < reps[j].start })
	var b strings.Builder
	last := 0
	for _, r := range reps {
		if r.start < last {
			continue
		}
		b.WriteString(sql[last:r.start])
		b.WriteString(r.text)
		last = r.end
	}
	b.WriteString(sql[last:])
	return b.String()
}
