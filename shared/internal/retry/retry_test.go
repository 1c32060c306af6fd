package retry_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/internal/retry"
)

var now = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestNext(t *testing.T) {
	p := retry.Policy{MaxAttempts: 4, MaxWait: time.Minute, BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	tests := []struct {
		name       string
		attempt    int
		waited     time.Duration
		retryAfter string
		again      bool
		min, max   time.Duration // bounds of the wait when again
		hint       string
	}{
		{"first backoff, with up to 20% jitter", 1, 0, "", true, 800 * time.Millisecond, time.Second, ""},
		{"doubling", 3, 0, "", true, 3200 * time.Millisecond, 4 * time.Second, ""},
		{"Retry-After in seconds", 1, 0, "7", true, 7 * time.Second, 7 * time.Second, ""},
		{"Retry-After beyond MaxDelay", 1, 0, "30", true, 30 * time.Second, 30 * time.Second, ""},
		{"Retry-After as a date", 1, 0, now.Add(5 * time.Second).Format(http.TimeFormat), true, 5 * time.Second, 5 * time.Second, ""},
		{"Retry-After in the past", 1, 0, now.Add(-time.Hour).Format(http.TimeFormat), true, 0, 0, ""},
		{"unreadable Retry-After", 1, 0, "soon", true, 800 * time.Millisecond, time.Second, ""},
		{"tries used up", 4, 0, "", false, 0, 0, ""},
		{"budget used up", 2, 55 * time.Second, "10", false, 0, 0, "the next retry (in 10s) would exceed the 1m0s retry budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, again, hint := p.Next(tt.attempt, tt.waited, tt.retryAfter, now)
			if again != tt.again || hint != tt.hint {
				t.Fatalf("Next = %s, %v, %q; want again %v, hint %q", wait, again, hint, tt.again, tt.hint)
			}
			if again && (wait < tt.min || wait > tt.max) {
				t.Errorf("wait %s, want within [%s, %s]", wait, tt.min, tt.max)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	d := retry.Policy{MaxAttempts: 5, MaxWait: time.Minute, BaseDelay: time.Second, MaxDelay: 20 * time.Second}
	got := retry.Policy{MaxAttempts: 2, MaxDelay: -1}.WithDefaults(d)
	if want := (retry.Policy{MaxAttempts: 2, MaxWait: time.Minute, BaseDelay: time.Second, MaxDelay: 20 * time.Second}); got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

func TestRetriable(t *testing.T) {
	for status, want := range map[int]bool{200: false, 400: false, 401: false, 404: false, 408: true, 429: true, 500: true, 503: true} {
		if got := retry.Retriable(status); got != want {
			t.Errorf("Retriable(%d) = %v", status, got)
		}
	}
}

func TestMessagesKeepTheTokenOut(t *testing.T) {
	if got := retry.Redact("token dbtc_secret was refused", "dbtc_secret"); got != "token [redacted] was refused" {
		t.Errorf("Redact = %q", got)
	}
	if got := retry.Redact("nothing to hide", ""); got != "nothing to hide" {
		t.Errorf("Redact without a secret = %q", got)
	}
	for body, want := range map[string]string{
		"  rate limited \n":             "rate limited",
		"<html><body>502</body></html>": "",
		strings.Repeat("x", 201):        "",
		strings.Repeat("y", 200):        strings.Repeat("y", 200),
	} {
		if got := retry.PlainMessage(retry.ErrorBody(strings.NewReader(body))); got != want {
			t.Errorf("PlainMessage(%.20q) = %.20q, want %.20q", body, got, want)
		}
	}
}
