package difftest

import (
	"fmt"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// Want is what a case expects. Maps and slices left nil are not checked,
// except Mismatches, which names every compared column (none when nil).
type Want struct {
	Err                                error // a sentinel; nil for success
	Status                             datadiff.Status
	Key                                []string
	Prod, PR                           datadiff.SideStats
	Added, Removed, Changed, Unchanged int64
	Mismatches                         map[string]int64
	Tolerance                          map[string]string
	SchemaAdded, SchemaRemoved         []string
	TypeChanged                        map[string]bool   // column → compared
	NotCompared                        map[string]string // column → reason prefix
	Caveats                            []string          // each appears in some caveat
	// Samples: key (key columns' text joined by "|") → differing columns.
	SampleChanged    map[string][]string
	SampleChangedN   int // when SampleChanged is nil: how many changed rows
	SampleProdOnly   []string
	SamplePROnly     []string
	SamplesOff       string
	NoSamplesChecked bool
}

// Case is one diff over fixture tables.
type Case struct {
	Name string
	Spec func(env *Env) datadiff.Spec
	Want Want
}

func rel(env *Env, name string) *datadiff.Side {
	r := env.Rel(name)
	return &datadiff.Side{Relation: &r}
}

func pair(env *Env, prod, pr string) (*datadiff.Side, datadiff.Side) {
	return rel(env, prod), *rel(env, pr)
}

// diffOf is the Spec of a case that diffs fixture tables prod and pr with
// the settings of s, on the key id unless s names another.
func diffOf(prod, pr string, s datadiff.Spec) func(*Env) datadiff.Spec {
	return func(env *Env) datadiff.Spec {
		spec := s
		spec.Prod, spec.PR = pair(env, prod, pr)
		if spec.Key == nil {
			spec.Key = []string{"id"}
		}
		return spec
	}
}

// unique is a side of n rows whose keys are all distinct and not NULL.
func unique(n int64) datadiff.SideStats { return datadiff.SideStats{Rows: n, DistinctKeys: n} }

// Tables returns every fixture table by name.
func Tables() map[string]Table {
	basicCols := []Col{{"id", Int}, {"amount", Decimal(12, 2)}, {"name", Text}, {"qty", Int}, {"note", Text}, {"flag", Bool}}
	t := map[string]Table{
		"basic_prod": {Cols: basicCols, Rows: [][]any{
			{1, "10.00", "a", 1, "x", true},
			{2, "20.00", "b", 2, nil, false},
			{3, "30.00", "c", 3, "z", true},
			{4, "40.00", "d", 4, "w", false},
			{5, "50.00", "e", 5, nil, true},
			{6, "60.00", "f", 6, "v", false},
			{7, "70.00", "g", 7, "u", true},
			{8, "80.00", "h", 8, "t", false},
		}},
		"basic_pr": {Cols: basicCols, Rows: [][]any{
			{1, "10.00", "a", 1, "x", true},     // unchanged
			{2, "20.00", "b", 2, "now", false},  // note NULL → value
			{3, "30.00", "c", 3, nil, true},     // note value → NULL
			{4, "41.00", "D", 4, "w", false},    // amount and name
			{5, "50.00", "e", 5, nil, true},     // unchanged, NULL = NULL
			{7, "70.00", "g", 70, "u", true},    // qty
			{8, "80.00", "h", 8, "t", true},     // flag
			{9, "90.00", "i", 9, "s", true},     // added
			{10, "100.00", "j", 10, nil, false}, // added
		}},
		"nullkey_prod": {Cols: []Col{{"id", Int}, {"v", Text}}, Rows: [][]any{
			{1, "a"}, {2, "b"}, {nil, "c"}, {nil, "d"},
		}},
		"nullkey_pr": {Cols: []Col{{"id", Int}, {"v", Text}}, Rows: [][]any{
			{1, "a"}, {2, "B"}, {nil, "c"},
		}},
		"dup_prod": {Cols: []Col{{"id", Int}, {"v", Int}}, Rows: [][]any{
			{1, 1}, {2, 2}, {2, 2}, {3, 3}, {4, 4}, {4, 4}, {4, 40}, {5, 5},
		}},
		"dup_pr": {Cols: []Col{{"id", Int}, {"v", Int}}, Rows: [][]any{
			{1, 1}, {2, 2}, {3, 3}, {3, 3}, {5, 50}, {6, 6}, {6, 6}, {7, 7}, {nil, 0},
		}},
		"comp_prod": {Cols: []Col{{"region", Varchar(10)}, {"id", Int}, {"v", Int}}, Rows: [][]any{
			{"eu", 1, 1}, {"eu", 2, 2}, {"us", 1, 3}, {"us", 2, 4},
		}},
		"comp_pr": {Cols: []Col{{"region", Varchar(10)}, {"id", Int}, {"v", Int}}, Rows: [][]any{
			{"eu", 1, 1}, {"eu", 2, 20}, {"us", 2, 4}, {"us", 3, 5}, {"US", 2, 4}, {nil, 5, 5},
		}},
		"schema_prod": {Cols: []Col{{"id", Int}, {"a", Int}, {"b", Decimal(10, 2)}, {"c", Text}, {"gone", Text}, {"d", Int}, {"e", Int}},
			Rows: [][]any{
				{1, 1, "1.50", "x", "g", 1, 1},
				{2, 2, "2.25", "y", "g", 2, 2},
			}},
		"schema_pr": {Cols: []Col{{"id", BigInt}, {"a", BigInt}, {"b", Decimal(12, 4)}, {"c", Text}, {"new", Text}, {"d", Text}, {"e", Date}},
			Rows: [][]any{
				{1, 1, "1.5000", "x", "n", "1", "2024-01-01"},
				{2, 2, "2.2500", "y", "n", "02", "2024-01-01"},
			}},
		"tol_prod": {Cols: []Col{{"id", Int}, {"x", Double}, {"y", Decimal(12, 4)}, {"z", Decimal(12, 4)}, {"w", Double}},
			Rows: [][]any{
				{1, 1.0, "100.0000", "1.0000", 0.30000000000000004},
				{2, 2.0, "100.0000", "1.0000", 1.0},
				{3, nil, nil, "1.0000", 1.0},
			}},
		"tol_pr": {Cols: []Col{{"id", Int}, {"x", Double}, {"y", Decimal(12, 4)}, {"z", Decimal(12, 4)}, {"w", Double}},
			Rows: [][]any{
				{1, 1.005, "100.0500", "1.0001", 0.3},
				{2, 2.5, "101.0000", "1.0000", 1.000001},
				{3, nil, "5.0000", "1.0000", 1.0},
			}},
		"ts_prod": {Cols: []Col{{"id", Int}, {"t1", Timestamp}, {"t2", TimestampTZ}, {"t3", Date}},
			Rows: [][]any{
				{1, "2024-03-01 10:00:00", "2024-03-01 12:00:00+02", "2024-03-01"},
				{2, "2024-03-01 10:00:00", "2024-03-01 12:00:00+02", "2024-03-01"},
			}},
		"ts_pr": {Cols: []Col{{"id", Int}, {"t1", TimestampTZ}, {"t2", TimestampTZ}, {"t3", Timestamp}},
			Rows: [][]any{
				{1, "2024-03-01 10:00:00+00", "2024-03-01 10:00:00+00", "2024-03-01 00:00:00"},
				{2, "2024-03-01 10:00:00+01", "2024-03-01 10:00:00+00", "2024-03-01 00:00:00"},
			}},
		"bool_prod": {Cols: []Col{{"id", Int}, {"f", Bool}, {"g", Bool}}, Rows: [][]any{
			{1, true, true}, {2, false, false}, {3, nil, true},
		}},
		"bool_pr": {Cols: []Col{{"id", Int}, {"f", Int}, {"g", Bool}}, Rows: [][]any{
			{1, 1, true}, {2, 1, false}, {3, nil, false},
		}},
		"text_prod": {Cols: []Col{{"id", Int}, {"a", Text}, {"b", Varchar(20)}}, Rows: [][]any{
			{1, "same", "Alice"}, {2, "same", "x"}, {3, "same", "y"},
		}},
		"text_pr": {Cols: []Col{{"id", Int}, {"a", Varchar(50)}, {"b", Varchar(20)}}, Rows: [][]any{
			{1, "same", "alice"}, {2, "same", "x "}, {3, "same", "y"},
		}},
		"pattern_prod": {Cols: []Col{{"id", Int}, {"v", Int}, {"w", Int}}, Rows: [][]any{
			{1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {4, 4, 4}, {5, 5, 5},
		}},
		"pattern_pr": {Cols: []Col{{"id", Int}, {"v", Int}, {"w", Int}}, Rows: [][]any{
			{1, 10, 1}, {2, 20, 2}, {3, 30, 3}, {4, 40, 4}, {5, 5, 5},
		}},
		"empty_prod":   {Cols: []Col{{"id", Int}, {"v", Text}}},
		"empty_pr":     {Cols: []Col{{"id", Int}, {"v", Text}}},
		"keyonly_prod": {Cols: []Col{{"id", Int}}, Rows: [][]any{{1}, {2}, {3}}},
		"keyonly_pr":   {Cols: []Col{{"id", Int}}, Rows: [][]any{{2}, {3}, {4}}},
		`Weird "Table" 1`: {Cols: []Col{{"Order Id", Int}, {"select", Text}, {`we"ird`, Int}, {"UPPER", Text}, {"from", Int}},
			Rows: [][]any{{1, "a", 1, "A", 1}, {2, "b", 2, "B", 2}}},
		`Weird "Table" 2`: {Cols: []Col{{"Order Id", Int}, {"select", Text}, {`we"ird`, Int}, {"UPPER", Text}, {"from", Int}},
			Rows: [][]any{{1, "a", 1, "A", 1}, {2, "bb", 2, "B", 3}}},
	}
	return t
}

// Cases returns the suite.
func Cases() []Case {
	basicMism := map[string]int64{"amount": 1, "name": 1, "qty": 1, "note": 2, "flag": 1}
	basicWant := Want{
		Status: datadiff.StatusDiffed, Key: []string{"id"},
		Prod:  datadiff.SideStats{Rows: 8, DistinctKeys: 8, ExclusiveKeys: 1},
		PR:    datadiff.SideStats{Rows: 9, DistinctKeys: 9, ExclusiveKeys: 2},
		Added: 2, Removed: 1, Changed: 5, Unchanged: 2,
		Mismatches:  basicMism,
		NotCompared: map[string]string{"id": "key column"},
		SampleChanged: map[string][]string{
			"2": {"note"}, "3": {"note"}, "4": {"amount", "name"}, "7": {"qty"}, "8": {"flag"},
		},
		SampleProdOnly: []string{"6"},
		SamplePROnly:   []string{"9", "10"},
	}
	return []Case{
		{
			Name: "basic",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{SampleSize: 10}),
			Want: basicWant,
		},
		{
			Name: "basic_small_sample",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{SampleSize: 1}),
			Want: func() Want {
				w := basicWant
				w.SampleChanged, w.SampleChangedN = nil, 1
				w.SampleProdOnly, w.SamplePROnly = []string{"6"}, []string{"9"} // the first keys
				return w
			}(),
		},
		{
			Name: "samples_off",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{SampleSize: 10, SamplesOff: "sensitive data"}),
			Want: func() Want {
				w := basicWant
				w.SampleChanged, w.SampleProdOnly, w.SamplePROnly = nil, nil, nil
				w.SamplesOff = "sensitive data"
				return w
			}(),
		},
		{
			Name: "queries",
			Spec: func(env *Env) datadiff.Spec {
				p, r := pair(env, "basic_prod", "basic_pr")
				pq, err := relationSQL(env, *p.Relation)
				if err != nil {
					panic(err)
				}
				rq, _ := relationSQL(env, *r.Relation)
				return datadiff.Spec{Prod: &datadiff.Side{Query: "SELECT * FROM " + pq + ";"}, PR: datadiff.Side{Query: "select *\nfrom " + rq + "\n"},
					Key: []string{"id"}, SampleSize: 10}
			},
			Want: basicWant,
		},
		{
			// One combination of changed columns on four rows: its smallest
			// and largest keys come from the value pass, the others from a
			// join.
			Name: "samples_one_pattern",
			Spec: diffOf("pattern_prod", "pattern_pr", datadiff.Spec{SampleSize: 10}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(5),
				PR:      unique(5),
				Changed: 4, Unchanged: 1,
				Mismatches:    map[string]int64{"v": 4, "w": 0},
				SampleChanged: map[string][]string{"1": {"v"}, "2": {"v"}, "3": {"v"}, "4": {"v"}},
			},
		},
		{
			Name: "samples_one_pattern_bounded",
			Spec: diffOf("pattern_prod", "pattern_pr", datadiff.Spec{SampleSize: 3}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(5),
				PR:      unique(5),
				Changed: 4, Unchanged: 1,
				Mismatches:     map[string]int64{"v": 4, "w": 0},
				SampleChangedN: 3,
			},
		},
		{
			Name: "filter",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{Filter: "id <= 4 OR name = 'h' -- a comment"}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(5),
				PR:      unique(5),
				Changed: 4, Unchanged: 1,
				Mismatches: map[string]int64{"amount": 1, "name": 1, "qty": 0, "note": 2, "flag": 1},
				SamplesOff: "sample size is 0",
			},
		},
		{
			Name: "include_exclude",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{Include: []string{"amount", "note", "qty", "nope"}, Exclude: []string{"qty"}}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:  datadiff.SideStats{Rows: 8, DistinctKeys: 8, ExclusiveKeys: 1},
				PR:    datadiff.SideStats{Rows: 9, DistinctKeys: 9, ExclusiveKeys: 2},
				Added: 2, Removed: 1, Changed: 3, Unchanged: 4,
				Mismatches:  map[string]int64{"amount": 1, "note": 2},
				NotCompared: map[string]string{"id": "key column", "name": "not in include_columns", "qty": "excluded by exclude_columns", "flag": "not in include_columns"},
				Caveats:     []string{"include_columns names nope"},
			},
		},
		{
			Name: "null_keys",
			Spec: diffOf("nullkey_prod", "nullkey_pr", datadiff.Spec{SampleSize: 5}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    datadiff.SideStats{Rows: 4, KeyNulls: 2, DistinctKeys: 2, SetAside: 2},
				PR:      datadiff.SideStats{Rows: 3, KeyNulls: 1, DistinctKeys: 2, SetAside: 1},
				Changed: 1, Unchanged: 1,
				Mismatches:    map[string]int64{"v": 1},
				Caveats:       []string{"2 production rows with a NULL key are not matched", "1 PR row with a NULL key is not matched"},
				SampleChanged: map[string][]string{"2": {"v"}},
			},
		},
		{
			Name: "duplicate_keys",
			Spec: diffOf("dup_prod", "dup_pr", datadiff.Spec{SampleSize: 5}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:  datadiff.SideStats{Rows: 8, DuplicateRows: 5, DistinctKeys: 5, ExclusiveKeys: 1, SetAside: 6},
				PR:    datadiff.SideStats{Rows: 9, KeyNulls: 1, DuplicateRows: 4, DistinctKeys: 6, ExclusiveKeys: 2, SetAside: 6},
				Added: 1, Changed: 1, Unchanged: 1,
				Mismatches:    map[string]int64{"v": 1},
				Caveats:       []string{"the key is not unique: 5 production and 4 PR rows"},
				SampleChanged: map[string][]string{"5": {"v"}},
				SamplePROnly:  []string{"7"},
			},
		},
		{
			Name: "composite_key",
			Spec: diffOf("comp_prod", "comp_pr", datadiff.Spec{Key: []string{"region", "id"}, SampleSize: 5}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"region", "id"},
				Prod:  datadiff.SideStats{Rows: 4, DistinctKeys: 4, ExclusiveKeys: 1},
				PR:    datadiff.SideStats{Rows: 6, KeyNulls: 1, DistinctKeys: 5, ExclusiveKeys: 2, SetAside: 1},
				Added: 2, Removed: 1, Changed: 1, Unchanged: 2,
				Mismatches:     map[string]int64{"v": 1},
				SampleChanged:  map[string][]string{"eu|2": {"v"}},
				SampleProdOnly: []string{"us|1"},
				SamplePROnly:   []string{"US|2", "us|3"},
			},
		},
		{
			Name: "schema_changes",
			Spec: diffOf("schema_prod", "schema_pr", datadiff.Spec{}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(2),
				PR:      unique(2),
				Changed: 1, Unchanged: 1,
				Mismatches:    map[string]int64{"a": 0, "b": 0, "c": 0, "d": 1},
				SchemaAdded:   []string{"new"},
				SchemaRemoved: []string{"gone"},
				TypeChanged:   map[string]bool{"id": false, "a": true, "b": true, "d": true, "e": false},
				NotCompared:   map[string]string{"id": "key column", "e": "incompatible types"},
			},
		},
		{
			Name: "tolerance",
			Spec: diffOf("tol_prod", "tol_pr", datadiff.Spec{Tolerance: map[string]datadiff.Tolerance{"x": {Abs: 0.01}, "y": {Rel: 0.001}}}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:       unique(3),
				PR:         unique(3),
				Changed:    3,
				Mismatches: map[string]int64{"x": 1, "y": 2, "z": 1, "w": 1},
				Tolerance:  map[string]string{"x": "abs 0.01", "y": "rel 0.1%", "z": "", "w": "rel 1e-10% (float default)"},
			},
		},
		{
			Name: "timestamps",
			Spec: diffOf("ts_prod", "ts_pr", datadiff.Spec{}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(2),
				PR:      unique(2),
				Changed: 1, Unchanged: 1,
				Mismatches: map[string]int64{"t1": 1, "t2": 0, "t3": 0},
			},
		},
		{
			Name: "booleans",
			Spec: diffOf("bool_prod", "bool_pr", datadiff.Spec{}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(3),
				PR:      unique(3),
				Changed: 2, Unchanged: 1,
				Mismatches: map[string]int64{"f": 1, "g": 1},
			},
		},
		{
			Name: "text",
			Spec: diffOf("text_prod", "text_pr", datadiff.Spec{}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:    unique(3),
				PR:      unique(3),
				Changed: 2, Unchanged: 1,
				Mismatches: map[string]int64{"a": 0, "b": 2},
			},
		},
		{
			Name: "empty",
			Spec: diffOf("empty_prod", "empty_pr", datadiff.Spec{SampleSize: 5}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Mismatches:       map[string]int64{"v": 0},
				NoSamplesChecked: true,
			},
		},
		{
			Name: "empty_prod",
			Spec: diffOf("empty_prod", "nullkey_pr", datadiff.Spec{SampleSize: 5}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				PR:           datadiff.SideStats{Rows: 3, KeyNulls: 1, DistinctKeys: 2, ExclusiveKeys: 2, SetAside: 1},
				Added:        2,
				Mismatches:   map[string]int64{"v": 0},
				SamplePROnly: []string{"1", "2"},
			},
		},
		{
			Name: "no_compared_columns",
			Spec: diffOf("keyonly_prod", "keyonly_pr", datadiff.Spec{SampleSize: 5}),
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"id"},
				Prod:  datadiff.SideStats{Rows: 3, DistinctKeys: 3, ExclusiveKeys: 1},
				PR:    datadiff.SideStats{Rows: 3, DistinctKeys: 3, ExclusiveKeys: 1},
				Added: 1, Removed: 1, Unchanged: 2,
				Mismatches:     map[string]int64{},
				Caveats:        []string{"no columns were compared"},
				SampleProdOnly: []string{"1"},
				SamplePROnly:   []string{"4"},
			},
		},
		{
			Name: "identifiers",
			Spec: func(env *Env) datadiff.Spec {
				p, r := pair(env, `Weird "Table" 1`, `Weird "Table" 2`)
				return datadiff.Spec{Prod: p, PR: r, Key: []string{"Order Id"}, SampleSize: 5, Filter: env.QuoteIdent("UPPER") + " IS NOT NULL"}
			},
			Want: Want{
				Status: datadiff.StatusDiffed, Key: []string{"Order Id"},
				Prod:    unique(2),
				PR:      unique(2),
				Changed: 1, Unchanged: 1,
				Mismatches:    map[string]int64{"select": 1, `we"ird`: 0, "UPPER": 0, "from": 1},
				SampleChanged: map[string][]string{"2": {"select", "from"}},
			},
		},
		{
			Name: "pr_not_built",
			Spec: diffOf("basic_prod", "no_such_table", datadiff.Spec{}),
			Want: Want{Status: datadiff.StatusNotBuilt, Key: []string{"id"}, NoSamplesChecked: true},
		},
		{
			Name: "both_missing",
			Spec: diffOf("no_such_table", "no_such_table_either", datadiff.Spec{}),
			Want: Want{Status: datadiff.StatusNotBuilt, Key: []string{"id"}, NoSamplesChecked: true},
		},
		{
			Name: "new_model",
			Spec: diffOf("no_such_table", "dup_pr", datadiff.Spec{}),
			Want: Want{
				Status: datadiff.StatusNew, Key: []string{"id"},
				PR:               datadiff.SideStats{Rows: 9, KeyNulls: 1, DuplicateRows: 4, DistinctKeys: 6},
				SchemaAdded:      []string{"id", "v"},
				Caveats:          []string{"1 PR row has a NULL key", "4 PR rows share their key"},
				NoSamplesChecked: true,
			},
		},
		{
			Name: "new_model_no_prod_side",
			Spec: func(env *Env) datadiff.Spec {
				_, r := pair(env, "basic_prod", "basic_pr")
				return datadiff.Spec{PR: r, Key: []string{"id"}}
			},
			Want: Want{
				Status: datadiff.StatusNew, Key: []string{"id"},
				PR:               unique(9),
				SchemaAdded:      []string{"id", "amount", "name", "qty", "note", "flag"},
				NoSamplesChecked: true,
			},
		},
		{
			Name: "missing_key_column",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{Key: []string{"order_id"}}),
			Want: Want{Err: datadiff.ErrBadSpec},
		},
		{
			Name: "query_missing_relation",
			Spec: func(env *Env) datadiff.Spec {
				_, r := pair(env, "basic_prod", "basic_pr")
				return datadiff.Spec{Prod: &datadiff.Side{Query: "SELECT * FROM no_such_table_at_all"}, PR: r, Key: []string{"id"}}
			},
			Want: Want{Err: datadiff.ErrRelationMissing},
		},
		{
			Name: "hostile_filter_separator",
			Spec: func(env *Env) datadiff.Spec {
				p, r := pair(env, "basic_prod", "basic_pr")
				q, _ := relationSQL(env, *r.Relation)
				return datadiff.Spec{Prod: p, PR: r, Key: []string{"id"}, Filter: "1=1; DROP TABLE " + q}
			},
			Want: Want{Err: datadiff.ErrBadFilter},
		},
		{
			Name: "hostile_filter_parenthesis",
			Spec: func(env *Env) datadiff.Spec {
				p, r := pair(env, "basic_prod", "basic_pr")
				q, _ := relationSQL(env, *r.Relation)
				return datadiff.Spec{Prod: p, PR: r, Key: []string{"id"}, Filter: "1=1) AS x; DROP TABLE " + q + "; SELECT * FROM (SELECT 1"}
			},
			Want: Want{Err: datadiff.ErrBadFilter},
		},
		{
			Name: "hostile_filter_comment",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{Filter: "1=1 /* unterminated"}),
			Want: Want{Err: datadiff.ErrBadFilter},
		},
		{
			Name: "filter_unknown_column",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{Filter: "no_such_column > 1"}),
			Want: Want{Err: datadiff.ErrBadFilter},
		},
		{
			Name: "basic_after_hostile_filters",
			Spec: diffOf("basic_prod", "basic_pr", datadiff.Spec{SampleSize: 10}),
			Want: basicWant,
		},
	}
}

// relationSQL renders a relation the way the engine does, for cases that
// write their own SQL around fixture tables.
func relationSQL(env *Env, r datadiff.Relation) (string, error) {
	if env.dialect == nil {
		return "", fmt.Errorf("difftest: the source is not open yet")
	}
	return env.dialect.Relation(r)
}
