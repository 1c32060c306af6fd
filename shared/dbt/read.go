package dbt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// DefaultMaxBytes is the size limit Read applies when ReadOptions.MaxBytes
// is zero. Real manifests reach a few hundred MB; past this one something
// is wrong (or a limit should be raised on purpose).
const DefaultMaxBytes int64 = 1 << 30

// ReadOptions tune Read.
type ReadOptions struct {
	// MaxBytes bounds the input; a longer input fails with ErrTooLarge as
	// soon as the limit is crossed. 0 means DefaultMaxBytes; negative means
	// no limit.
	MaxBytes int64
}

// Read decodes a manifest.json (schema v4 to v12) from r, streaming: it
// keeps only what comparing and planning need, never the whole document.
// Errors wrap ErrEmpty, ErrTooLarge, ErrSyntax, ErrInvalid or
// ErrUnsupportedVersion and say what is wrong and where.
func Read(ctx context.Context, r io.Reader, opts ReadOptions) (*Manifest, error) {
	limit := opts.MaxBytes
	if limit == 0 {
		limit = DefaultMaxBytes
	}
	lr := &limitedReader{r: r, left: limit, limit: limit}
	if limit < 0 {
		lr.left = -1
	}
	rd := &reader{
		ctx: ctx,
		dec: json.NewDecoder(lr),
		lr:  lr,
		m: &Manifest{
			nodes:     map[string]*Node{},
			testsOf:   map[string][]*Test{},
			sources:   map[string]*Source{},
			exposures: map[string]*Exposure{},
			macros:    map[string]*macro{},
			others:    map[string]*otherNode{},
			disabled:  map[string]string{},
			ids:       map[string]string{},
		},
	}
	if err := rd.read(); err != nil {
		return nil, rd.explain(err)
	}
	rd.finish()
	return rd.m, nil
}

// limitedReader fails once more than limit bytes have been read.
type limitedReader struct {
	r     io.Reader
	left  int64 // -1: no limit
	limit int64
	read  int64
}

var errLimit = errors.New("limit")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left == 0 {
		// One byte more tells a file of exactly the limit from a longer one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errLimit
		}
		return 0, err
	}
	if l.left > 0 && int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.left > 0 {
		l.left -= int64(n)
	}
	return n, err
}

type reader struct {
	ctx     context.Context
	dec     *json.Decoder
	lr      *limitedReader
	m       *Manifest
	section string // for error messages: "nodes", "sources", ...
	key     string // the entry being read in that section
	sawMeta bool
	// hasChildMap: the manifest carried a child_map (else it is derived).
	hasChildMap bool
	childMap    map[string][]string
	count       int
}

// explain turns decoder errors into errors that say what to fix.
func (rd *reader) explain(err error) error {
	where := ""
	if rd.section != "" {
		where = " in " + rd.section
		if rd.key != "" {
			where += fmt.Sprintf("[%q]", rd.key)
		}
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errLimit):
		return fmt.Errorf("%w: it is over %d bytes (raise the limit if the manifest really is this large)", ErrTooLarge, rd.lr.limit)
	case errors.Is(err, ErrEmpty), errors.Is(err, ErrUnsupportedVersion), errors.Is(err, ErrInvalid),
		errors.Is(err, ErrSyntax), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: it ends early, after %d bytes%s (a truncated download?)", ErrSyntax, rd.lr.read, where)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %s at byte %d%s", ErrSyntax, syn.Error(), syn.Offset, where)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("%w: %s%s is a JSON %s, expected %s", ErrInvalid, field, where, typ.Value, jsonKind(typ.Type.Kind().String()))
	}
	return fmt.Errorf("%w: %v%s", ErrInvalid, err, where)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	}
	return goKind
}

func (rd *reader) intern(s string) string {
	if v, ok := rd.m.ids[s]; ok {
		return v
	}
	rd.m.ids[s] = s
	return s
}

func (rd *reader) internAll(ss []string) []string {
	for i, s := range ss {
		ss[i] = rd.intern(s)
	}
	return ss
}

func (rd *reader) tick() error {
	rd.count++
	if rd.count%512 == 0 {
		return rd.ctx.Err()
	}
	return nil
}

func (rd *reader) read() error {
	tok, err := rd.dec.Token()
	if err == io.EOF {
		return ErrEmpty
	}
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: it is a JSON %s, expected an object with \"metadata\" and \"nodes\"", ErrInvalid, tokenKind(tok))
	}
	sawNodes := false
	for rd.dec.More() {
		key, err := rd.objectKey()
		if err != nil {
			return err
		}
		rd.section, rd.key = key, ""
		switch key {
		case "metadata":
			err = rd.readMetadata()
		case "nodes":
			sawNodes = true
			err = rd.readEntries(rd.readNode)
		case "sources":
			err = rd.readEntries(rd.readSource)
		case "macros":
			err = rd.readEntries(rd.readMacro)
		case "exposures":
			err = rd.readEntries(rd.readExposure)
		case "metrics", "semantic_models", "saved_queries", "unit_tests":
			err = rd.readEntries(rd.readOther)
		case "disabled":
			err = rd.readEntries(rd.readDisabled)
		case "child_map":
			err = rd.readChildMap()
		default:
			// parent_map is the same graph as depends_on; docs, selectors,
			// groups are not needed.
			err = rd.skip()
		}
		if err != nil {
			return err
		}
		if err := rd.ctx.Err(); err != nil {
			return err
		}
	}
	rd.section, rd.key = "", ""
	if _, err := rd.dec.Token(); err != nil { // the closing '}'
		return err
	}
	if _, err := rd.dec.Token(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("%w: there is more JSON after the manifest object", ErrSyntax)
		}
		return err
	}
	if !rd.sawMeta {
		return fmt.Errorf("%w: metadata.dbt_schema_version is missing (is this a dbt manifest.json?)", ErrInvalid)
	}
	if !sawNodes {
		return fmt.Errorf("%w: it has no \"nodes\" section (is this a dbt manifest.json?)", ErrInvalid)
	}
	return nil
}

func tokenKind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

func (rd *reader) objectKey() (string, error) {
	tok, err := rd.dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: expected an object key", ErrSyntax)
	}
	return k, nil
}

func (rd *reader) skip() error {
	var v struct{}
	return rd.dec.Decode(&v)
}

// readEntries walks an object of entries ({"id": {...}, ...}) calling fn on
// each key, with the decoder positioned at its value. null counts as empty.
func (rd *reader) readEntries(fn func(key string) error) error {
	tok, err := rd.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: %s is a JSON %s, expected an object", ErrInvalid, rd.section, tokenKind(tok))
	}
	for rd.dec.More() {
		key, err := rd.objectKey()
		if err != nil {
			return err
		}
		rd.key = key
		if err := fn(key); err != nil {
			return err
		}
		if err := rd.tick(); err != nil {
			return err
		}
	}
	rd.key = ""
	_, err = rd.dec.Token()
	return err
}

var schemaVersionRE = regexp.MustCompile(`/([a-z-]+)/v(\d+)(?:\.json)?$`)

type jsonMetadata struct {
	SchemaVersion string          `json:"dbt_schema_version"`
	DBTVersion    string          `json:"dbt_version"`
	GeneratedAt   string          `json:"generated_at"`
	ProjectName   string          `json:"project_name"`
	AdapterType   string          `json:"adapter_type"`
	Quoting       json.RawMessage `json:"quoting"`
}

func (rd *reader) readMetadata() error {
	var md jsonMetadata
	if err := rd.dec.Decode(&md); err != nil {
		return err
	}
	if md.SchemaVersion == "" {
		return fmt.Errorf("%w: metadata.dbt_schema_version is missing (is this a dbt manifest.json?)", ErrInvalid)
	}
	v, err := parseSchemaVersion(md.SchemaVersion)
	if err != nil {
		return err
	}
	rd.sawMeta = true
	m := rd.m
	m.SchemaVersion = v
	m.DBTVersion = md.DBTVersion
	m.GeneratedAt = md.GeneratedAt
	m.ProjectName = md.ProjectName
	m.AdapterType = md.AdapterType
	if len(md.Quoting) > 0 {
		// A malformed quoting block is not worth failing the read for: the
		// relation names carry the quoting too.
		_ = json.Unmarshal(md.Quoting, &m.metaQuote)
	}
	return nil
}

// parseSchemaVersion reads "https://schemas.getdbt.com/dbt/manifest/v12.json".
func parseSchemaVersion(s string) (int, error) {
	mm := schemaVersionRE.FindStringSubmatch(s)
	if mm == nil {
		return 0, fmt.Errorf("%w: metadata.dbt_schema_version is %q, expected a URL like https://schemas.getdbt.com/dbt/manifest/v12.json", ErrInvalid, s)
	}
	if mm[1] != "manifest" {
		return 0, fmt.Errorf("%w: this is a dbt %s artifact (%s), not a manifest.json", ErrInvalid, mm[1], s)
	}
	v, err := strconv.Atoi(mm[2])
	if err != nil || v < MinSchemaVersion || v > MaxSchemaVersion {
		return 0, fmt.Errorf("%w: the manifest is schema v%s (%s); diffgate reads v%d (dbt 1.0) to v%d (dbt 1.8 to 1.11)",
			ErrUnsupportedVersion, mm[2], s, MinSchemaVersion, MaxSchemaVersion)
	}
	return v, nil
}

// strList is a list of strings that dbt sometimes writes as one string
// (config.tags: "nightly").
type strList []string

func (s *strList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = strList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

type jsonDependsOn struct {
	Macros []string `json:"macros"`
	Nodes  []string `json:"nodes"`
}

type jsonConstraint struct {
	Type    string   `json:"type"`
	Columns []string `json:"columns"`
}

type jsonColumn struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Meta        json.RawMessage  `json:"meta"`
	DataType    *string          `json:"data_type"`
	Constraints []jsonConstraint `json:"constraints"`
	Tags        strList          `json:"tags"`
	Config      struct {
		Meta json.RawMessage `json:"meta"`
		Tags strList         `json:"tags"`
	} `json:"config"`
}

// jsonColumns keeps columns in document order.
type jsonColumns []jsonColumn

func (c *jsonColumns) UnmarshalJSON(b []byte) error {
	entries, err := objectEntries(b)
	if err != nil {
		return err
	}
	out := make(jsonColumns, 0, len(entries))
	for _, e := range entries {
		var col jsonColumn
		if err := json.Unmarshal(e.value, &col); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				typ.Field = "columns." + e.key + "." + typ.Field
				return typ
			}
			return err
		}
		if col.Name == "" {
			col.Name = e.key
		}
		out = append(out, col)
	}
	*c = out
	return nil
}

type jsonNodeConfig struct {
	Enabled      *bool           `json:"enabled"`
	Materialized string          `json:"materialized"`
	Meta         json.RawMessage `json:"meta"`
	PersistDocs  json.RawMessage `json:"persist_docs"`
	Quoting      json.RawMessage `json:"quoting"`
	UniqueKey    json.RawMessage `json:"unique_key"`
	Contract     json.RawMessage `json:"contract"`
}

type jsonTestMetadata struct {
	Name      string  `json:"name"`
	Namespace *string `json:"namespace"`
	Kwargs    struct {
		ColumnName           json.RawMessage `json:"column_name"`
		CombinationOfColumns json.RawMessage `json:"combination_of_columns"`
	} `json:"kwargs"`
}

type jsonNode struct {
	UniqueID         string   `json:"unique_id"`
	Name             string   `json:"name"`
	ResourceType     string   `json:"resource_type"`
	PackageName      string   `json:"package_name"`
	OriginalFilePath string   `json:"original_file_path"`
	Database         *string  `json:"database"`
	Schema           *string  `json:"schema"`
	Alias            *string  `json:"alias"`
	RelationName     *string  `json:"relation_name"`
	FQN              []string `json:"fqn"`
	Checksum         struct {
		Name     string `json:"name"`
		Checksum string `json:"checksum"`
	} `json:"checksum"`
	Config           jsonNodeConfig    `json:"config"`
	UnrenderedConfig json.RawMessage   `json:"unrendered_config"`
	Tags             strList           `json:"tags"`
	Description      string            `json:"description"`
	Columns          jsonColumns       `json:"columns"`
	Meta             json.RawMessage   `json:"meta"`
	RawCode          *string           `json:"raw_code"`
	RawSQL           *string           `json:"raw_sql"`
	Language         string            `json:"language"`
	DependsOn        jsonDependsOn     `json:"depends_on"`
	Contract         json.RawMessage   `json:"contract"`
	Access           string            `json:"access"`
	Constraints      []jsonConstraint  `json:"constraints"`
	Version          json.RawMessage   `json:"version"`
	LatestVersion    json.RawMessage   `json:"latest_version"`
	DeprecationDate  json.RawMessage   `json:"deprecation_date"`
	TestMetadata     *jsonTestMetadata `json:"test_metadata"`
	ColumnName       *string           `json:"column_name"`
	AttachedNode     *string           `json:"attached_node"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// excludedConfigKeys are the config fields dbt leaves out of
// state:modified.configs (NodeAndTestConfig fields marked
// CompareBehavior.Exclude): the relation keys are compared by
// state:modified.relation, and tags and group never count.
var excludedConfigKeys = map[string]bool{"alias": true, "schema": true, "database": true, "tags": true, "group": true}

func (rd *reader) readNode(key string) error {
	var jn jsonNode
	if err := rd.dec.Decode(&jn); err != nil {
		return err
	}
	if jn.UniqueID == "" {
		jn.UniqueID = key
	}
	if jn.ResourceType == "" {
		jn.ResourceType, _, _ = strings.Cut(jn.UniqueID, ".")
	}
	id := rd.intern(jn.UniqueID)
	deps := rd.internAll(jn.DependsOn.Nodes)
	if jn.ResourceType == "test" {
		if jn.TestMetadata == nil {
			rd.m.singularTests++
			rd.m.others[id] = &otherNode{resourceType: "test", name: jn.Name, dependsOn: deps}
			return nil
		}
		rd.m.tests = append(rd.m.tests, rd.makeTest(id, &jn, deps))
		return nil
	}
	n, err := rd.makeNode(id, &jn, deps)
	if err != nil {
		return err
	}
	rd.m.nodes[id] = n
	return nil
}

func (rd *reader) makeTest(id string, jn *jsonNode, deps []string) *Test {
	t := &Test{
		UniqueID:  id,
		Name:      jn.Name,
		TestName:  jn.TestMetadata.Name,
		Namespace: deref(jn.TestMetadata.Namespace),
		DependsOn: deps,
	}
	t.ColumnName = deref(jn.ColumnName)
	if t.ColumnName == "" {
		var s string
		if json.Unmarshal(jn.TestMetadata.Kwargs.ColumnName, &s) == nil {
			t.ColumnName = s
		}
	}
	if c := jn.TestMetadata.Kwargs.CombinationOfColumns; len(c) > 0 {
		var cols strList
		if json.Unmarshal(c, &cols) == nil {
			t.Combination = cols
		}
	}
	if jn.AttachedNode != nil {
		t.AttachedNode = rd.intern(*jn.AttachedNode)
	} else {
		// Before schema v9 tests do not say which node they are written
		// on: it is the first model, seed or snapshot they depend on
		// (relationships tests depend on two; the first is the one written
		// on, as dbt lists the test's own model first).
		for _, d := range deps {
			if strings.HasPrefix(d, "model.") || strings.HasPrefix(d, "seed.") || strings.HasPrefix(d, "snapshot.") {
				t.AttachedNode = d
				break
			}
		}
	}
	return t
}

func (rd *reader) makeNode(id string, jn *jsonNode, deps []string) (*Node, error) {
	n := &Node{
		UniqueID:     id,
		Name:         jn.Name,
		ResourceType: jn.ResourceType,
		PackageName:  jn.PackageName,
		Path:         jn.OriginalFilePath,
		Database:     deref(jn.Database),
		Schema:       deref(jn.Schema),
		Alias:        deref(jn.Alias),
		RelationName: deref(jn.RelationName),
		Materialized: jn.Config.Materialized,
		Language:     jn.Language,
		Tags:         jn.Tags,
		Description:  jn.Description,
		DependsOn:    deps,
		Macros:       rd.internAll(jn.DependsOn.Macros),
		meta:         nonEmptyObject(jn.Meta),
		configMeta:   nonEmptyObject(jn.Config.Meta),
		uniqueKey:    nonNull(jn.Config.UniqueKey),
		fqn:          strings.Join(jn.FQN, "\x00"),
		access:       jn.Access,
	}
	if n.Alias == "" {
		n.Alias = n.Name
	}
	if len(jn.Config.Quoting) > 0 {
		_ = json.Unmarshal(jn.Config.Quoting, &n.quoting)
	}
	n.Version = scalarString(jn.Version)
	n.latestVersion = scalarString(jn.LatestVersion)
	n.deprecationDate = scalarString(jn.DeprecationDate)
	if n.ResourceType == "model" && n.access == "" {
		// Manifests before v9 have no access; dbt reads them as protected.
		n.access = "protected"
	}

	// Body: the SQL (or Python) as written; for seeds, the file checksum.
	n.checksumName, n.checksum = jn.Checksum.Name, jn.Checksum.Checksum
	if n.ResourceType == "seed" {
		n.body = digestOf(jn.Checksum.Name, jn.Checksum.Checksum)
	} else {
		code := jn.RawCode
		if code == nil {
			code = jn.RawSQL
		}
		n.body = digestOf(deref(code))
	}

	cfg, err := configDigest(jn.UnrenderedConfig, excludedConfigKeys)
	if err != nil {
		return nil, fmt.Errorf("%w: unrendered_config: %v", ErrInvalid, err)
	}
	n.config = cfg
	if err := rd.readRelationConfig(n, jn.UnrenderedConfig); err != nil {
		return nil, err
	}

	var pd struct {
		Relation any `json:"relation"`
		Columns  any `json:"columns"`
	}
	if len(jn.Config.PersistDocs) > 0 && json.Unmarshal(jn.Config.PersistDocs, &pd) == nil {
		n.persistRelation, n.persistColumns = truthy(pd.Relation), truthy(pd.Columns)
	}
	n.descDigest = digestOf(jn.Description)
	colDesc := make([]string, 0, 2*len(jn.Columns))
	for _, c := range jn.Columns {
		colDesc = append(colDesc, c.Name, c.Description)
	}
	n.colDescDigest = digestOfSortedPairs(colDesc)

	// Contract: the node's contract (v9 and later); older manifests have
	// none, which reads as not enforced.
	var contract struct {
		Enforced bool    `json:"enforced"`
		Checksum *string `json:"checksum"`
	}
	if len(jn.Contract) > 0 && json.Unmarshal(jn.Contract, &contract) == nil {
		n.contractEnforced, n.contractChecksum = contract.Enforced, deref(contract.Checksum)
	} else if len(jn.Config.Contract) > 0 && json.Unmarshal(jn.Config.Contract, &contract) == nil {
		n.contractEnforced = contract.Enforced
	}

	for _, c := range jn.Constraints {
		n.Constraints = append(n.Constraints, Constraint{Type: c.Type, Columns: c.Columns})
	}
	n.Columns = make([]Column, 0, len(jn.Columns))
	for _, c := range jn.Columns {
		col := Column{
			Name:       c.Name,
			DataType:   deref(c.DataType),
			meta:       nonEmptyObject(c.Meta),
			configMeta: nonEmptyObject(c.Config.Meta),
		}
		col.Tags = append(col.Tags, c.Tags...)
		for _, t := range c.Config.Tags {
			if !containsString(col.Tags, t) {
				col.Tags = append(col.Tags, t)
			}
		}
		for _, k := range c.Constraints {
			col.Constraints = append(col.Constraints, Constraint{Type: k.Type, Columns: k.Columns})
		}
		n.Columns = append(n.Columns, col)
	}
	return n, nil
}

// readRelationConfig keeps the unrendered database, schema and alias: what
// state:modified.relation compares (not the rendered names, which differ
// between production and a CI schema).
func (rd *reader) readRelationConfig(n *Node, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	entries, err := objectEntries(raw)
	if err != nil {
		return fmt.Errorf("%w: unrendered_config: %v", ErrInvalid, err)
	}
	for _, e := range entries {
		i := -1
		switch e.key {
		case "database":
			i = 0
		case "schema":
			i = 1
		case "alias":
			i = 2
		}
		if i < 0 {
			continue
		}
		c, err := canonicalJSON(e.value)
		if err != nil {
			return fmt.Errorf("%w: unrendered_config.%s: %v", ErrInvalid, e.key, err)
		}
		if c == "null" {
			c = "" // .get(key) is None whether null or missing
		}
		n.dbRepr[i] = c
	}
	return nil
}

func digestOfSortedPairs(kv []string) digest {
	type pair struct{ k, v string }
	ps := make([]pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, pair{kv[i], kv[i+1]})
	}
	// insertion sort: column lists are short
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].k < ps[j-1].k; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	flat := make([]string, 0, len(kv))
	for _, p := range ps {
		flat = append(flat, p.k, p.v)
	}
	return digestOf(flat...)
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// truthy follows Python's bool() for JSON values.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return false
}

// scalarString renders a JSON string or number as text ("2" for 2 and
// "2"); null and absent give "".
func scalarString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(raw)
}

func nonNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

func nonEmptyObject(raw json.RawMessage) json.RawMessage {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == "{}" {
		return nil
	}
	return raw
}

type jsonSource struct {
	UniqueID           string          `json:"unique_id"`
	Name               string          `json:"name"`
	SourceName         string          `json:"source_name"`
	Database           *string         `json:"database"`
	Schema             *string         `json:"schema"`
	Identifier         *string         `json:"identifier"`
	RelationName       *string         `json:"relation_name"`
	Description        string          `json:"description"`
	Tags               strList         `json:"tags"`
	Meta               json.RawMessage `json:"meta"`
	FQN                []string        `json:"fqn"`
	UnrenderedConfig   json.RawMessage `json:"unrendered_config"`
	Quoting            json.RawMessage `json:"quoting"`
	Freshness          json.RawMessage `json:"freshness"`
	LoadedAtField      json.RawMessage `json:"loaded_at_field"`
	LoadedAtQuery      json.RawMessage `json:"loaded_at_query"`
	External           json.RawMessage `json:"external"`
	UnrenderedDatabase *string         `json:"unrendered_database"`
	UnrenderedSchema   *string         `json:"unrendered_schema"`
}

// sourceExcludedKeys: a source's tags and meta are not changes (dbt's
// source comparison ignores them).
var sourceExcludedKeys = map[string]bool{"tags": true, "meta": true}

func (rd *reader) readSource(key string) error {
	var js jsonSource
	if err := rd.dec.Decode(&js); err != nil {
		return err
	}
	if js.UniqueID == "" {
		js.UniqueID = key
	}
	s := &Source{
		UniqueID:     rd.intern(js.UniqueID),
		Name:         js.Name,
		SourceName:   js.SourceName,
		Database:     deref(js.Database),
		Schema:       deref(js.Schema),
		Identifier:   deref(js.Identifier),
		RelationName: deref(js.RelationName),
		Description:  js.Description,
		Tags:         js.Tags,
		meta:         nonEmptyObject(js.Meta),
	}
	if s.Identifier == "" {
		s.Identifier = s.Name
	}
	cfg, err := configDigest(js.UnrenderedConfig, sourceExcludedKeys)
	if err != nil {
		return fmt.Errorf("%w: unrendered_config: %v", ErrInvalid, err)
	}
	// The source's relation: with dbt 1.9 and later, the unrendered
	// database and schema (so a target-dependent name is not a change);
	// before, the rendered ones, as dbt compares them.
	db, schema := deref(js.Database), deref(js.Schema)
	if js.UnrenderedDatabase != nil || js.UnrenderedSchema != nil {
		db, schema = "u:"+deref(js.UnrenderedDatabase), "u:"+deref(js.UnrenderedSchema)
	}
	parts := []string{db, schema, s.Identifier, strings.Join(js.FQN, "\x00"), string(cfg[:])}
	for _, raw := range []json.RawMessage{js.Quoting, js.Freshness, js.LoadedAtField, js.LoadedAtQuery, js.External} {
		c, err := canonicalJSON(raw)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		parts = append(parts, c)
	}
	s.cmp = digestOf(parts...)
	rd.m.sources[s.UniqueID] = s
	return nil
}

type jsonMacro struct {
	UniqueID  string `json:"unique_id"`
	MacroSQL  string `json:"macro_sql"`
	DependsOn struct {
		Macros []string `json:"macros"`
	} `json:"depends_on"`
}

func (rd *reader) readMacro(key string) error {
	var jm jsonMacro
	if err := rd.dec.Decode(&jm); err != nil {
		return err
	}
	if jm.UniqueID == "" {
		jm.UniqueID = key
	}
	rd.m.macros[rd.intern(jm.UniqueID)] = &macro{sql: digestOf(jm.MacroSQL), dependsOn: rd.internAll(jm.DependsOn.Macros)}
	return nil
}

type jsonExposure struct {
	UniqueID string `json:"unique_id"`
	Name     string `json:"name"`
	Label    string `json:"label"`
	Type     string `json:"type"`
	URL      string `json:"url"`
	Owner    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"owner"`
	DependsOn jsonDependsOn `json:"depends_on"`
}

func (rd *reader) readExposure(key string) error {
	var je jsonExposure
	if err := rd.dec.Decode(&je); err != nil {
		return err
	}
	if je.UniqueID == "" {
		je.UniqueID = key
	}
	rd.m.exposures[rd.intern(je.UniqueID)] = &Exposure{
		UniqueID:   rd.intern(je.UniqueID),
		Name:       je.Name,
		Label:      je.Label,
		Type:       je.Type,
		URL:        je.URL,
		OwnerName:  je.Owner.Name,
		OwnerEmail: je.Owner.Email,
		DependsOn:  rd.internAll(je.DependsOn.Nodes),
	}
	return nil
}

type jsonOther struct {
	UniqueID     string        `json:"unique_id"`
	Name         string        `json:"name"`
	ResourceType string        `json:"resource_type"`
	DependsOn    jsonDependsOn `json:"depends_on"`
}

func (rd *reader) readOther(key string) error {
	var jo jsonOther
	if err := rd.dec.Decode(&jo); err != nil {
		return err
	}
	if jo.UniqueID == "" {
		jo.UniqueID = key
	}
	if jo.ResourceType == "" {
		jo.ResourceType, _, _ = strings.Cut(jo.UniqueID, ".")
	}
	rd.m.others[rd.intern(jo.UniqueID)] = &otherNode{resourceType: jo.ResourceType, name: jo.Name, dependsOn: rd.internAll(jo.DependsOn.Nodes)}
	return nil
}

func (rd *reader) readDisabled(key string) error {
	var versions []struct {
		ResourceType string `json:"resource_type"`
	}
	if err := rd.dec.Decode(&versions); err != nil {
		return err
	}
	rt := ""
	if len(versions) > 0 {
		rt = versions[0].ResourceType
	}
	if rt == "" {
		rt, _, _ = strings.Cut(key, ".")
	}
	rd.m.disabled[rd.intern(key)] = rt
	return nil
}

func (rd *reader) readChildMap() error {
	var cm map[string][]string
	if err := rd.dec.Decode(&cm); err != nil {
		return err
	}
	if cm == nil {
		return nil
	}
	rd.hasChildMap = true
	rd.childMap = make(map[string][]string, len(cm))
	for k, v := range cm {
		rd.childMap[rd.intern(k)] = rd.internAll(v)
	}
	return nil
}

// finish resolves what needs the whole document: relations (quoting comes
// from metadata), tests by node, and the child map when the manifest has
// none.
func (rd *reader) finish() {
	m := rd.m
	m.Quoting = defaultQuoting(m.AdapterType)
	if q := m.metaQuote; q.Database != nil || q.Schema != nil || q.Identifier != nil {
		if q.Database != nil {
			m.Quoting.Database = *q.Database
		}
		if q.Schema != nil {
			m.Quoting.Schema = *q.Schema
		}
		if q.Identifier != nil {
			m.Quoting.Identifier = *q.Identifier
		}
	}
	for _, n := range m.nodes {
		n.relation = buildRelation(n, m.Quoting)
	}
	for _, t := range m.tests {
		if t.AttachedNode != "" {
			m.testsOf[t.AttachedNode] = append(m.testsOf[t.AttachedNode], t)
		}
	}
	if rd.hasChildMap {
		m.children = rd.childMap
	} else {
		m.children = deriveChildren(m)
	}
	m.ids = nil
}

func deriveChildren(m *Manifest) map[string][]string {
	children := map[string][]string{}
	add := func(child string, parents []string) {
		for _, p := range parents {
			children[p] = append(children[p], child)
		}
	}
	for id, n := range m.nodes {
		add(id, n.DependsOn)
	}
	for _, t := range m.tests {
		add(t.UniqueID, t.DependsOn)
	}
	for id, e := range m.exposures {
		add(id, e.DependsOn)
	}
	for id, o := range m.others {
		add(id, o.dependsOn)
	}
	for k := range children {
		slices.Sort(children[k])
	}
	return children
}

// defaultQuoting is what an adapter quotes when neither the manifest nor the
// node says: every adapter quotes every part except Snowflake and Spark,
// whose dbt adapters quote nothing by default.
func defaultQuoting(adapter string) events.Quoting {
	switch strings.ToLower(adapter) {
	case "snowflake", "spark":
		return events.Quoting{}
	}
	return events.Quoting{Database: true, Schema: true, Identifier: true}
}
