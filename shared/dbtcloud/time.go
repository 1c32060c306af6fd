package dbtcloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Time is a dbt Cloud timestamp. Runs use "2021-12-07 10:34:14.435474+00:00"
// (a space, not a T), jobs and accounts RFC 3339; both decode. null and ""
// decode to the zero time.
type Time struct{ time.Time }

// Layouts dbt Cloud is known to send, most common first.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05.999999999", // no zone: read as UTC
	"2006-01-02 15:04:05.999999999",
}

// ParseTime parses a dbt Cloud timestamp in any of the formats it sends.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("dbtcloud: unknown timestamp format %q", s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("dbtcloud: timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

// MarshalJSON writes RFC 3339, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Time.Format(time.RFC3339Nano))
}
