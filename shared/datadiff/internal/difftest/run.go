package difftest

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Build creates every fixture table (the suite's and the large ones).
func Build(t *testing.T, env *Env) {
	t.Helper()
	ctx := context.Background()
	tables := Tables()
	for name, tb := range LargeTables() {
		tables[name] = tb
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := Create(ctx, env, n, tables[n]); err != nil {
			t.Fatalf("create fixture %s: %v", n, err)
		}
	}
	if env.Ready != nil {
		env.Ready(t)
	}
}

// Run builds the fixtures and runs every case with every join strategy.
func Run(t *testing.T, env *Env) {
	Build(t, env)
	for _, strat := range env.Strategies {
		name := map[datadiff.JoinStrategy]string{datadiff.JoinAuto: "auto", datadiff.JoinFull: "full", datadiff.JoinLeftAnti: "left_anti"}[strat]
		t.Run(name, func(t *testing.T) {
			src := env.Source(t, datadiff.Options{Join: strat, MaxConcurrency: 3})
			env.dialect = src.Dialect()
			for _, c := range append(Cases(), LargeCases()...) {
				t.Run(c.Name, func(t *testing.T) {
					res, err := src.Diff(t.Context(), c.Spec(env))
					Check(t, c.Want, res, err)
				})
			}
		})
	}
}

// Check compares a result with what a case wants.
func Check(t *testing.T, w Want, res *datadiff.Result, err error) {
	t.Helper()
	if w.Err != nil {
		if !errors.Is(err, w.Err) {
			t.Fatalf("error = %v, want %v", err, w.Err)
		}
		if datadiff.Code(err) == datadiff.CodeInternal || err.Error() == "" {
			t.Errorf("error %v has no useful code or message", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	type counts struct {
		Status                             datadiff.Status
		Key                                []string
		Prod, PR                           datadiff.SideStats
		Added, Removed, Changed, Unchanged int64
	}
	got := counts{res.Status, res.Key, res.Prod, res.PR, res.Added, res.Removed, res.Changed, res.Unchanged}
	want := counts{w.Status, w.Key, w.Prod, w.PR, w.Added, w.Removed, w.Changed, w.Unchanged}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("counts (-want +got):\n%s\nqueries:\n%s", d, strings.Join(res.Queries, "\n---\n"))
	}
	gotM := map[string]int64{}
	for _, c := range res.Columns {
		gotM[c.Name] = c.Mismatches
		matched := res.Changed + res.Unchanged
		rate := 1.0
		if matched > 0 {
			rate = 1 - float64(c.Mismatches)/float64(matched)
		}
		if c.MatchRate != rate {
			t.Errorf("column %s: match rate %v, want %v", c.Name, c.MatchRate, rate)
		}
	}
	if d := cmp.Diff(w.Mismatches, gotM, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("mismatches per column (-want +got):\n%s", d)
	}
	if w.Tolerance != nil {
		gotT := map[string]string{}
		for _, c := range res.Columns {
			gotT[c.Name] = c.Tolerance
		}
		if d := cmp.Diff(w.Tolerance, gotT); d != "" {
			t.Errorf("tolerances (-want +got):\n%s", d)
		}
	}
	names := func(cols []datadiff.Column) []string {
		var out []string
		for _, c := range cols {
			out = append(out, c.Name)
		}
		return out
	}
	if d := cmp.Diff(w.SchemaAdded, names(res.Schema.Added), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("added columns (-want +got):\n%s", d)
	}
	if d := cmp.Diff(w.SchemaRemoved, names(res.Schema.Removed), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("removed columns (-want +got):\n%s", d)
	}
	if w.TypeChanged != nil {
		gotTC := map[string]bool{}
		for _, tc := range res.Schema.TypeChanged {
			gotTC[tc.Name] = tc.Compared
			if tc.ProdType == "" || tc.PRType == "" || strings.EqualFold(tc.ProdType, tc.PRType) {
				t.Errorf("type change %s: %q → %q", tc.Name, tc.ProdType, tc.PRType)
			}
		}
		if d := cmp.Diff(w.TypeChanged, gotTC, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("type changes (-want +got):\n%s", d)
		}
	}
	if w.NotCompared != nil {
		gotNC := map[string]string{}
		for _, nc := range res.Schema.NotCompared {
			gotNC[nc.Name] = nc.Reason
		}
		for name, prefix := range w.NotCompared {
			if !strings.HasPrefix(gotNC[name], prefix) {
				t.Errorf("column %s: not-compared reason %q, want it to start with %q", name, gotNC[name], prefix)
			}
		}
		if len(gotNC) != len(w.NotCompared) {
			t.Errorf("not compared: %v, want %v", gotNC, w.NotCompared)
		}
	}
	for _, c := range w.Caveats {
		found := false
		for _, g := range res.Caveats {
			if strings.Contains(g, c) {
				found = true
			}
		}
		if !found {
			t.Errorf("no caveat contains %q; caveats: %q", c, res.Caveats)
		}
	}
	if w.SamplesOff != "" && res.SamplesOff != w.SamplesOff {
		t.Errorf("samples off = %q, want %q", res.SamplesOff, w.SamplesOff)
	}
	if w.SamplesOff != "" && res.Samples != nil {
		t.Errorf("samples present although off")
	}
	if w.NoSamplesChecked || w.SamplesOff != "" || w.Status != datadiff.StatusDiffed {
		return
	}
	checkSamples(t, w, res)
}

func checkSamples(t *testing.T, w Want, res *datadiff.Result) {
	t.Helper()
	s := res.Samples
	if s == nil {
		if w.SampleChanged != nil || w.SampleProdOnly != nil || w.SamplePROnly != nil {
			t.Fatalf("no samples; samples_off %q", res.SamplesOff)
		}
		return
	}
	nk := len(res.Key)
	wantCols := append([]string{}, res.Key...)
	for _, c := range res.Columns {
		wantCols = append(wantCols, c.Name)
	}
	if d := cmp.Diff(wantCols, s.Columns); d != "" {
		t.Errorf("sample columns (-want +got):\n%s", d)
	}
	key := func(r datadiff.Row) string {
		parts := make([]string, nk)
		for i := 0; i < nk; i++ {
			if r[i] == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = *r[i]
			}
		}
		return strings.Join(parts, "|")
	}
	if w.SampleChangedN > 0 && len(s.Changed) != w.SampleChangedN {
		t.Errorf("%d changed rows sampled, want %d", len(s.Changed), w.SampleChangedN)
	}
	if w.SampleChanged != nil {
		got := map[string][]string{}
		for _, ch := range s.Changed {
			if len(ch.Prod) != len(s.Columns) || len(ch.PR) != len(s.Columns) {
				t.Fatalf("changed row widths %d/%d, want %d", len(ch.Prod), len(ch.PR), len(s.Columns))
			}
			got[key(ch.Prod)] = ch.Differs
		}
		if d := cmp.Diff(w.SampleChanged, got); d != "" {
			t.Errorf("changed samples (-want +got):\n%s", d)
		}
	}
	for _, side := range []struct {
		name string
		want []string
		got  []datadiff.Row
	}{{"production only", w.SampleProdOnly, s.ProdOnly}, {"PR only", w.SamplePROnly, s.PROnly}} {
		if side.want == nil {
			continue
		}
		var got []string
		for _, r := range side.got {
			got = append(got, key(r))
		}
		want := append([]string{}, side.want...)
		sort.Strings(want)
		sort.Strings(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s samples (-want +got):\n%s", side.name, d)
		}
	}
}
