package human

import (
	"math"
	"testing"
	"time"
)

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {1204, "1,204"},
		{1234567, "1,234,567"}, {-12, "−12"}, {-1234, "−1,234"},
		{math.MinInt64, "−9,223,372,036,854,775,808"},
	} {
		if got := Int(tc.in); got != tc.want {
			t.Errorf("Int(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSigned(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{1204, "+1,204"}, {-12, "−12"}, {0, "0"}} {
		if got := Signed(tc.in); got != tc.want {
			t.Errorf("Signed(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCompact(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{9999, "9,999"}, {10000, "10k"}, {12345, "12.3k"}, {999_949, "999.9k"},
		{999_950, "1M"}, {1_234_567, "1.2M"}, {1_250_000, "1.2M"}, {3_400_000_000, "3.4B"},
		{-1_234_567, "−1.2M"}, {5_000_000_000_000, "5T"},
	} {
		if got := Compact(tc.in); got != tc.want {
			t.Errorf("Compact(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRowsAndPlural(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0 rows"}, {1, "1 row"}, {1204, "1,204 rows"}, {1_200_000, "1.2M rows"}} {
		if got := Rows(tc.in); got != tc.want {
			t.Errorf("Rows(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1, "100%"}, {0, "0%"}, {0.9997, "99.97%"}, {0.5, "50.00%"},
		{0.999999, ">99.99%"}, {0.000001, "<0.01%"}, {math.NaN(), "n/a"}, {1.2, "100%"},
	} {
		if got := Percent(tc.in); got != tc.want {
			t.Errorf("Percent(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChange(t *testing.T) {
	for _, tc := range []struct {
		prod, pr int64
		want     string
	}{
		{157, 146, "−7.0%"}, {1000, 1050, "+5.0%"}, {10, 10, "0%"}, {0, 10, ""},
		{10_000_000, 10_000_001, "+<0.1%"},
	} {
		if got := Change(tc.prod, tc.pr); got != tc.want {
			t.Errorf("Change(%d, %d) = %q, want %q", tc.prod, tc.pr, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"}, {850 * time.Millisecond, "850ms"}, {12 * time.Second, "12s"},
		{133 * time.Second, "2m 13s"}, {62 * time.Minute, "1h 02m"}, {72 * time.Hour, "3 days"},
	} {
		if got := Duration(tc.in); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDays(t *testing.T) {
	if got := Days(30 * 24 * time.Hour); got != "30 days" {
		t.Errorf("Days(30d) = %q", got)
	}
	if got := Days(6 * time.Hour); got != "6 hours" {
		t.Errorf("Days(6h) = %q", got)
	}
}
