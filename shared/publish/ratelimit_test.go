package publish_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/publish"
)

func TestRateLimitWait(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reset := strconv.FormatInt(now.Add(90*time.Second).Unix(), 10)
	tests := map[string]struct {
		header http.Header
		want   time.Duration
	}{
		"Retry-After in seconds":  {http.Header{"Retry-After": {"30"}, "X-Ratelimit-Reset": {reset}}, 30 * time.Second},
		"Retry-After as a date":   {http.Header{"Retry-After": {now.Add(time.Minute).Format(http.TimeFormat)}}, time.Minute},
		"reset time":              {http.Header{"X-Ratelimit-Reset": {reset}}, 91 * time.Second},
		"another reset header":    {http.Header{"Ratelimit-Reset": {reset}}, publish.DefaultRateLimitWait},
		"nothing named":           {http.Header{}, publish.DefaultRateLimitWait},
		"unreadable Retry-After":  {http.Header{"Retry-After": {"soon"}}, publish.DefaultRateLimitWait},
		"unreadable reset header": {http.Header{"X-Ratelimit-Reset": {"later"}}, publish.DefaultRateLimitWait},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := publish.RateLimitWait(tt.header, "X-RateLimit-Reset", now); got != tt.want {
				t.Errorf("wait %s; want %s", got, tt.want)
			}
		})
	}
}

func TestRateLimitedIsBounded(t *testing.T) {
	for wait, want := range map[time.Duration]time.Duration{
		-time.Minute:     time.Second, // a reset time already past
		0:                time.Second,
		42 * time.Second: 42 * time.Second,
		5 * time.Hour:    publish.MaxRateLimitWait,
	} {
		var retry *bus.Retry
		if err := publish.RateLimited(wait); !errors.As(err, &retry) || retry.After != want {
			t.Errorf("RateLimited(%s) = %v; want a retry after %s", wait, err, want)
		}
	}
}
