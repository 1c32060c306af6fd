package report

import (
	"html"
	"net/url"
	"strconv"
	"strings"
)

// Text escapes s for Markdown prose and table cells on GitHub and GitLab:
// every character Markdown could read as syntax (emphasis, code, links,
// tables, HTML, math) is escaped and line breaks are folded, so a model
// name or an error message can neither break a table nor inject markup or
// an HTML comment that would hide the sticky marker.
func Text(s string) string { return escapeText(oneLine(s)) }

func escapeText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '[', ']', '|', '~', '$', '#', '!', '{', '}', '^':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '@':
			// A word joiner after "@" keeps a name from becoming a
			// mention that notifies someone.
			b.WriteString("@\u2060")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Prose escapes a sentence of diffgate's own wording that quotes values in
// backticks ("tag a column `primary-key`"): quoted parts become inline
// code, everything else is Text. Unbalanced backticks are shown as they
// are.
func Prose(s string) string {
	s = oneLine(s)
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 {
		return Text(s)
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("<code>" + escapeText(p) + "</code>")
		} else {
			b.WriteString(escapeText(p))
		}
	}
	return b.String()
}

// Code writes s as inline code. An HTML <code> element rather than
// backticks: its content can be escaped like any text (a name may itself
// contain backticks or pipes), and neither GitHub nor GitLab turns an
// @mention or a #reference inside it into a link or a notification.
func Code(s string) string { return "<code>" + Text(s) + "</code>" }

// htmlText escapes s for raw HTML inside Markdown, such as a <summary>.
func htmlText(s string) string { return html.EscapeString(oneLine(s)) }

// SafeURL returns u fit for a Markdown link destination, or "" when it is
// not an absolute http(s) URL. Characters that would end the destination
// or a table cell are percent-encoded.
func SafeURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	s := p.String()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '(', ')', '<', '>', '"', '\'', '`', '|', '\\':
			b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c), 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// link writes [text](url) with text escaped; without a usable URL, the
// text alone.
func link(text, u string) string {
	su := SafeURL(u)
	if su == "" {
		return text
	}
	return "[" + text + "](" + su + ")"
}

// mermaidText escapes a Mermaid node label: anything but letters, digits
// and a few harmless signs becomes an entity code (#35; and the like), so
// a label can close neither its quotes, its node nor the code fence.
func mermaidText(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == ' ', r == '.', r == '_', r == '-', r == ',', r == ':', r == '/':
			b.WriteRune(r)
		default:
			b.WriteString("#" + strconv.Itoa(int(r)) + ";")
		}
	}
	return b.String()
}
