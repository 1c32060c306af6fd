package dbt

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// SlimDiffWhenDownstream is the one documented value of the slim_diff key.
const SlimDiffWhenDownstream = "diff_when_downstream"

// settings are a model's diff settings from its dbt meta.
type settings struct {
	opts           events.DiffOptions
	neverDiff      bool
	neverDiffFrom  string // e.g. meta.diffgate
	whenDownstream bool
	warnings       []string
}

var diffKeys = []string{"never_diff", "filter", "include_columns", "exclude_columns", "time_column", "prod_time_travel", "pr_time_travel", "slim_diff"}

// readSettings reads the per-model keys from meta.datafold.datadiff (as
// Datafold users already write them) and meta.diffgate (same keys; it
// wins), each in config.meta and then meta (the latter wins).
func readSettings(n *Node) settings {
	var s settings
	type layer struct {
		raw  json.RawMessage
		path []string
		name string
	}
	layers := []layer{
		{n.configMeta, []string{"datafold", "datadiff"}, "config.meta.datafold.datadiff"},
		{n.meta, []string{"datafold", "datadiff"}, "meta.datafold.datadiff"},
		{n.configMeta, []string{"diffgate"}, "config.meta.diffgate"},
		{n.meta, []string{"diffgate"}, "meta.diffgate"},
	}
	for _, l := range layers {
		keys, err := dig(l.raw, l.path...)
		if err != nil {
			s.warnings = append(s.warnings, fmt.Sprintf("%s of %s: %v; it is ignored", l.name, n.DisplayName(), err))
			continue
		}
		if keys == nil {
			continue
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if err := s.apply(k, keys[k], l.name); err != nil {
				s.warnings = append(s.warnings, fmt.Sprintf("%s.%s of %s: %v; it is ignored", l.name, k, n.DisplayName(), err))
			}
		}
	}
	return s
}

func (s *settings) apply(key string, raw json.RawMessage, where string) error {
	switch key {
	case "filter":
		v, err := oneString(raw, false)
		if err != nil {
			return err
		}
		s.opts.Filter = v
	case "include_columns":
		v, err := stringList(raw)
		if err != nil {
			return err
		}
		s.opts.IncludeColumns = v
	case "exclude_columns":
		v, err := stringList(raw)
		if err != nil {
			return err
		}
		s.opts.ExcludeColumns = v
	case "time_column":
		v, err := oneString(raw, true)
		if err != nil {
			return err
		}
		s.opts.TimeColumn = v
	case "prod_time_travel":
		v, err := oneString(raw, true)
		if err != nil {
			return err
		}
		s.opts.ProdTimeTravel = v
	case "pr_time_travel":
		v, err := oneString(raw, true)
		if err != nil {
			return err
		}
		s.opts.PRTimeTravel = v
	case "never_diff":
		v, err := boolValue(raw)
		if err != nil {
			return err
		}
		s.neverDiff = v
		s.neverDiffFrom = where
	case "slim_diff":
		v, err := oneString(raw, false)
		if err != nil {
			return err
		}
		switch v {
		case SlimDiffWhenDownstream:
			s.whenDownstream = true
		case "":
			s.whenDownstream = false
		default:
			return fmt.Errorf("is %q; the only value is %q", v, SlimDiffWhenDownstream)
		}
	default:
		if strings.HasPrefix(where, "datafold") || strings.Contains(where, ".datafold.") {
			return nil // Datafold has keys diffgate does not use
		}
		return fmt.Errorf("is not a known key (known: %s)", strings.Join(diffKeys, ", "))
	}
	return nil
}

// dig walks nested objects; a missing level gives nil, a level that is not
// an object an error.
func dig(raw json.RawMessage, path ...string) (map[string]json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	cur := raw
	for i, p := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			if i == 0 {
				return nil, nil // meta itself is not an object: nothing to read
			}
			return nil, fmt.Errorf("expected an object")
		}
		v, ok := m[p]
		if !ok || string(v) == "null" {
			return nil, nil
		}
		cur = v
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cur, &m); err != nil {
		return nil, fmt.Errorf("expected an object of settings")
	}
	return m, nil
}

// oneString reads a string; numbers become their text; with list, a
// one-element list (the form old Datafold docs show) gives its element.
func oneString(raw json.RawMessage, list bool) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	if string(raw) == "null" {
		return "", nil
	}
	if list {
		var l []json.RawMessage
		if json.Unmarshal(raw, &l) == nil {
			switch len(l) {
			case 0:
				return "", nil
			case 1:
				return oneString(l[0], false)
			}
			return "", fmt.Errorf("has %d values; give one", len(l))
		}
	}
	return "", fmt.Errorf("expected a string, got %s", jsonTypeOf(raw))
}

func stringList(raw json.RawMessage) ([]string, error) {
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	if string(raw) == "null" {
		return nil, nil
	}
	return nil, fmt.Errorf("expected a list of column names, got %s", jsonTypeOf(raw))
}

func boolValue(raw json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "1":
			return true, nil
		case "false", "no", "0", "":
			return false, nil
		}
	}
	if string(raw) == "null" {
		return false, nil
	}
	return false, fmt.Errorf("expected true or false, got %s", string(raw))
}

func jsonTypeOf(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// metaValue returns meta[key] from meta, else from config.meta.
func metaValue(key string, raws ...json.RawMessage) (json.RawMessage, bool) {
	for _, raw := range raws {
		if len(raw) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if v, ok := m[key]; ok {
			return v, true
		}
	}
	return nil, false
}

// owner is meta.owner (a string, or an object with a name or email).
func owner(raws ...json.RawMessage) string {
	v, ok := metaValue("owner", raws...)
	if !ok {
		return ""
	}
	if s, err := oneString(v, true); err == nil {
		return s
	}
	var o struct{ Name, Email string }
	if json.Unmarshal(v, &o) == nil {
		if o.Name != "" {
			return o.Name
		}
		return o.Email
	}
	return ""
}
