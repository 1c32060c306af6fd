// Package human formats numbers, rates and durations for people. The
// Markdown comment and the HTML details pages both use it, so a figure reads
// the same wherever it is shown: 1.2M rows, 99.97%, +1,204 / −12.
package human

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Minus is the sign of negative figures: a real minus sign, which lines up
// with "+" in tables where a hyphen would look like a dash.
const Minus = "−"

// Int writes n with thousands separators: 1204 → "1,204".
func Int(n int64) string {
	if n < 0 {
		return Minus + group(uint64(-(n+1))+1)
	}
	return group(uint64(n))
}

func group(u uint64) string {
	s := strconv.FormatUint(u, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// Signed writes n with its sign: "+1,204", "−12", "0".
func Signed(n int64) string {
	if n > 0 {
		return "+" + Int(n)
	}
	return Int(n)
}

// Compact shortens large counts: 9,999 stays as it is, 12,345 → "12.3k",
// 1,234,567 → "1.2M", 3,400,000,000 → "3.4B".
func Compact(n int64) string {
	neg := n < 0
	a := math.Abs(float64(n))
	var s string
	switch {
	case a < 10_000:
		return Int(n)
	case a < 999_950:
		s = short(a/1e3) + "k"
	case a < 999_950_000:
		s = short(a/1e6) + "M"
	case a < 999_950_000_000:
		s = short(a/1e9) + "B"
	default:
		s = short(a/1e12) + "T"
	}
	if neg {
		return Minus + s
	}
	return s
}

// short writes one decimal, dropping a trailing ".0".
func short(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

// Rows is Plural with the noun row: "1 row", "1,204 rows", "1.2M rows".
func Rows(n int64) string {
	return Plural(n, "row", "rows")
}

// Plural writes n in full with the right noun: "1 model", "1,204 models".
func Plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	if n >= 10_000 || n <= -10_000 {
		return Compact(n) + " " + many
	}
	return Int(n) + " " + many
}

// Percent writes a rate in [0, 1] as a percentage with two decimals. It
// never rounds a rate that is not exactly 1 up to "100%", nor one that is
// not exactly 0 down to "0%": a reader must be able to tell "all" from
// "almost all".
func Percent(rate float64) string {
	switch {
	case math.IsNaN(rate):
		return "n/a"
	case rate >= 1:
		return "100%"
	case rate <= 0:
		return "0%"
	}
	s := strconv.FormatFloat(rate*100, 'f', 2, 64)
	switch s {
	case "100.00":
		return ">99.99%"
	case "0.00":
		return "<0.01%"
	}
	return s + "%"
}

// Change writes the relative change from prod to pr: "+5.0%", "−7.0%",
// "0%". It is empty when prod is 0 (there is nothing to be relative to).
func Change(prod, pr int64) string {
	if prod == 0 {
		return ""
	}
	if prod == pr {
		return "0%"
	}
	c := float64(pr-prod) / float64(prod) * 100
	s := strconv.FormatFloat(math.Abs(c), 'f', 1, 64)
	if s == "0.0" {
		// A change too small to show at one decimal is still a change.
		s = "<0.1"
	}
	if c < 0 {
		return Minus + s + "%"
	}
	return "+" + s + "%"
}

// Duration writes d rounded for people: "850ms", "12s", "2m 13s",
// "1h 02m".
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm %02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh %02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d days", int(d.Round(time.Hour)/(24*time.Hour)))
}

// Days writes a retention period in days: "30 days", "1 day"; shorter
// periods in hours.
func Days(d time.Duration) string {
	if d < 24*time.Hour {
		h := int64(d.Round(time.Hour) / time.Hour)
		return Plural(h, "hour", "hours")
	}
	return Plural(int64(d.Round(time.Hour)/(24*time.Hour)), "day", "days")
}
