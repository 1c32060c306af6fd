package datadiff

import (
	"fmt"
	"strings"
)

// checkFragment checks that s, which the engine will place inside
// parentheses of its own statements, cannot end those parentheses or the
// statement: no statement separator outside literals and comments,
// balanced parentheses, every literal and comment closed. It is the first
// of several guards (the database's single-statement rules and read-only
// transactions are the others) and gives a clear message early.
func checkFragment(s string, lx Lexical) error {
	depth := 0
	i := 0
	n := len(s)
	for i < n {
		c := s[i]
		switch {
		case c == '\'':
			end, ok := skipQuoted(s, i, '\'', lx.BackslashEscapes || (lx.EscapeStrings && i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i == 1 || !isIdentByte(s[i-2]))))
			if !ok {
				return fmt.Errorf("unterminated string literal")
			}
			i = end
			continue
		case c == '"':
			end, ok := skipQuoted(s, i, '"', lx.DoubleQuoteStrings && lx.BackslashEscapes)
			if !ok {
				return fmt.Errorf("unterminated quoted name")
			}
			i = end
			continue
		case c == '`' && lx.Backticks:
			end, ok := skipQuoted(s, i, '`', false)
			if !ok {
				return fmt.Errorf("unterminated quoted name")
			}
			i = end
			continue
		case c == '$' && lx.DollarQuotes:
			if tag, ok := dollarTag(s, i); ok {
				j := strings.Index(s[i+len(tag):], tag)
				if j < 0 {
					return fmt.Errorf("unterminated dollar-quoted string")
				}
				i += len(tag) + j + len(tag)
				continue
			}
		case c == '-' && i+1 < n && s[i+1] == '-':
			if !lx.DashCommentNeedsSpace || i+2 >= n || isSpace(s[i+2]) {
				i = lineEnd(s, i)
				continue
			}
		case c == '#' && lx.HashComments:
			i = lineEnd(s, i)
			continue
		case c == '/' && i+1 < n && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return fmt.Errorf("unterminated comment")
			}
			i += 2 + j + 2
			continue
		case c == ';':
			return fmt.Errorf("contains a statement separator ';': only one condition is allowed")
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("has a ')' without a matching '('")
			}
		}
		i++
	}
	if depth != 0 {
		return fmt.Errorf("has a '(' without a matching ')'")
	}
	return nil
}

// skipQuoted returns the index after the literal that starts at s[i] with
// quote q; a doubled quote stands for itself.
func skipQuoted(s string, i int, q byte, backslash bool) (int, bool) {
	j := i + 1
	for j < len(s) {
		switch {
		case backslash && s[j] == '\\':
			j += 2
			continue
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j += 2
				continue
			}
			return j + 1, true
		}
		j++
	}
	return 0, false
}

// dollarTag returns the $tag$ that starts at s[i], if one does.
func dollarTag(s string, i int) (string, bool) {
	if i > 0 && isIdentByte(s[i-1]) {
		return "", false // part of an identifier such as a$b
	}
	j := i + 1
	for j < len(s) && s[j] != '$' {
		c := s[j]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > i+1 && c >= '0' && c <= '9' || c >= 0x80) {
			return "", false
		}
		j++
	}
	if j >= len(s) {
		return "", false
	}
	return s[i : j+1], true
}

func lineEnd(s string, i int) int {
	j := strings.IndexByte(s[i:], '\n')
	if j < 0 {
		return len(s)
	}
	return i + j + 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// trimQuery removes white space and trailing semicolons from a query
// side, so that "select 1;" can be used as a subquery.
func trimQuery(q string) string {
	q = strings.TrimSpace(q)
	for strings.HasSuffix(q, ";") {
		q = strings.TrimSpace(strings.TrimSuffix(q, ";"))
	}
	return q
}
