package datadiff

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRelation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Relation
		err  bool
	}{
		{in: "orders", want: Relation{Identifier: "orders"}},
		{in: "analytics.orders", want: Relation{Schema: "analytics", Identifier: "orders"}},
		{in: "db.analytics.Orders", want: Relation{Database: "db", Schema: "analytics", Identifier: "Orders"}},
		{in: `"My Schema"."Order ""Items"".v2"`, want: Relation{Schema: "My Schema", Identifier: `Order "Items".v2`, Quoting: Quoting{Schema: true, Identifier: true}}},
		{in: `analytics."select"`, want: Relation{Schema: "analytics", Identifier: "select", Quoting: Quoting{Identifier: true}}},
		{in: "", err: true},
		{in: "a..b", err: true},
		{in: "a.b.c.d", err: true},
		{in: `"unterminated`, err: true},
		{in: `"a"b`, err: true},
		{in: `a"b`, err: true},
	} {
		got, err := ParseRelation(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadSpec) {
				t.Errorf("ParseRelation(%q) error = %v, want ErrBadSpec", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRelation(%q): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ParseRelation(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestParseTolerance(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  Tolerance
		label string
		err   bool
	}{
		{in: "0.01", want: Tolerance{Abs: 0.01}, label: "abs 0.01"},
		{in: "1e-9", want: Tolerance{Abs: 1e-9}, label: "abs 1e-09"},
		{in: "0.1%", want: Tolerance{Rel: 0.001}, label: "rel 0.1%"},
		{in: " 2 % ", want: Tolerance{Rel: 0.02}, label: "rel 2%"},
		{in: "-1", err: true},
		{in: "NaN", err: true},
		{in: "lots", err: true},
		{in: "", err: true},
	} {
		got, err := ParseTolerance(tc.in)
		if tc.err {
			if !errors.Is(err, ErrBadSpec) {
				t.Errorf("ParseTolerance(%q) error = %v, want ErrBadSpec", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.label {
			t.Errorf("ParseTolerance(%q) = %+v %q, %v; want %+v %q", tc.in, got, got.String(), err, tc.want, tc.label)
		}
	}
}

func TestErrorCodesAndHints(t *testing.T) {
	e := &Error{Kind: ErrPermissionDenied, Side: "PR", Relation: "pr.orders", Msg: "permission denied on the PR side (pr.orders)", Err: errors.New("denied")}
	if !errors.Is(e, ErrPermissionDenied) || Code(e) != CodePermissionDenied || Hint(e) == "" {
		t.Errorf("code %q hint %q", Code(e), Hint(e))
	}
	if got := e.Error(); !strings.Contains(got, "pr.orders") || !strings.Contains(got, "denied") {
		t.Errorf("message %q", got)
	}
	if Code(errors.New("x")) != CodeInternal || Code(nil) != "" {
		t.Error("codes of plain errors")
	}
}

// The root package is imported by packages that must not link cgo or
// database drivers (the wire contract); it must stay free of them.
func TestRootImportsNoDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"duckdb", "jackc/pgx", "go-sql-driver"} {
			if strings.Contains(dep, banned) {
				t.Errorf("datadiff depends on %s", dep)
			}
		}
	}
}
