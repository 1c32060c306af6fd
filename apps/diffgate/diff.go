package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/task"
	"github.com/diffgate/diffgate/shared/datadiff/warehouse"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report/human"
)

// tolerances is the repeatable --tolerance column=value flag.
type tolerances map[string]datadiff.Tolerance

func (t tolerances) String() string {
	parts := make([]string, 0, len(t))
	for c, v := range t {
		parts = append(parts, c+"="+v.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (t tolerances) Set(v string) error {
	col, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(col) == "" {
		return fmt.Errorf("want column=tolerance, e.g. amount=0.01 or ratio=0.1%%")
	}
	tol, err := datadiff.ParseTolerance(val)
	if err != nil {
		return err
	}
	t[strings.TrimSpace(col)] = tol
	return nil
}

// columnList is a comma-separated, repeatable list of column names.
type columnList []string

func (c *columnList) String() string { return strings.Join(*c, ",") }

func (c *columnList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*c = append(*c, p)
		}
	}
	return nil
}

const diffUsage = `Usage: diffgate diff --dsn DSN --key COLUMN[,COLUMN...] PROD PR [flags]
       diffgate diff --dsn DSN --key ID --prod-query SQL --pr-query SQL [flags]

Compares two relations (or queries) in one warehouse, row by row on the key,
and says what changed: rows added, removed and changed, mismatches per column,
key problems, schema changes and a few sample rows. PROD and PR are relation
names such as analytics.orders; quote a part to keep its case or to use dots
and spaces in it: '"My Schema"."Orders"'. Flags may come before or after them.

The DSN picks the warehouse: postgres://… or host=… (PostgreSQL),
mysql://… or user@tcp(host)/db (MySQL, MariaDB), a file path or nothing
(DuckDB; the file is opened read-only). --type overrides the guess.

Flags:
`

// dataSourceType guesses the type of a DSN.
func dataSourceType(dsn string) string {
	d := strings.TrimSpace(dsn)
	switch {
	case strings.HasPrefix(d, "postgres://"), strings.HasPrefix(d, "postgresql://"),
		strings.Contains(d, "host=") || strings.Contains(d, "dbname="):
		return "postgres"
	case strings.HasPrefix(d, "mysql://"), strings.HasPrefix(d, "mariadb://"), strings.Contains(d, "@tcp("), strings.Contains(d, "@unix("):
		return "mysql"
	}
	return "duckdb"
}

func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("dsn", "", "the warehouse `DSN` (see above)")
	typ := fs.String("type", "", "data source `type`: postgres, duckdb or mysql (default: guessed from the DSN)")
	var key, include, exclude columnList
	fs.Var(&key, "key", "key `columns`, comma-separated (required)")
	fs.Var(&include, "columns", "compare only these `columns` (comma-separated)")
	fs.Var(&exclude, "exclude", "do not compare these `columns` (comma-separated)")
	filter := fs.String("filter", "", "a SQL `condition` applied to both sides, e.g. \"created_at >= '2024-01-01'\"")
	tol := tolerances{}
	fs.Var(tol, "tolerance", "`column=value`: numbers within value (absolute, e.g. 0.01) or value% (relative) count as equal; repeatable")
	sample := fs.Int("sample", 10, "show up to `N` rows of each kind of difference; 0 for none")
	format := fs.String("format", "text", "output `format`: text or json")
	prodQuery := fs.String("prod-query", "", "a `SELECT` for the production side instead of PROD")
	prQuery := fs.String("pr-query", "", "a `SELECT` for the PR side instead of PR")
	prodAt := fs.String("prod-time-travel", "", "read production as of this `point` (where the warehouse supports it)")
	prAt := fs.String("pr-time-travel", "", "read the PR side as of this `point`")
	timeout := fs.Duration("timeout", datadiff.DefaultQueryTimeout, "cancel any statement running longer than this `duration`")
	concurrency := fs.Int("concurrency", datadiff.DefaultMaxConcurrency, "run at most `N` statements at once")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), diffUsage)
		fs.PrintDefaults()
	}
	// Flags may follow the relation names: parse, take one positional
	// argument, parse the rest again.
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}

	spec := datadiff.Spec{Key: key, Include: include, Exclude: exclude, Filter: *filter, SampleSize: *sample}
	if len(tol) > 0 {
		spec.Tolerance = tol
	}
	var names [2]string
	queries := [2]string{*prodQuery, *prQuery}
	var sides [2]datadiff.Side
	for i, q := range queries {
		if q != "" {
			sides[i] = datadiff.Side{Query: q}
			names[i] = "query"
		}
	}
	need := 0
	for _, q := range queries {
		if q == "" {
			need++
		}
	}
	switch {
	case len(pos) != need:
		return fmt.Errorf("%w: want %d relation name(s) (PROD and PR, less those given as --prod-query/--pr-query), got %d: %q", errUsage, need, len(pos), pos)
	case len(key) == 0:
		return fmt.Errorf("%w: --key is required (the column or columns that identify a row)", errUsage)
	case *format != "text" && *format != "json":
		return fmt.Errorf("%w: --format is %q; use text or json", errUsage, *format)
	case *sample < 0:
		return fmt.Errorf("%w: --sample must not be negative", errUsage)
	case *concurrency < 1:
		return fmt.Errorf("%w: --concurrency must be at least 1", errUsage)
	case *timeout <= 0:
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	for i := range sides {
		if queries[i] != "" {
			continue
		}
		r, err := datadiff.ParseRelation(pos[0])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		pos = pos[1:]
		sides[i] = datadiff.Side{Relation: &r}
		names[i] = r.String()
	}
	sides[0].TimeTravel, sides[1].TimeTravel = *prodAt, *prAt
	spec.Prod, spec.PR = &sides[0], sides[1]

	t := *typ
	if t == "" {
		t = dataSourceType(*dsn)
	}
	src, err := warehouse.Open(ctx, t, *dsn, datadiff.Options{MaxConcurrency: *concurrency, QueryTimeout: *timeout})
	if err != nil {
		return err
	}
	defer src.Close()
	res, err := src.Diff(ctx, spec)
	if err != nil {
		if *format == "json" {
			writeDiffJSONError(stdout, err)
			fmt.Fprintf(stderr, "diffgate diff: %v\n", err)
			return errFailed
		}
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeDiffText(stdout, names[0], names[1], res)
}

// writeDiffJSONError prints an error as JSON, for scripts: the code,
// message and hint a diff result carries in the service.
func writeDiffJSONError(w io.Writer, err error) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Error *events.Error `json:"error"`
	}{task.Error(err)})
}

// share renders a share with as many decimals as it takes to not round
// a non-zero share to 0 or a partial one to 100.
func share(part, whole int64) string {
	if whole == 0 {
		return "—"
	}
	p := 100 * float64(part) / float64(whole)
	for _, dec := range []int{1, 2, 3, 4} {
		s := strconv.FormatFloat(p, 'f', dec, 64)
		if (part == 0 || strings.Trim(s, "0.") != "") && (part == whole || !strings.HasPrefix(s, "100")) {
			return s + "%"
		}
	}
	return strconv.FormatFloat(p, 'g', 3, 64) + "%"
}

// writeDiffText renders a result for people: the outcome first, details
// after.
func writeDiffText(w io.Writer, prodName, prName string, r *datadiff.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s (key: %s)\n\n", prodName, prName, strings.Join(r.Key, ", "))
	switch r.Status {
	case datadiff.StatusNotBuilt:
		fmt.Fprintf(&b, "Not built in this PR: %s does not exist.\n", prName)
		_, err := io.WriteString(w, b.String())
		return err
	case datadiff.StatusNew:
		fmt.Fprintf(&b, "New model: %s does not exist in production.\n\n", prodName)
		fmt.Fprintf(&b, "Rows  %s\n", human.Int(r.PR.Rows))
		writeKeyProblems(&b, r)
		if len(r.Schema.Added) > 0 {
			fmt.Fprintf(&b, "\nColumns\n")
			var lines [][2]string
			for _, c := range r.Schema.Added {
				lines = append(lines, [2]string{c.Name, c.Type})
			}
			writeColumns(&b, "  ", lines)
		}
		writeCaveats(&b, r)
		_, err := io.WriteString(w, b.String())
		return err
	}

	matched := r.Changed + r.Unchanged
	delta := r.PR.Rows - r.Prod.Rows
	sign := "+"
	if delta < 0 {
		sign = "−"
	}
	change := "no change"
	if delta != 0 {
		change = sign + human.Int(absInt(delta))
		if r.Prod.Rows > 0 {
			change += " (" + sign + share(absInt(delta), r.Prod.Rows) + ")"
		}
	}
	rows := [][2]string{
		{"Rows", human.Int(r.Prod.Rows) + " → " + human.Int(r.PR.Rows) + ", " + change},
		{"Added", human.Int(r.Added)},
		{"Removed", human.Int(r.Removed)},
		{"Changed", human.Int(r.Changed) + " (" + share(r.Changed, matched) + " of " + human.Int(matched) + " rows in both)"},
		{"Unchanged", human.Int(r.Unchanged)},
	}
	if matched == 0 {
		rows[3][1] = "0 (no rows in both)"
	}
	writeColumns(&b, "", rows)
	writeKeyProblems(&b, r)

	// Columns, worst first.
	cols := append([]datadiff.ColumnStats(nil), r.Columns...)
	sort.SliceStable(cols, func(i, j int) bool { return cols[i].Mismatches > cols[j].Mismatches })
	var differing []datadiff.ColumnStats
	var same []string
	for _, c := range cols {
		if c.Mismatches > 0 {
			differing = append(differing, c)
		} else {
			same = append(same, c.Name)
		}
	}
	if len(r.Columns) > 0 {
		fmt.Fprintf(&b, "\nColumns: %d of %d compared differ\n", len(differing), len(r.Columns))
		var lines [][2]string
		for _, c := range differing {
			v := fmt.Sprintf("%s mismatched, %s match", human.Int(c.Mismatches), share(int64(math.Round(c.MatchRate*float64(matched))), matched))
			if c.Tolerance != "" {
				v += " (tolerance " + c.Tolerance + ")"
			}
			lines = append(lines, [2]string{c.Name, v})
		}
		writeColumns(&b, "  ", lines)
		if len(same) > 0 {
			sort.Strings(same)
			fmt.Fprintf(&b, "  equal: %s\n", strings.Join(same, ", "))
		}
	}

	s := r.Schema
	if len(s.Added)+len(s.Removed)+len(s.TypeChanged)+len(s.NotCompared) > 0 {
		fmt.Fprintf(&b, "\nSchema\n")
		var lines [][2]string
		for _, c := range s.Added {
			lines = append(lines, [2]string{"added", c.Name + " " + c.Type})
		}
		for _, c := range s.Removed {
			lines = append(lines, [2]string{"removed", c.Name + " " + c.Type})
		}
		for _, c := range s.TypeChanged {
			v := c.Name + " " + c.ProdType + " → " + c.PRType
			if c.Compared {
				v += " (values compared)"
			}
			lines = append(lines, [2]string{"retyped", v})
		}
		for _, c := range s.NotCompared {
			lines = append(lines, [2]string{"not compared", c.Name + ": " + c.Reason})
		}
		writeColumns(&b, "  ", lines)
	}

	writeSamples(&b, r)
	writeCaveats(&b, r)
	fmt.Fprintf(&b, "\n%d statements, %s\n", len(r.Queries), r.Duration.Round(time.Millisecond))
	_, err := io.WriteString(w, b.String())
	return err
}

// rowCount renders "1 row" or "1,234 rows".
func rowCount(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return human.Int(n) + " rows"
}

func absInt(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// writeColumns writes label/value pairs with the values in one column.
func writeColumns(b *strings.Builder, indent string, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, len([]rune(r[0])))
	}
	for _, r := range rows {
		fmt.Fprintf(b, "%s%s%s  %s\n", indent, r[0], strings.Repeat(" ", width-len([]rune(r[0]))), r[1])
	}
}

func writeKeyProblems(b *strings.Builder, r *datadiff.Result) {
	var lines [][2]string
	for _, side := range []struct {
		name string
		s    datadiff.SideStats
	}{{"production", r.Prod}, {"PR", r.PR}} {
		var p []string
		if side.s.KeyNulls > 0 {
			p = append(p, rowCount(side.s.KeyNulls)+" with a NULL key")
		}
		if side.s.DuplicateRows > 0 {
			p = append(p, rowCount(side.s.DuplicateRows)+" sharing a key with another row")
		}
		if len(p) > 0 {
			lines = append(lines, [2]string{side.name, strings.Join(p, ", ")})
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\nKey problems\n")
	writeColumns(b, "  ", lines)
}

func writeSamples(b *strings.Builder, r *datadiff.Result) {
	smp := r.Samples
	if smp == nil {
		return
	}
	nk := len(r.Key)
	val := func(v *string) string {
		if v == nil {
			return "NULL"
		}
		if *v == "" {
			return `""`
		}
		return *v
	}
	keyOf := func(row datadiff.Row) string {
		parts := make([]string, 0, nk)
		for i := 0; i < nk && i < len(row); i++ {
			parts = append(parts, smp.Columns[i]+"="+val(row[i]))
		}
		return strings.Join(parts, " ")
	}
	if len(smp.Changed) > 0 {
		fmt.Fprintf(b, "\nChanged rows (%d of %s)\n", len(smp.Changed), human.Int(r.Changed))
		for _, ch := range smp.Changed {
			var diffs []string
			for _, name := range ch.Differs {
				for i, c := range smp.Columns {
					if c == name && i < len(ch.Prod) && i < len(ch.PR) {
						diffs = append(diffs, c+": "+val(ch.Prod[i])+" → "+val(ch.PR[i]))
					}
				}
			}
			fmt.Fprintf(b, "  %s  %s\n", keyOf(ch.Prod), strings.Join(diffs, ", "))
		}
	}
	for _, part := range []struct {
		title string
		rows  []datadiff.Row
		total int64
	}{{"Removed rows", smp.ProdOnly, r.Removed}, {"Added rows", smp.PROnly, r.Added}} {
		if len(part.rows) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s (%d of %s)\n", part.title, len(part.rows), human.Int(part.total))
		for _, row := range part.rows {
			var vals []string
			for i := nk; i < len(row) && i < len(smp.Columns); i++ {
				vals = append(vals, smp.Columns[i]+"="+val(row[i]))
			}
			fmt.Fprintf(b, "  %s  %s\n", keyOf(row), strings.Join(vals, " "))
		}
	}
}

func writeCaveats(b *strings.Builder, r *datadiff.Result) {
	if len(r.Caveats) == 0 {
		return
	}
	fmt.Fprintf(b, "\nNotes\n")
	for _, c := range r.Caveats {
		fmt.Fprintf(b, "  - %s\n", c)
	}
}
