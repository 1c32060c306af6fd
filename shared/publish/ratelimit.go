package publish

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/internal/retry"
)

// Waits of a provider's rate limits, for the apps' API clients (GitHub and
// GitLab both name the wait in Retry-After or in a reset time).
const (
	// DefaultRateLimitWait is the wait when a rate-limited answer names
	// none.
	DefaultRateLimitWait = time.Minute
	// MaxRateLimitWait bounds a named wait, so that a reset time far off
	// (a clock that is wrong) does not park a message for longer.
	MaxRateLimitWait = time.Hour
)

// RateLimited is what an app's client returns for a rate-limited answer,
// from a Target, a gate.Files or a gate.PRLookup: it asks for the message
// again after wait, kept between a second and MaxRateLimitWait.
func RateLimited(wait time.Duration) error {
	return bus.RetryAfter(min(max(wait, time.Second), MaxRateLimitWait))
}

// RateLimitWait is the wait a rate-limited answer's headers name:
// Retry-After (seconds or an HTTP date), else the Unix time in the header
// named reset (GitHub's X-RateLimit-Reset, GitLab's RateLimit-Reset) and a
// second, else DefaultRateLimitWait.
func RateLimitWait(h http.Header, reset string, now time.Time) time.Duration {
	if d, ok := retry.ParseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	if at, err := strconv.ParseInt(strings.TrimSpace(h.Get(reset)), 10, 64); err == nil {
		return time.Unix(at, 0).Sub(now) + time.Second
	}
	return DefaultRateLimitWait
}
