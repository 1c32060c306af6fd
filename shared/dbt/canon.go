package dbt

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// digest is a short fingerprint of something compared between manifests
// (a model body, a config). Keeping fingerprints instead of the text keeps a
// 100 MB manifest small in memory.
type digest [16]byte

func digestOf(parts ...string) digest {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		l := len(p)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

// canonicalJSON renders a JSON value so that two values dbt's Python would
// call equal render the same: object keys sorted, numbers normalised (1 and
// 1.0 are equal in Python), whitespace dropped.
func canonicalJSON(raw []byte) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	var b strings.Builder
	writeCanonical(&b, v)
	return b.String(), nil
}

func writeCanonical(b *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case float64:
		b.WriteString(strconv.FormatFloat(t, 'g', -1, 64))
	case string:
		b.WriteString(strconv.Quote(t))
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeCanonical(b, t[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", t)
	}
}

// configDigest fingerprints an unrendered_config object the way dbt's
// BaseConfig.same_contents compares it: every key except the excluded ones,
// a key that is missing differing from a key that is null.
func configDigest(raw []byte, exclude map[string]bool) (digest, error) {
	entries, err := objectEntries(raw)
	if err != nil {
		return digest{}, err
	}
	parts := make([]string, 0, 2*len(entries))
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, e := range entries {
		if exclude[e.key] {
			continue
		}
		c, err := canonicalJSON(e.value)
		if err != nil {
			return digest{}, err
		}
		parts = append(parts, e.key, c)
	}
	return digestOf(parts...), nil
}

// entry is one member of a JSON object, its value still raw.
type entry struct {
	key   string
	value []byte
}

// objectEntries splits a JSON object into its members in document order
// (dbt writes columns in the order they are declared, which the primary-key
// rules use). null and empty input give no entries. The input must be valid
// JSON; it comes from the decoder, which has already checked it.
func objectEntries(raw []byte) ([]entry, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || bytes.HasPrefix(raw[i:], []byte("null")) {
		return nil, nil
	}
	if raw[i] != '{' {
		return nil, fmt.Errorf("expected an object")
	}
	var out []entry
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return nil, fmt.Errorf("unterminated object")
		}
		if raw[i] == '}' {
			return out, nil
		}
		if raw[i] == ',' {
			i++
			continue
		}
		if raw[i] != '"' {
			return nil, fmt.Errorf("expected a key")
		}
		end := skipString(raw, i)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string")
		}
		key := string(raw[i+1 : end-1])
		if bytes.IndexByte(raw[i:end], '\\') >= 0 {
			if err := json.Unmarshal(raw[i:end], &key); err != nil {
				return nil, err
			}
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, fmt.Errorf("expected a colon")
		}
		i = skipSpace(raw, i+1)
		vend := skipValue(raw, i)
		if vend < 0 {
			return nil, fmt.Errorf("malformed value")
		}
		out = append(out, entry{key: key, value: raw[i:vend]})
		i = vend
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]
// (which is '"'), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at b[i], or
// -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
