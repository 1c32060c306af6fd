package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Secret holds a credential. Every way of printing or encoding it yields
// "[redacted]", so a Secret that reaches a log line, an error or a JSON
// document leaks nothing; only Value returns the credential. The value
// sits behind a pointer so that even fmt's fallback printing (which skips
// these methods after a bad verb on an enclosing struct) shows an address.
type Secret struct{ p *string }

const redacted = "[redacted]"

// NewSecret wraps a credential.
func NewSecret(v string) Secret { return Secret{p: &v} }

// Value returns the credential, for the one call that needs it.
func (s Secret) Value() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsSet reports whether a value was configured.
func (s Secret) IsSet() bool { return s.Value() != "" }

// String is redacted.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return redacted
}

// GoString is redacted (%#v).
func (s Secret) GoString() string { return "config.Secret(" + redacted + ")" }

// Format redacts every verb, including %x and %q.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalJSON is redacted.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText is redacted (used by encoders that prefer text).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML is redacted.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML reads a secret scalar.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a string")
	}
	*s = NewSecret(n.Value)
	return nil
}

// Redact replaces every occurrence of the secrets' values in text. Use it
// on text that may quote a credential back, e.g. a driver's error message
// that repeats a DSN.
func Redact(text string, secrets ...Secret) string {
	for _, s := range secrets {
		if v := s.Value(); len(v) >= 4 {
			text = strings.ReplaceAll(text, v, redacted)
		}
	}
	return text
}
