package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
)

// mdName is a model name as the comment writes it in Markdown.
func mdName(s string) string { return strings.ReplaceAll(s, "_", `\_`) }

// grouped writes n with thousands separators and a real minus sign.
func grouped(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "−", -n
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

func signed(prefix string, n int64) string {
	if n == 0 {
		return "0"
	}
	return prefix + grouped(n)
}

// rate writes a column's match rate as the comment does, for rates that
// are neither 0 nor 1 nor within 0.005% of them.
func rate(mismatches, matched int64) string {
	if mismatches == matched {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", 100*(1-float64(mismatches)/float64(matched)))
}

// section is the part of the comment about one model: from its heading to
// the next one.
func section(md, name string) string {
	head := "##### <code>" + mdName(name) + "</code>"
	i := strings.Index(md, head)
	if i < 0 {
		return ""
	}
	s := md[i+len(head):]
	if j := strings.Index(s, "#####"); j >= 0 {
		s = s[:j]
	}
	return s
}

// checkComment holds the comment's figures against what the generated
// tables say: every model that differs has its table with the right
// counts, and those that do not are listed as without differences.
func checkComment(t *testing.T, md string, figures []sandbox.Figures) {
	t.Helper()
	differ := 0
	for _, f := range figures {
		if !f.Differs() {
			if !strings.Contains(md, "**No differences**") || !strings.Contains(md, "<code>"+mdName(f.Model)+"</code>") {
				t.Errorf("%s has no differences but the comment does not say so", f.Model)
			}
			if section(md, f.Model) != "" {
				t.Errorf("%s has no differences but has a table of them", f.Model)
			}
			continue
		}
		differ++
		s := section(md, f.Model)
		if s == "" {
			t.Errorf("the comment has no section for %s:\n%s", f.Model, md)
			continue
		}
		want := []string{
			fmt.Sprintf("| Rows | %s | %s |", grouped(f.ProdRows), grouped(f.PRRows)),
			fmt.Sprintf("| Rows added · removed · changed | | | %s · %s · %s |", signed("+", f.Added), signed("−", f.Removed), grouped(f.Changed)),
			fmt.Sprintf("| Rows with a NULL key | %s | %s |", grouped(f.ProdKeyNulls), grouped(f.PRKeyNulls)),
			fmt.Sprintf("| Rows with a duplicate key | %s | %s |", grouped(f.ProdDuplicateRows), grouped(f.PRDuplicateRows)),
			"key <code>" + mdName(f.Key) + "</code>",
		}
		for col, n := range f.Mismatches {
			if n > 0 {
				want = append(want, fmt.Sprintf("<code>%s</code> %s", mdName(col), rate(n, f.Changed+f.Unchanged)))
			}
		}
		for _, c := range f.ColumnsAdded {
			want = append(want, "added <code>"+mdName(c)+"</code>")
		}
		for _, c := range f.ColumnsRemoved {
			want = append(want, "removed <code>"+mdName(c)+"</code>")
		}
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: the comment lacks %q; its section:\n%s", f.Model, w, s)
			}
		}
	}
	if title := fmt.Sprintf("%d of %d models differ", differ, len(figures)); !strings.Contains(md, title) {
		t.Errorf("the comment does not say %q:\n%s", title, md)
	}
}
