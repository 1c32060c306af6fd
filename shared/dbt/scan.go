package dbt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The manifest reader does its own JSON scanning: encoding/json decodes a
// 100 MB manifest at about 70 MB/s, too slow for a 10,000-model project,
// while most of the bytes (compiled SQL, docs) only need skipping. The
// stream below cuts the document into one value per node; the decoder
// then picks the fields it needs out of that value.

// typeError is a field holding the wrong kind of JSON value.
type typeError struct {
	path string // e.g. config.materialized
	want string // "a string"
	got  string // "number"
}

func (e *typeError) Error() string {
	return fmt.Sprintf("%s is a JSON %s, expected %s", e.path, e.got, e.want)
}

// syntaxError is malformed JSON at an offset of the document.
type syntaxError struct {
	msg    string
	offset int64
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.offset) }

// errTruncated: the input ended inside a value.
var errTruncated = errors.New("truncated")

// stream reads the top levels of a document from an io.Reader and hands
// out complete values as byte slices, keeping in memory only the value
// being handed out.
type stream struct {
	r    io.Reader
	buf  []byte
	pos  int   // next unread byte
	end  int   // end of valid data
	base int64 // offset of buf[0] in the document
	eof  bool
	err  error // a read error other than EOF
}

func newStream(r io.Reader) *stream {
	return &stream{r: r, buf: make([]byte, 1<<20)}
}

func (s *stream) offset() int64 { return s.base + int64(s.pos) }

// fill reads more input, keeping buf[keep:] (keep <= pos). It reports
// whether anything was read.
func (s *stream) fill(keep int) bool {
	if s.eof || s.err != nil {
		return false
	}
	if keep > 0 {
		copy(s.buf, s.buf[keep:s.end])
		s.base += int64(keep)
		s.pos -= keep
		s.end -= keep
	}
	if s.end == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.err = err
		}
		if n > 0 || s.eof || s.err != nil {
			return n > 0
		}
	}
}

func (s *stream) failure() error {
	if s.err != nil {
		return s.err
	}
	return errTruncated
}

// peek skips whitespace and returns the next byte without consuming it.
func (s *stream) peek() (byte, error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\n', '\r', '\t':
				s.pos++
			default:
				return c, nil
			}
		}
		if !s.fill(s.pos) {
			if s.err != nil {
				return 0, s.err
			}
			return 0, io.EOF
		}
	}
}

func (s *stream) expect(c byte) error {
	got, err := s.peek()
	if err == io.EOF {
		return errTruncated
	}
	if err != nil {
		return err
	}
	if got != c {
		return &syntaxError{msg: fmt.Sprintf("expected %q, found %q", c, got), offset: s.offset()}
	}
	s.pos++
	return nil
}

// more reads the separator after an entry (or before the first) of an
// object or array: true when another entry follows.
func (s *stream) more(first bool, closer byte) (bool, error) {
	c, err := s.peek()
	if err == io.EOF {
		return false, errTruncated
	}
	if err != nil {
		return false, err
	}
	if c == closer {
		s.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, &syntaxError{msg: fmt.Sprintf("expected ',' or %q, found %q", closer, c), offset: s.offset()}
		}
		s.pos++
	}
	return true, nil
}

// key reads an object key and its colon.
func (s *stream) key() (string, error) {
	raw, err := s.value(true)
	if err != nil {
		return "", err
	}
	if raw[0] != '"' {
		return "", &syntaxError{msg: "expected an object key", offset: s.offset() - int64(len(raw))}
	}
	d := decoder{b: raw}
	k, err := d.str()
	if err != nil {
		return "", err
	}
	return k, s.expect(':')
}

// value returns the next complete value. The slice is valid until the next
// call. With keep false the value is skipped without being kept in memory
// (the returned slice is then nil).
func (s *stream) value(keep bool) ([]byte, error) {
	if _, err := s.peek(); err != nil {
		if err == io.EOF {
			return nil, errTruncated
		}
		return nil, err
	}
	start := s.pos
	var st scanState
	i := s.pos
	for {
		n, done, err := st.scan(s.buf[i:s.end])
		if err != nil {
			return nil, &syntaxError{msg: err.Error(), offset: s.base + int64(i+n)}
		}
		i += n
		if done {
			s.pos = i
			if !keep {
				return nil, nil
			}
			return s.buf[start:i], nil
		}
		keepFrom := start
		if !keep {
			keepFrom = i
		}
		ok := s.fill(keepFrom)
		i -= keepFrom
		start -= keepFrom
		if !ok {
			if st.scalarPending() && s.eof {
				// A number or literal that ends the document.
				s.pos = s.end
				if !keep {
					return nil, nil
				}
				return s.buf[start:s.end], nil
			}
			return nil, s.failure()
		}
	}
}

// scanState finds the end of one JSON value across buffer refills.
type scanState struct {
	started  bool
	inString bool
	escape   bool
	scalar   bool   // a number or literal, which ends at a delimiter
	stack    []byte // open brackets
}

func (st *scanState) scalarPending() bool { return st.scalar }

// scan consumes b; it returns how many bytes belong to the value and
// whether the value ended.
func (st *scanState) scan(b []byte) (int, bool, error) {
	i := 0
	for i < len(b) {
		if st.inString {
			if st.escape {
				st.escape = false
				i++
				continue
			}
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				// The string goes on in the next buffer; a trailing
				// backslash escapes its first byte.
				st.escape = trailingBackslashes(b[i:])%2 == 1
				return len(b), false, nil
			}
			if trailingBackslashes(b[i:i+j])%2 == 1 {
				i += j + 1 // an escaped quote
				continue
			}
			i += j
			st.inString = false
			i++
			if len(st.stack) == 0 {
				return i, true, nil
			}
			continue
		}
		c := b[i]
		if st.scalar {
			switch c {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i, true, nil
			}
			i++
			continue
		}
		switch c {
		case '"':
			st.inString, st.started = true, true
		case '{', '[':
			st.stack = append(st.stack, c)
			st.started = true
		case '}', ']':
			if len(st.stack) == 0 {
				return i, false, fmt.Errorf("unexpected %q", c)
			}
			open := st.stack[len(st.stack)-1]
			if (open == '{') != (c == '}') {
				return i, false, fmt.Errorf("mismatched %q", c)
			}
			st.stack = st.stack[:len(st.stack)-1]
			if len(st.stack) == 0 {
				return i + 1, true, nil
			}
		case ' ', '\n', '\r', '\t', ',', ':':
			if !st.started {
				return i, false, fmt.Errorf("unexpected %q", c)
			}
		default:
			if !st.started {
				st.scalar, st.started = true, true
			}
		}
		i++
	}
	return i, false, nil
}

// decoder reads fields out of one complete JSON value in memory.
type decoder struct {
	b       []byte
	i       int
	base    int64  // offset of b[0] in the document, for errors
	scratch []byte // unescaped strings
}

func (d *decoder) syntax(msg string) error {
	return &syntaxError{msg: msg, offset: d.base + int64(d.i)}
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\n', '\r', '\t':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return "non-JSON text"
}

// null consumes a null and reports whether there was one.
func (d *decoder) null() bool {
	if d.peek() == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// object calls fn for each key, with the decoder at the key's value; fn
// must consume the value. null is an empty object. A type error from fn
// is prefixed with the key, so it names the field's path.
func (d *decoder) object(fn func(key []byte) error) error {
	ok, err := d.enter('{')
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		if err := fn(k); err != nil {
			return inField(k, err)
		}
	}
}

// enter starts reading an object (open '{') or array ('['): ok is false
// for null. Then call nextKey or nextElem until it reports no more
// entries. Most readers use object and array, which do both.
func (d *decoder) enter(open byte) (ok bool, err error) {
	if d.null() {
		return false, nil
	}
	if c := d.peek(); c != open {
		want := "an object"
		if open == '[' {
			want = "an array"
		}
		return false, &typeError{want: want, got: kindOf(c)}
	}
	d.i++
	return true, nil
}

// nextKey moves to the next key of an object entered with enter('{'),
// consuming the colon; more is false at the closing brace. The key stays
// valid while d.b does (a key with escapes is copied out of scratch).
func (d *decoder) nextKey(first bool) (key []byte, more bool, err error) {
	c := d.peek()
	if c == '}' {
		d.i++
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, d.syntax("expected ',' or '}' in object")
		}
		d.i++
		c = d.peek()
	}
	if c != '"' {
		return nil, false, d.syntax("expected an object key")
	}
	k, inScratch, err := d.strBytesFrom()
	if err != nil {
		return nil, false, err
	}
	if inScratch {
		k = bytes.Clone(k)
	}
	if d.peek() != ':' {
		return nil, false, d.syntax("expected ':' after an object key")
	}
	d.i++
	return k, true, nil
}

// nextElem moves to the next element of an array entered with
// enter('['); more is false at the closing bracket.
func (d *decoder) nextElem(first bool) (more bool, err error) {
	c := d.peek()
	if c == ']' {
		d.i++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, d.syntax("expected ',' or ']' in array")
		}
		d.i++
	}
	return true, nil
}

// inField prefixes a type error's path with the key it happened under.
func inField(key []byte, err error) error {
	var te *typeError
	if errors.As(err, &te) {
		if te.path == "" {
			te.path = string(key)
		} else {
			te.path = string(key) + "." + te.path
		}
	}
	return err
}

// array calls fn for each element. null is an empty array.
func (d *decoder) array(fn func() error) error {
	ok, err := d.enter('[')
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := d.nextElem(first)
		if err != nil || !more {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// strBytes reads a string; the result is valid until the next call.
// null reads as "".
func (d *decoder) strBytes() ([]byte, error) {
	b, _, err := d.strBytesFrom()
	return b, err
}

// strBytesFrom is strBytes, also saying whether the result lives in the
// scratch buffer (the string had escapes) rather than in the input.
func (d *decoder) strBytesFrom() ([]byte, bool, error) {
	if d.null() {
		return nil, false, nil
	}
	c := d.peek()
	if c != '"' {
		if c == 0 {
			return nil, false, d.syntax("unexpected end of value")
		}
		return nil, false, &typeError{want: "a string", got: kindOf(c)}
	}
	start := d.i + 1
	end, escaped := stringEnd(d.b, start)
	if end < 0 {
		return nil, false, d.syntax("unterminated string")
	}
	if !escaped {
		d.i = end + 1
		return d.b[start:end], false, nil
	}
	out, next, err := unescape(d.scratch[:0], d.b, start)
	if err != nil {
		return nil, false, d.syntax(err.Error())
	}
	d.scratch = out
	d.i = next
	return out, true, nil
}

// stringEnd finds the closing quote of the string whose contents start at
// b[start], and whether the string has escapes. A quote preceded by an odd
// number of backslashes is escaped.
func stringEnd(b []byte, start int) (end int, escaped bool) {
	j := start
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1, false
		}
		j += k
		if bs := trailingBackslashes(b[start:j]); bs%2 == 1 {
			j++
			escaped = true
			continue
		}
		if !escaped {
			escaped = bytes.IndexByte(b[start:j], '\\') >= 0
		}
		return j, escaped
	}
}

// trailingBackslashes counts the backslashes that end b.
func trailingBackslashes(b []byte) int {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n
}

func (d *decoder) str() (string, error) {
	b, err := d.strBytes()
	return string(b), err
}

// strOrList reads a string or a list of strings (dbt's tags).
func (d *decoder) strOrList() ([]string, error) {
	if d.peek() == '"' {
		s, err := d.str()
		return []string{s}, err
	}
	return d.strList()
}

func (d *decoder) strList() ([]string, error) {
	var out []string
	err := d.array(func() error {
		s, err := d.str()
		out = append(out, s)
		return err
	})
	return out, err
}

func (d *decoder) boolean() (bool, error) {
	if d.null() {
		return false, nil
	}
	switch c := d.peek(); {
	case c == 't' && bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		return true, nil
	case c == 'f' && bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		return false, nil
	default:
		return false, &typeError{want: "a boolean", got: kindOf(c)}
	}
}

// raw returns the next value's bytes (valid while d.b is), checked to be
// well formed.
func (d *decoder) raw() ([]byte, error) {
	d.ws()
	start := d.i
	if err := d.skip(); err != nil {
		return nil, err
	}
	return d.b[start:d.i], nil
}

// skip consumes one value, checking its syntax.
func (d *decoder) skip() error {
	switch c := d.peek(); c {
	case '{':
		d.i++
		for first := true; ; first = false {
			_, more, err := d.nextKey(first)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case '[':
		d.i++
		for first := true; ; first = false {
			more, err := d.nextElem(first)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case '"':
		end, _ := stringEnd(d.b, d.i+1)
		if end < 0 {
			return d.syntax("unterminated string")
		}
		d.i = end + 1
		return nil
	case 't', 'f':
		_, err := d.boolean()
		if err != nil {
			return d.syntax("invalid literal")
		}
		return nil
	case 'n':
		if !d.null() {
			return d.syntax("invalid literal")
		}
		return nil
	case 0:
		return d.syntax("unexpected end of value")
	default:
		start := d.i
		for d.i < len(d.b) {
			c := d.b[d.i]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				d.i++
				continue
			}
			break
		}
		if d.i == start {
			return d.syntax(fmt.Sprintf("invalid character %q", c))
		}
		if _, err := strconv.ParseFloat(string(d.b[start:d.i]), 64); err != nil {
			return d.syntax("invalid number")
		}
		return nil
	}
}

// unescape decodes the JSON string whose contents start at b[start] (just
// after the opening quote), appending to dst; it returns the index after
// the closing quote.
func unescape(dst, b []byte, start int) ([]byte, int, error) {
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return dst, i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return nil, 0, errors.New("unterminated string")
			}
			e := b[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(b, i)
				if !ok {
					return nil, 0, errors.New("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return nil, 0, fmt.Errorf("invalid escape \\%c", e)
			}
		default:
			dst = append(dst, c)
			i++
		}
	}
	return nil, 0, errors.New("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}
