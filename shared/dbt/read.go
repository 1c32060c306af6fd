package dbt

import (
	"bytes"
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
// ErrUnsupportedVersion and say what is wrong and where. Reads of different
// manifests may run concurrently (read production and the PR side by side).
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
		s:   newStream(lr),
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
	s       *stream
	lr      *limitedReader
	m       *Manifest
	section string // for error messages: "nodes", "sources", ...
	key     string // the entry being read in that section
	sawMeta bool
	// hasChildMap: the manifest carried a child_map (else it is derived).
	hasChildMap bool
	childMap    map[string][]string
	count       int
	scratch     []byte
	jn          jsonNode
}

// explain turns scanning errors into errors that say what to fix.
func (rd *reader) explain(err error) error {
	where := ""
	if rd.section != "" {
		where = " in " + rd.section
		if rd.key != "" {
			where += fmt.Sprintf("[%q]", rd.key)
		}
	}
	var syn *syntaxError
	var typ *typeError
	switch {
	case errors.Is(err, errLimit):
		return fmt.Errorf("%w: it is over %d bytes (raise the limit if the manifest really is this large)", ErrTooLarge, rd.lr.limit)
	case errors.Is(err, ErrEmpty), errors.Is(err, ErrUnsupportedVersion), errors.Is(err, ErrInvalid),
		errors.Is(err, ErrSyntax), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, errTruncated):
		return fmt.Errorf("%w: it ends early, after %d bytes%s (a truncated download?)", ErrSyntax, rd.lr.read, where)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %s%s", ErrSyntax, syn.Error(), where)
	case errors.As(err, &typ):
		path := typ.path
		if path == "" {
			path = "the value"
		}
		return fmt.Errorf("%w: %s%s is a JSON %s, expected %s", ErrInvalid, path, where, typ.got, typ.want)
	}
	return fmt.Errorf("reading the manifest%s: %w", where, err)
}

func (rd *reader) intern(s string) string {
	if v, ok := rd.m.ids[s]; ok {
		return v
	}
	rd.m.ids[s] = s
	return s
}

// internBytes interns without allocating when the id is known already.
func (rd *reader) internBytes(b []byte) string {
	if v, ok := rd.m.ids[string(b)]; ok {
		return v
	}
	s := string(b)
	rd.m.ids[s] = s
	return s
}

// ids reads a list of unique_ids, interned.
func (rd *reader) ids(d *decoder) ([]string, error) {
	var out []string
	err := d.array(func() error {
		b, err := d.strBytes()
		out = append(out, rd.internBytes(b))
		return err
	})
	return out, err
}

func (rd *reader) tick() error {
	rd.count++
	if rd.count%512 == 0 {
		return rd.ctx.Err()
	}
	return nil
}

func (rd *reader) read() error {
	c, err := rd.s.peek()
	if err == io.EOF {
		return ErrEmpty
	}
	if err != nil {
		return err
	}
	if c != '{' {
		if kindOf(c) == "non-JSON text" {
			return fmt.Errorf("%w: it starts with %q, not JSON (an error page instead of the file?)", ErrInvalid, c)
		}
		return fmt.Errorf("%w: it is a JSON %s, expected an object with \"metadata\" and \"nodes\"", ErrInvalid, kindOf(c))
	}
	rd.s.pos++
	sawNodes := false
	for first := true; ; first = false {
		more, err := rd.s.more(first, '}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := rd.s.key()
		if err != nil {
			return err
		}
		rd.section, rd.key = key, ""
		switch key {
		case "metadata":
			err = rd.one(rd.readMetadata)
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
			rd.hasChildMap = true
			rd.childMap = map[string][]string{}
			err = rd.readEntries(rd.readChildren)
		default:
			// parent_map is the same graph as depends_on; docs, selectors,
			// groups are not needed.
			_, err = rd.s.value(false)
		}
		if err != nil {
			return err
		}
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		if key == "metadata" && !rd.sawMeta {
			return fmt.Errorf("%w: metadata.dbt_schema_version is missing (is this a dbt manifest.json?)", ErrInvalid)
		}
	}
	rd.section, rd.key = "", ""
	if _, err := rd.s.peek(); err != io.EOF {
		if err == nil {
			return &syntaxError{msg: "more data after the manifest object", offset: rd.s.offset()}
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

// one reads a single value with fn.
func (rd *reader) one(fn func(d *decoder) error) error {
	c, err := rd.s.peek()
	if err == io.EOF {
		return errTruncated
	}
	if err != nil {
		return err
	}
	if c == '{' || c == '[' {
		// Fast path: decode straight from the buffer. An object or array
		// decodes only once its closing bracket is seen, so success means
		// the value was whole.
		d := &decoder{b: rd.s.buf[rd.s.pos:rd.s.end], base: rd.s.offset(), scratch: rd.scratch[:0]}
		err := fn(d)
		rd.scratch = d.scratch
		if err == nil {
			rd.s.pos += d.i
			return nil
		}
		// The value runs past the buffer (or is malformed): find its end,
		// then decode it again.
	}
	base := rd.s.offset()
	raw, err := rd.s.value(true)
	if err != nil {
		return err
	}
	d := &decoder{b: raw, base: base, scratch: rd.scratch[:0]}
	err = fn(d)
	rd.scratch = d.scratch
	if err == nil && d.peek() != 0 {
		err = d.syntax("unexpected data after the value")
	}
	return err
}

// readEntries walks an object of entries ({"id": {...}, ...}) calling fn on
// each value. null counts as empty.
func (rd *reader) readEntries(fn func(key string, d *decoder) error) error {
	c, err := rd.s.peek()
	if err == io.EOF {
		return errTruncated
	}
	if err != nil {
		return err
	}
	if c == 'n' {
		_, err := rd.s.value(false)
		return err
	}
	if c != '{' {
		return &typeError{want: "an object", got: kindOf(c)}
	}
	rd.s.pos++
	for first := true; ; first = false {
		more, err := rd.s.more(first, '}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := rd.s.key()
		if err != nil {
			return err
		}
		rd.key = key
		if err := rd.one(func(d *decoder) error { return fn(key, d) }); err != nil {
			return err
		}
		if err := rd.tick(); err != nil {
			return err
		}
	}
	rd.key = ""
	return nil
}

var schemaVersionRE = regexp.MustCompile(`/([a-z-]+)/v(\d+)(?:\.json)?$`)

func (rd *reader) readMetadata(d *decoder) error {
	var schema, quoting []byte
	m := rd.m
	err := d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "dbt_schema_version":
			schema, err = d.strBytes()
			schema = bytes.Clone(schema)
		case "dbt_version":
			m.DBTVersion, err = d.str()
		case "generated_at":
			m.GeneratedAt, err = d.str()
		case "project_name":
			m.ProjectName, err = d.str()
		case "adapter_type":
			m.AdapterType, err = d.str()
		case "quoting":
			quoting, err = d.raw()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(schema) == 0 {
		return fmt.Errorf("%w: metadata.dbt_schema_version is missing (is this a dbt manifest.json?)", ErrInvalid)
	}
	v, err := parseSchemaVersion(string(schema))
	if err != nil {
		return err
	}
	rd.sawMeta = true
	m.SchemaVersion = v
	if len(quoting) > 0 {
		// A malformed quoting block is not worth failing the read for: the
		// relation names carry the quoting too.
		q := smallObject(quoting)
		m.metaQuote = metaQuoting{Database: q.boolPtr("database"), Schema: q.boolPtr("schema"), Identifier: q.boolPtr("identifier")}
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

type jsonDependsOn struct {
	Macros []string
	Nodes  []string
}

func (rd *reader) dependsOn(d *decoder, out *jsonDependsOn) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "macros":
			out.Macros, err = rd.ids(d)
		case "nodes":
			out.Nodes, err = rd.ids(d)
		default:
			err = d.skip()
		}
		return err
	})
}

type jsonConstraint struct {
	Type    string
	Columns []string
}

func constraints(d *decoder) ([]jsonConstraint, error) {
	var out []jsonConstraint
	err := d.array(func() error {
		var c jsonConstraint
		err := d.object(func(k []byte) error {
			var err error
			switch string(k) {
			case "type":
				c.Type, err = d.str()
			case "columns":
				c.Columns, err = d.strList()
			default:
				err = d.skip()
			}
			return err
		})
		out = append(out, c)
		return err
	})
	return out, err
}

type jsonColumn struct {
	Name        string
	Description digest
	Meta        []byte
	DataType    string
	Constraints []jsonConstraint
	Tags        []string
	ConfigMeta  []byte
	ConfigTags  []string
}

// columns reads the columns object, in document order, appending to out
// (a buffer reused from node to node).
func columns(d *decoder, out []jsonColumn) ([]jsonColumn, error) {
	err := d.object(func(key []byte) error {
		c := jsonColumn{}
		if err := column(d, &c); err != nil {
			return err
		}
		if c.Name == "" {
			c.Name = string(key)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func column(d *decoder, c *jsonColumn) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "name":
			c.Name, err = d.str()
		case "description":
			var b []byte
			b, err = d.strBytes()
			c.Description = digestOfBytes(b)
		case "meta":
			c.Meta, err = d.raw()
		case "data_type":
			c.DataType, err = d.str()
		case "constraints":
			c.Constraints, err = constraints(d)
		case "tags":
			c.Tags, err = d.strOrList()
		case "config":
			err = columnConfig(d, c)
		default:
			err = d.skip()
		}
		return err
	})
}

func columnConfig(d *decoder, c *jsonColumn) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "meta":
			c.ConfigMeta, err = d.raw()
		case "tags":
			c.ConfigTags, err = d.strOrList()
		default:
			err = d.skip()
		}
		return err
	})
}

type jsonNodeConfig struct {
	Materialized string
	Meta         []byte
	PersistDocs  []byte
	Quoting      []byte
	UniqueKey    []byte
	Contract     []byte
}

type jsonTestMetadata struct {
	Name                 string
	Namespace            string
	ColumnName           []byte
	CombinationOfColumns []byte
	Model                []byte // "{{ get_where_subquery(ref('orders')) }}"
}

type jsonNode struct {
	UniqueID         string
	Name             string
	ResourceType     string
	PackageName      string
	OriginalFilePath string
	Database         string
	Schema           string
	Alias            string
	RelationName     string
	FQN              digest
	ChecksumName     string
	Checksum         string
	Config           jsonNodeConfig
	UnrenderedConfig []byte
	Tags             []string
	Description      string
	Columns          []jsonColumn
	Meta             []byte
	Body             digest // of raw_code (raw_sql before v7)
	Language         string
	DependsOn        jsonDependsOn
	Contract         []byte
	Access           string
	Constraints      []jsonConstraint
	Version          []byte
	LatestVersion    []byte
	DeprecationDate  []byte
	TestMetadata     *jsonTestMetadata
	ColumnName       string
	AttachedNode     string
}

// node reads the fields of a node that diffgate uses. Byte-slice fields
// point into the decoder's input and are only valid while reading it.
func (rd *reader) node(d *decoder, jn *jsonNode) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "unique_id":
			jn.UniqueID, err = d.str()
		case "name":
			jn.Name, err = d.str()
		case "resource_type":
			jn.ResourceType, err = d.str()
		case "package_name":
			jn.PackageName, err = rd.internStr(d)
		case "original_file_path":
			jn.OriginalFilePath, err = d.str()
		case "database":
			jn.Database, err = rd.internStr(d)
		case "schema":
			jn.Schema, err = rd.internStr(d)
		case "alias":
			jn.Alias, err = d.str()
		case "relation_name":
			jn.RelationName, err = d.str()
		case "fqn":
			jn.FQN, err = fqnDigest(d)
		case "checksum":
			err = checksum(d, jn)
		case "config":
			err = nodeConfig(d, &jn.Config)
		case "unrendered_config":
			jn.UnrenderedConfig, err = d.raw()
		case "tags":
			jn.Tags, err = d.strOrList()
		case "description":
			jn.Description, err = d.str()
		case "columns":
			jn.Columns, err = columns(d, jn.Columns[:0])
		case "meta":
			jn.Meta, err = d.raw()
		case "raw_code", "raw_sql":
			// Only a fingerprint of the body is kept.
			var b []byte
			b, err = d.strBytes()
			jn.Body = digestOfBytes(b)
		case "language":
			jn.Language, err = rd.internStr(d)
		case "depends_on":
			err = rd.dependsOn(d, &jn.DependsOn)
		case "contract":
			jn.Contract, err = d.raw()
		case "access":
			jn.Access, err = rd.internStr(d)
		case "constraints":
			jn.Constraints, err = constraints(d)
		case "version":
			jn.Version, err = d.raw()
		case "latest_version":
			jn.LatestVersion, err = d.raw()
		case "deprecation_date":
			jn.DeprecationDate, err = d.raw()
		case "column_name":
			jn.ColumnName, err = d.str()
		case "attached_node":
			jn.AttachedNode, err = rd.internStr(d)
		case "test_metadata":
			err = testMetadata(d, jn)
		default:
			err = d.skip()
		}
		return err
	})
}

// testNode reads what diffgate needs of a test: what it tests and on
// which node. Tests are most of a manifest's nodes, so the rest is skipped
// unread.
func (rd *reader) testNode(d *decoder, jn *jsonNode) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "unique_id":
			jn.UniqueID, err = d.str()
		case "name":
			jn.Name, err = d.str()
		case "resource_type":
			jn.ResourceType, err = rd.internStr(d)
		case "depends_on":
			err = rd.dependsOn(d, &jn.DependsOn)
		case "column_name":
			jn.ColumnName, err = d.str()
		case "attached_node":
			jn.AttachedNode, err = rd.internStr(d)
		case "test_metadata":
			err = testMetadata(d, jn)
		default:
			err = d.skip()
		}
		return err
	})
}

// internStr reads a string that repeats across nodes (a schema, a
// package), sharing one copy.
func (rd *reader) internStr(d *decoder) (string, error) {
	b, err := d.strBytes()
	if err != nil || len(b) == 0 {
		return "", err
	}
	return rd.internBytes(b), nil
}

// fqnDigest fingerprints an fqn list (only compared, never shown).
func fqnDigest(d *decoder) (digest, error) {
	var buf []byte
	err := d.array(func() error {
		b, err := d.strBytes()
		buf = strconv.AppendInt(buf, int64(len(b)), 10)
		buf = append(buf, ':')
		buf = append(buf, b...)
		return err
	})
	if err != nil {
		return digest{}, err
	}
	return digestOfBytes(buf), nil
}

func checksum(d *decoder, jn *jsonNode) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "name":
			jn.ChecksumName, err = d.str()
		case "checksum":
			jn.Checksum, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
}

func nodeConfig(d *decoder, c *jsonNodeConfig) error {
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "materialized":
			c.Materialized, err = d.str()
		case "meta":
			c.Meta, err = d.raw()
		case "persist_docs":
			c.PersistDocs, err = d.raw()
		case "quoting":
			c.Quoting, err = d.raw()
		case "unique_key":
			c.UniqueKey, err = d.raw()
		case "contract":
			c.Contract, err = d.raw()
		default:
			err = d.skip()
		}
		return err
	})
}

func testMetadata(d *decoder, jn *jsonNode) error {
	if d.null() {
		return nil // a singular test
	}
	tm := &jsonTestMetadata{}
	jn.TestMetadata = tm
	return d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "name":
			tm.Name, err = d.str()
		case "namespace":
			tm.Namespace, err = d.str()
		case "kwargs":
			err = d.object(func(k []byte) error {
				var err error
				switch string(k) {
				case "column_name":
					tm.ColumnName, err = d.raw()
				case "combination_of_columns":
					tm.CombinationOfColumns, err = d.raw()
				case "model":
					tm.Model, err = d.raw()
				default:
					err = d.skip()
				}
				return err
			})
		default:
			err = d.skip()
		}
		return err
	})
}

// excludedConfigKeys are the config fields dbt leaves out of
// state:modified.configs (NodeAndTestConfig fields marked
// CompareBehavior.Exclude): the relation keys are compared by
// state:modified.relation, and tags and group never count.
var excludedConfigKeys = map[string]bool{"alias": true, "schema": true, "database": true, "tags": true, "group": true}

func (rd *reader) readNode(key string, d *decoder) error {
	// One jsonNode serves every node; its columns buffer is kept.
	jn := &rd.jn
	*jn = jsonNode{Columns: jn.Columns[:0]}
	read := rd.node
	if strings.HasPrefix(key, "test.") {
		read = rd.testNode
	}
	if err := read(d, jn); err != nil {
		return err
	}
	if jn.UniqueID == "" {
		jn.UniqueID = key
	}
	if jn.ResourceType == "" {
		jn.ResourceType, _, _ = strings.Cut(jn.UniqueID, ".")
	}
	id := rd.intern(jn.UniqueID)
	deps := jn.DependsOn.Nodes
	if jn.ResourceType == "test" {
		if jn.TestMetadata == nil {
			rd.m.singularTests++
			rd.m.others[id] = &otherNode{resourceType: "test", name: jn.Name, dependsOn: deps}
			return nil
		}
		rd.m.tests = append(rd.m.tests, rd.makeTest(id, jn, deps))
		return nil
	}
	n, err := rd.makeNode(id, jn, deps)
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
		Namespace: jn.TestMetadata.Namespace,
		DependsOn: deps,
	}
	t.ColumnName = jn.ColumnName
	if t.ColumnName == "" && len(jn.TestMetadata.ColumnName) > 0 {
		d := decoder{b: jn.TestMetadata.ColumnName}
		if s, err := d.str(); err == nil {
			t.ColumnName = s
		}
	}
	if c := jn.TestMetadata.CombinationOfColumns; len(c) > 0 {
		d := decoder{b: c}
		if cols, err := d.strOrList(); err == nil {
			t.Combination = cols
		}
	}
	if jn.AttachedNode != "" {
		t.AttachedNode = jn.AttachedNode
	} else {
		// Before schema v9 tests do not say which node they are written
		// on: it is the one kwargs.model refers to, among the nodes the
		// test depends on (a relationships test depends on two).
		t.AttachedNode = testedNode(jn.TestMetadata.Model, deps)
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
		Database:     jn.Database,
		Schema:       jn.Schema,
		Alias:        jn.Alias,
		RelationName: jn.RelationName,
		Materialized: jn.Config.Materialized,
		Language:     jn.Language,
		Tags:         jn.Tags,
		Description:  jn.Description,
		DependsOn:    deps,
		Macros:       jn.DependsOn.Macros,
		meta:         nonEmptyObject(jn.Meta),
		configMeta:   nonEmptyObject(jn.Config.Meta),
		uniqueKey:    nonNull(jn.Config.UniqueKey),
		fqn:          jn.FQN,
		access:       jn.Access,
	}
	if n.Alias == "" {
		n.Alias = n.Name
	}
	q := smallObject(jn.Config.Quoting)
	n.quoting = nodeQuoting{Database: q.boolPtr("database"), Schema: q.boolPtr("schema"), Identifier: q.boolPtr("identifier")}
	n.Version = scalarString(jn.Version)
	n.latestVersion = scalarString(jn.LatestVersion)
	n.deprecationDate = scalarString(jn.DeprecationDate)
	if n.ResourceType == "model" && n.access == "" {
		// Manifests before v9 have no access; dbt reads them as protected.
		n.access = "protected"
	}

	// Body: the SQL (or Python) as written; for seeds, the file checksum.
	n.checksumName, n.checksum = jn.ChecksumName, jn.Checksum
	if n.ResourceType == "seed" {
		n.body = digestOf(jn.ChecksumName, jn.Checksum)
	} else {
		n.body = jn.Body
	}

	cfg, err := configDigest(jn.UnrenderedConfig, excludedConfigKeys, &n.dbRepr)
	if err != nil {
		return nil, inField([]byte("unrendered_config"), err)
	}
	n.config = cfg
	pd := smallObject(jn.Config.PersistDocs)
	n.persistRelation, n.persistColumns = pd.truthy("relation"), pd.truthy("columns")
	n.descDigest = digestOf(jn.Description)
	n.colDescDigest = columnDescriptions(jn.Columns)

	// Contract: the node's contract (v9 and later); older manifests have
	// none, which reads as not enforced.
	if c := smallObject(jn.Contract); c != nil {
		n.contractEnforced = c.truthy("enforced")
		n.contractChecksum = c.str("checksum")
	} else {
		n.contractEnforced = smallObject(jn.Config.Contract).truthy("enforced")
	}

	for _, c := range jn.Constraints {
		n.Constraints = append(n.Constraints, Constraint(c))
	}
	n.Columns = make([]Column, 0, len(jn.Columns))
	for _, c := range jn.Columns {
		col := Column{
			Name:       c.Name,
			DataType:   c.DataType,
			meta:       nonEmptyObject(c.Meta),
			configMeta: nonEmptyObject(c.ConfigMeta),
		}
		col.Tags = append(col.Tags, c.Tags...)
		for _, t := range c.ConfigTags {
			if !containsString(col.Tags, t) {
				col.Tags = append(col.Tags, t)
			}
		}
		for _, k := range c.Constraints {
			col.Constraints = append(col.Constraints, Constraint(k))
		}
		n.Columns = append(n.Columns, col)
	}
	return n, nil
}

// columnDescriptions fingerprints the columns' descriptions by name, as
// dbt compares them (a dict: order does not matter).
func columnDescriptions(cols []jsonColumn) digest {
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(cols[a].Name, cols[b].Name) })
	h := newHasher()
	for _, i := range idx {
		h.part(cols[i].Name)
		h.bytes(cols[i].Description[:])
	}
	return h.sum()
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// smallObj is a parsed small flat object (config.quoting, contract,
// persist_docs): its members' raw values in document order.
type smallObj []smallMember

type smallMember struct {
	key string
	val []byte
}

// smallObject parses raw; anything that is not an object gives nil.
func smallObject(raw []byte) smallObj {
	d := decoder{b: raw}
	if d.peek() != '{' {
		return nil
	}
	out := smallObj{}
	err := d.object(func(k []byte) error {
		v, err := d.raw()
		out = append(out, smallMember{string(k), v})
		return err
	})
	if err != nil {
		return nil
	}
	return out
}

func (o smallObj) get(key string) []byte {
	for _, m := range o {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// truthy follows Python's bool() for the member's JSON value.
func (o smallObj) truthy(key string) bool {
	v := o.get(key)
	switch {
	case len(v) == 0:
		return false
	case v[0] == '"':
		return len(v) > 2
	case v[0] == '{' || v[0] == '[':
		return len(bytes.TrimSpace(v[1:len(v)-1])) > 0
	}
	switch string(v) {
	case "false", "null", "0", "0.0":
		return false
	}
	return true
}

func (o smallObj) boolPtr(key string) *bool {
	switch string(o.get(key)) {
	case "true":
		t := true
		return &t
	case "false":
		f := false
		return &f
	}
	return nil
}

func (o smallObj) str(key string) string {
	v := o.get(key)
	if len(v) == 0 || v[0] != '"' {
		return ""
	}
	d := decoder{b: v}
	s, _ := d.str()
	return s
}

// scalarString renders a JSON string or number as text ("2" for 2 and
// "2"); null and absent give "".
func scalarString(raw []byte) string {
	d := decoder{b: raw}
	switch c := d.peek(); {
	case c == 0 || c == 'n':
		return ""
	case c == '"':
		s, _ := d.str()
		return s
	}
	t := bytes.TrimSpace(raw)
	if f, err := strconv.ParseFloat(string(t), 64); err == nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(t)
}

// nonNull copies a raw value out of the decoder's buffer unless it is null.
func nonNull(raw []byte) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return bytes.Clone(raw)
}

// nonEmptyObject copies a raw object out of the decoder's buffer unless it
// is empty.
func nonEmptyObject(raw []byte) json.RawMessage {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || string(s) == "null" || string(s) == "{}" {
		return nil
	}
	return bytes.Clone(raw)
}

// sourceExcludedKeys: a source's tags and meta are not changes (dbt's
// source comparison ignores them).
var sourceExcludedKeys = map[string]bool{"tags": true, "meta": true}

func (rd *reader) readSource(key string, d *decoder) error {
	s := &Source{}
	var fqn []string
	var cfg, quoting, freshness, loadedAtField, loadedAtQuery, external, meta []byte
	var unDB, unSchema string
	hasUnrendered := false
	err := d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "unique_id":
			s.UniqueID, err = d.str()
		case "name":
			s.Name, err = d.str()
		case "source_name":
			s.SourceName, err = d.str()
		case "database":
			s.Database, err = d.str()
		case "schema":
			s.Schema, err = d.str()
		case "identifier":
			s.Identifier, err = d.str()
		case "relation_name":
			s.RelationName, err = d.str()
		case "description":
			s.Description, err = d.str()
		case "tags":
			s.Tags, err = d.strOrList()
		case "meta":
			meta, err = d.raw()
		case "fqn":
			fqn, err = d.strList()
		case "unrendered_config":
			cfg, err = d.raw()
		case "quoting":
			quoting, err = d.raw()
		case "freshness":
			freshness, err = d.raw()
		case "loaded_at_field":
			loadedAtField, err = d.raw()
		case "loaded_at_query":
			loadedAtQuery, err = d.raw()
		case "external":
			external, err = d.raw()
		case "unrendered_database":
			hasUnrendered = true
			unDB, err = d.str()
		case "unrendered_schema":
			hasUnrendered = true
			unSchema, err = d.str()
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	if s.UniqueID == "" {
		s.UniqueID = key
	}
	s.UniqueID = rd.intern(s.UniqueID)
	s.meta = nonEmptyObject(meta)
	if s.Identifier == "" {
		s.Identifier = s.Name
	}
	cd, err := configDigest(cfg, sourceExcludedKeys, nil)
	if err != nil {
		return fmt.Errorf("%w: unrendered_config: %v", ErrInvalid, err)
	}
	// The source's relation: with dbt 1.9 and later, the unrendered
	// database and schema (so a target-dependent name is not a change);
	// before, the rendered ones, as dbt compares them.
	db, schema := s.Database, s.Schema
	if hasUnrendered {
		db, schema = "u:"+unDB, "u:"+unSchema
	}
	parts := []string{db, schema, s.Identifier, strings.Join(fqn, "\x00"), string(cd[:])}
	for _, raw := range [][]byte{quoting, freshness, loadedAtField, loadedAtQuery, external} {
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

func (rd *reader) readMacro(key string, d *decoder) error {
	id := key
	var sql digest
	var deps []string
	err := d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "unique_id":
			id, err = d.str()
		case "macro_sql":
			var b []byte
			b, err = d.strBytes()
			sql = digestOfBytes(b)
		case "depends_on":
			var dep jsonDependsOn
			err = rd.dependsOn(d, &dep)
			deps = dep.Macros
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	rd.m.macros[rd.intern(id)] = &macro{sql: sql, dependsOn: deps}
	return nil
}

func (rd *reader) readExposure(key string, d *decoder) error {
	e := &Exposure{}
	err := d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "unique_id":
			e.UniqueID, err = d.str()
		case "name":
			e.Name, err = d.str()
		case "label":
			e.Label, err = d.str()
		case "type":
			e.Type, err = d.str()
		case "url":
			e.URL, err = d.str()
		case "owner":
			err = d.object(func(k []byte) error {
				var err error
				switch string(k) {
				case "name":
					e.OwnerName, err = d.str()
				case "email":
					// dbt 1.9 allows a list of emails.
					if d.peek() == '[' {
						var l []string
						l, err = d.strList()
						e.OwnerEmail = strings.Join(l, ", ")
					} else {
						e.OwnerEmail, err = d.str()
					}
				default:
					err = d.skip()
				}
				return err
			})
		case "depends_on":
			var dep jsonDependsOn
			err = rd.dependsOn(d, &dep)
			e.DependsOn = dep.Nodes
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	if e.UniqueID == "" {
		e.UniqueID = key
	}
	e.UniqueID = rd.intern(e.UniqueID)
	rd.m.exposures[e.UniqueID] = e
	return nil
}

func (rd *reader) readOther(key string, d *decoder) error {
	o := &otherNode{}
	id := ""
	err := d.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "unique_id":
			id, err = d.str()
		case "name":
			o.name, err = d.str()
		case "resource_type":
			o.resourceType, err = d.str()
		case "depends_on":
			var dep jsonDependsOn
			err = rd.dependsOn(d, &dep)
			o.dependsOn = dep.Nodes
		default:
			err = d.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	if id == "" {
		id = key
	}
	if o.resourceType == "" {
		o.resourceType, _, _ = strings.Cut(id, ".")
	}
	rd.m.others[rd.intern(id)] = o
	return nil
}

func (rd *reader) readDisabled(key string, d *decoder) error {
	rt := ""
	err := d.array(func() error {
		return d.object(func(k []byte) error {
			if string(k) == "resource_type" && rt == "" {
				var err error
				rt, err = d.str()
				return err
			}
			return d.skip()
		})
	})
	if err != nil {
		return err
	}
	if rt == "" {
		rt, _, _ = strings.Cut(key, ".")
	}
	rd.m.disabled[rd.intern(key)] = rt
	return nil
}

func (rd *reader) readChildren(key string, d *decoder) error {
	ids, err := rd.ids(d)
	if err != nil {
		return err
	}
	rd.childMap[rd.intern(key)] = ids
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

var refRE = regexp.MustCompile(`\b(ref|source)\(\s*['"]([^'"]+)['"](?:\s*,\s*['"]([^'"]+)['"])?`)

// testedNode finds the node a test is written on from its kwargs.model
// ("{{ get_where_subquery(ref('orders')) }}") among the nodes it depends
// on; without a match, the first model, seed or snapshot.
func testedNode(model []byte, deps []string) string {
	if m := refRE.FindSubmatch(model); m != nil {
		name := string(m[2])
		if string(m[1]) == "source" && len(m[3]) > 0 {
			name += "." + string(m[3])
		} else if string(m[1]) == "ref" && len(m[3]) > 0 {
			name = string(m[3]) // ref('package', 'model')
		}
		for _, d := range deps {
			if strings.HasSuffix(d, "."+name) {
				return d
			}
		}
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "model.") || strings.HasPrefix(d, "seed.") || strings.HasPrefix(d, "snapshot.") {
			return d
		}
	}
	return ""
}
