package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error Load and Parse return for a config
// that cannot be used; each message names the key to fix.
var ErrInvalid = errors.New("invalid config")

// FieldError is one problem with one key.
type FieldError struct {
	Key  string // e.g. integrations[0].dbt_cloud.token
	Line int    // 0 when unknown
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Key, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Key, e.Msg)
}

func (e *FieldError) Unwrap() error { return ErrInvalid }

// Errors is every problem found, in file order.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return "config: " + strings.Join(lines, "\n  ")
}

func (es Errors) Unwrap() error { return ErrInvalid }

// Scope names the component a process runs, to say which credentials it
// needs (the `scope` tags of the secret fields): the GitHub App holds the
// GitHub ones, the differ the warehouse DSNs, and so on. A
// process loading the config for one component does not need the others'
// secrets: their ${ENV} references may be unset and they are not
// required, so a deployment gives each component only its own.
type Scope string

// ScopeAll is every credential: diffgate serve, diffgate check.
const ScopeAll Scope = ""

// needs reports whether a process of scope s uses a secret whose scope
// tag is tag (a comma-separated list of components; empty means all).
func (s Scope) needs(tag string) bool {
	if s == ScopeAll || tag == "" {
		return true
	}
	for _, c := range strings.Split(tag, ",") {
		if c == string(s) {
			return true
		}
	}
	return false
}

// Load reads, expands, decodes, defaults and validates a config file.
func Load(path string) (*Config, error) { return LoadFor(path, ScopeAll) }

// LoadFor is Load for a process that needs only one scope's credentials.
func LoadFor(path string, scope Scope) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := ParseFor(raw, os.LookupEnv, scope)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse is Load on bytes, with the environment given as a lookup function.
func Parse(raw []byte, env func(string) (string, bool)) (*Config, error) {
	return ParseFor(raw, env, ScopeAll)
}

// ParseFor is LoadFor on bytes.
func ParseFor(raw []byte, env func(string) (string, bool), scope Scope) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty file is the default config.
			return Default(), nil
		}
		return nil, fmt.Errorf("config: %w: %v", ErrInvalid, err)
	}
	w := walker{env: env, scope: scope, lines: map[string]int{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.DocumentNode || (doc.Kind == yaml.ScalarNode && doc.Tag == "!!null") {
		return Default(), nil // only comments
	}
	w.walk(doc, reflect.TypeOf(Config{}), "", "")
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	c := &Config{}
	if err := doc.Decode(c); err != nil {
		return nil, fmt.Errorf("config: %w: %v", ErrInvalid, err)
	}
	c.applyDefaults()
	if errs := c.validate(w.lines, scope); len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// walker checks keys and scalar types against the Go types, expanding
// ${ENV} references in place, so that every error names its key and line.
type walker struct {
	env   func(string) (string, bool)
	scope Scope
	lines map[string]int
	errs  Errors
}

func (w *walker) fail(key string, line int, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType = reflect.TypeOf(Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))
	secretType   = reflect.TypeOf(Secret{})
)

func display(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// walk checks n against t. tag is the scope tag of the field n sits in.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path, tag string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case t == durationType || t == byteSizeType || t == secretType:
		w.scalar(n, t, path, tag)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(display(path), n.Line, "expected a mapping of keys")
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown key %q in %s", k.Value, display(path))
				if s := closest(k.Value, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				w.fail(sub, k.Line, "%s", msg)
				continue
			}
			w.lines[sub] = k.Line
			w.walk(v, f.Type, sub, f.Tag.Get("scope"))
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(display(path), n.Line, "expected a list")
			return
		}
		for i, e := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			w.lines[sub] = e.Line
			w.walk(e, t.Elem(), sub, tag)
		}
	default:
		w.scalar(n, t, path, tag)
	}
}

var envRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func (w *walker) scalar(n *yaml.Node, t reflect.Type, path, tag string) {
	if n.Kind != yaml.ScalarNode {
		w.fail(path, n.Line, "expected a single value, not a %s", kindName(n.Kind))
		return
	}
	if strings.Contains(n.Value, "$") {
		var missing []string
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$${" {
				return "${"
			}
			name := m[2 : len(m)-1]
			v, ok := w.env(name)
			if !ok && w.scope.needs(tag) {
				missing = append(missing, name)
			}
			return v
		})
		for _, name := range missing {
			w.fail(path, n.Line, "environment variable %s is not set", name)
		}
		if len(missing) > 0 {
			return
		}
		// An expanded value is data, not YAML: keep it a string unless the
		// field wants a number or a boolean.
		if n.Tag != "!!str" && t.Kind() == reflect.String {
			n.Tag = "!!str"
		}
		if t.Kind() != reflect.String {
			n.Tag = ""
			n.Style = 0
		}
	}
	var err error
	switch {
	case t == durationType:
		_, err = ParseDuration(n.Value)
	case t == byteSizeType:
		_, err = ParseByteSize(n.Value)
	case t == secretType || t.Kind() == reflect.String:
		return
	case t.Kind() == reflect.Bool:
		if _, e := strconv.ParseBool(n.Value); e != nil {
			err = fmt.Errorf("%q is not true or false", n.Value)
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		if _, e := strconv.ParseInt(n.Value, 10, 64); e != nil {
			err = fmt.Errorf("%q is not a whole number", n.Value)
		}
	}
	if err != nil {
		w.fail(path, n.Line, "%v", err)
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f
	}
	return m
}

// closest suggests the known key nearest to a misspelt one.
func closest(key string, fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, n := range names {
		if d := levenshtein(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
