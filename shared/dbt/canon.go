package dbt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
)

// digest is a short fingerprint of something compared between manifests
// (a model body, a config). Keeping fingerprints instead of the text keeps a
// 100 MB manifest small in memory.
type digest [16]byte

// digestOfBytes fingerprints one byte string (a body, a macro).
func digestOfBytes(b []byte) digest {
	h := sha256.Sum256(b)
	var d digest
	copy(d[:], h[:])
	return d
}

func digestOf(parts ...string) digest {
	h := newHasher()
	for _, p := range parts {
		h.part(p)
	}
	return h.sum()
}

// hasher fingerprints a sequence of parts, each length-prefixed so that
// ("ab","c") and ("a","bc") differ.
type hasher struct {
	h   hash.Hash
	buf [8]byte
}

func newHasher() *hasher { return &hasher{h: sha256.New()} }

func (h *hasher) bytes(b []byte) {
	binary.LittleEndian.PutUint64(h.buf[:], uint64(len(b)))
	h.h.Write(h.buf[:])
	h.h.Write(b)
}

func (h *hasher) part(s string) {
	binary.LittleEndian.PutUint64(h.buf[:], uint64(len(s)))
	h.h.Write(h.buf[:])
	io.WriteString(h.h, s)
}

func (h *hasher) sum() digest {
	var d digest
	copy(d[:], h.h.Sum(nil))
	return d
}

// digestOfSortedPairs fingerprints key/value pairs (flattened) in key
// order.
func digestOfSortedPairs(kv []string) digest {
	n := len(kv) / 2
	idx := make([]int, n)
	for i := range idx {
		idx[i] = 2 * i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(kv[a], kv[b]) })
	h := newHasher()
	for _, i := range idx {
		h.part(kv[i])
		h.part(kv[i+1])
	}
	return h.sum()
}

// canonicalJSON renders a JSON value so that two values dbt's Python would
// call equal render the same: object keys sorted, numbers normalised (1 and
// 1.0 are equal in Python), whitespace dropped. Empty input gives "".
func canonicalJSON(raw []byte) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", nil
	}
	d := decoder{b: raw}
	out, err := d.canonical(nil)
	if err != nil {
		return "", err
	}
	if d.peek() != 0 {
		return "", d.syntax("unexpected data after the value")
	}
	return string(out), nil
}

// canonical appends the canonical form of the next value to dst.
func (d *decoder) canonical(dst []byte) ([]byte, error) {
	switch c := d.peek(); c {
	case '{':
		type member struct {
			key string
			val []byte
		}
		var ms []member
		err := d.object(func(k []byte) error {
			v, err := d.canonical(nil)
			ms = append(ms, member{string(k), v})
			return err
		})
		if err != nil {
			return nil, err
		}
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		dst = append(dst, '{')
		for i, m := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, m.key)
			dst = append(dst, ':')
			dst = append(dst, m.val...)
		}
		return append(dst, '}'), nil
	case '[':
		dst = append(dst, '[')
		first := true
		err := d.array(func() error {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			var err error
			dst, err = d.canonical(dst)
			return err
		})
		if err != nil {
			return nil, err
		}
		return append(dst, ']'), nil
	case '"':
		b, err := d.strBytes()
		if err != nil {
			return nil, err
		}
		return strconv.AppendQuote(dst, string(b)), nil
	case 't', 'f':
		v, err := d.boolean()
		if err != nil {
			return nil, d.syntax("invalid literal")
		}
		return strconv.AppendBool(dst, v), nil
	case 'n':
		if !d.null() {
			return nil, d.syntax("invalid literal")
		}
		return append(dst, "null"...), nil
	default:
		start := d.i
		if err := d.skip(); err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
		if err != nil {
			return nil, d.syntax("invalid number")
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	}
}

// configDigest fingerprints an unrendered_config object the way dbt's
// BaseConfig.same_contents compares it: every key except the excluded ones,
// a key that is missing differing from a key that is null. relation, when
// not nil, receives the canonical database, schema and alias values (what
// state:modified.relation compares; null and missing both give "").
func configDigest(raw []byte, exclude map[string]bool, relation *[3]string) (digest, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return digestOf(), nil
	}
	d := decoder{b: raw}
	var parts []string
	err := d.object(func(k []byte) error {
		v, err := d.canonical(nil)
		if err != nil {
			return err
		}
		key := string(k)
		if relation != nil {
			i := -1
			switch key {
			case "database":
				i = 0
			case "schema":
				i = 1
			case "alias":
				i = 2
			}
			if i >= 0 && string(v) != "null" {
				relation[i] = string(v)
			}
		}
		if !exclude[key] {
			parts = append(parts, key, string(v))
		}
		return nil
	})
	if err != nil {
		return digest{}, err
	}
	return digestOfSortedPairs(parts), nil
}
