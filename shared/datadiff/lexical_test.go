package datadiff

import (
	"strings"
	"testing"
)

func TestCheckFragment(t *testing.T) {
	pg := Lexical{DollarQuotes: true, EscapeStrings: true}
	my := Lexical{BackslashEscapes: true, DoubleQuoteStrings: true, Backticks: true, HashComments: true, DashCommentNeedsSpace: true}
	for _, tc := range []struct {
		name    string
		lx      Lexical
		filter  string
		wantErr string // "" for accepted
	}{
		{"plain", pg, "amount > 0 AND status IN ('a', 'b')", ""},
		{"separator", pg, "1=1; DROP TABLE x", "';'"},
		{"separator in string", pg, "note = 'a;b'", ""},
		{"doubled quote", pg, "note = 'it''s; fine'", ""},
		{"separator in quoted name", pg, `"we;ird" = 1`, ""},
		{"closing parenthesis", pg, "1=1) OR (1=1", "')'"},
		{"opening parenthesis", pg, "(1=1", "'('"},
		{"parenthesis in string", pg, "note = ')'", ""},
		{"unterminated string", pg, "note = 'x", "unterminated string"},
		{"unterminated comment", pg, "1=1 /* x", "unterminated comment"},
		{"closed comment", pg, "1=1 /* ; ) */", ""},
		{"line comment", pg, "1=1 -- ; )", ""},
		{"separator after line comment", pg, "1=1 -- c\n; DROP TABLE x", "';'"},
		{"dollar quote", pg, "note = $$a;b)$$", ""},
		{"tagged dollar quote", pg, "note = $t$a;$$b$t$", ""},
		{"unterminated dollar quote", pg, "note = $t$a;", "unterminated dollar"},
		{"escape string", pg, `note = E'a\';b'`, ""},
		{"escape string hides nothing", pg, `note = E'a\'; DROP TABLE x`, "unterminated string"},
		{"standard string backslash", pg, `note = 'a\'; DROP TABLE x; --'`, "';'"},
		{"mysql backslash", my, `note = 'a\'; DROP TABLE x; --'`, ""},
		{"mysql double-quoted string", my, `note = "x\"; DROP"`, ""},
		{"mysql hash comment", my, "1=1 # ; )", ""},
		{"mysql dashes without space", my, "1=1 --1; DROP TABLE x", "';'"},
		{"mysql backticks", my, "`a;b` = 1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkFragment(tc.filter, tc.lx)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("accepted, want an error about %s", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q does not mention %s", err, tc.wantErr)
			}
		})
	}
}

func TestTrimQuery(t *testing.T) {
	if got := trimQuery("  select 1 ;; \n"); got != "select 1" {
		t.Errorf("trimQuery = %q", got)
	}
}
