// Package retry is the HTTP retry plumbing the API clients share (dbtcloud,
// hightouch): which answers are worth another try, how long to wait
// (Retry-After first, else exponential backoff with jitter), the bounds on
// tries and on the total wait, and keeping the token out of what comes
// back.
package retry

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy bounds the retries of one request.
type Policy struct {
	// MaxAttempts is the number of tries, the first included.
	MaxAttempts int
	// MaxWait bounds the total time spent waiting between tries. A
	// Retry-After beyond what is left ends the retries.
	MaxWait time.Duration
	// BaseDelay is the first backoff; it doubles each try.
	BaseDelay time.Duration
	// MaxDelay caps one backoff; Retry-After is not capped by it, only by
	// MaxWait.
	MaxDelay time.Duration
}

// WithDefaults fills p's zero (or negative) fields from d.
func (p Policy) WithDefaults(d Policy) Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.MaxWait <= 0 {
		p.MaxWait = d.MaxWait
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	return p
}

// Retriable reports whether an answer with status is worth another try:
// 408, 429 and 5xx.
func Retriable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// Next decides what follows try attempt (counted from 1), which failed in
// a way worth retrying, after waited in earlier waits: again is whether to
// try once more, after wait. When the wait budget rather than the number of
// tries ends the retries, hint says so.
func (p Policy) Next(attempt int, waited time.Duration, retryAfter string, now time.Time) (wait time.Duration, again bool, hint string) {
	if attempt >= p.MaxAttempts {
		return 0, false, ""
	}
	wait = p.delay(attempt, retryAfter, now)
	if waited+wait > p.MaxWait {
		return wait, false, fmt.Sprintf("the next retry (in %s) would exceed the %s retry budget", wait.Round(time.Millisecond), p.MaxWait)
	}
	return wait, true, ""
}

// delay is the wait before the next try: Retry-After when the server sent
// one, else exponential with jitter.
func (p Policy) delay(attempt int, retryAfter string, now time.Time) time.Duration {
	if d, ok := ParseRetryAfter(retryAfter, now); ok {
		return d
	}
	d := p.BaseDelay << (attempt - 1)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	// Up to 20% jitter so that many workers do not retry in lockstep.
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date (a
// date in the past is no wait).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Sleep waits d, or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Redact removes secret from text that came from elsewhere (a response
// body, a transport error), in case it was echoed.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// ErrorBody reads what an error answer says, up to 64 KiB.
func ErrorBody(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	return b
}

// PlainMessage is an error body that is not the API's JSON, when it reads
// as a short message; an HTML error page or a long dump says nothing
// useful and gives "".
func PlainMessage(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 || strings.HasPrefix(s, "<") {
		return ""
	}
	return s
}
