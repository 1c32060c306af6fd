// Package dbtcloud is a client for the dbt Cloud Admin API v2: accounts,
// jobs, runs and run artifacts, with bounded retries, both of dbt Cloud's
// timestamp formats, and errors that say what to fix. It also verifies and
// decodes dbt Cloud's outbound webhooks.
package dbtcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/internal/retry"
)

// DefaultURL is the North American multi-tenant access URL.
const DefaultURL = "https://cloud.getdbt.com"

// Sentinel errors. Every API error is an *APIError that wraps one of them.
var (
	// ErrInvalidURL: the configured access URL cannot be used.
	ErrInvalidURL = errors.New("invalid dbt Cloud URL")
	// ErrNoToken: no API token was configured.
	ErrNoToken = errors.New("no dbt Cloud API token")
	// ErrUnauthorized: dbt Cloud rejected the token (HTTP 401).
	ErrUnauthorized = errors.New("dbt Cloud rejected the API token")
	// ErrForbidden: the token is valid but may not see the resource (403).
	ErrForbidden = errors.New("dbt Cloud token lacks permission")
	// ErrNotFound: the resource does not exist or the token cannot see it (404).
	ErrNotFound = errors.New("not found in dbt Cloud")
	// ErrUnavailable: dbt Cloud kept answering 408, 429 or 5xx until the
	// retry budget ran out.
	ErrUnavailable = errors.New("dbt Cloud is unavailable")
	// ErrBadResponse: dbt Cloud answered something that is not its API.
	ErrBadResponse = errors.New("unexpected response from dbt Cloud")
	// ErrArtifactTooLarge: an artifact is over the caller's size limit.
	ErrArtifactTooLarge = errors.New("dbt Cloud artifact is over the size limit")
)

// Permanent reports whether err will not go away by itself: the token, its
// permissions, an id or the URL in the configuration must change first.
func Permanent(err error) bool {
	for _, e := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrNoToken, ErrInvalidURL} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// RetryPolicy bounds the retries of requests that dbt Cloud answered with
// 408, 429 or 5xx, or that failed on the network. Zero fields take the
// defaults: 5 tries, 2 minutes of waiting in all, a first backoff of 1 s
// doubling each try, at most 30 s for one backoff (Retry-After is bounded
// by the total wait only).
type RetryPolicy = retry.Policy

var defaultRetry = RetryPolicy{MaxAttempts: 5, MaxWait: 2 * time.Minute, BaseDelay: time.Second, MaxDelay: 30 * time.Second}

// Client calls one dbt Cloud access URL with one token. It is safe for
// concurrent use.
type Client struct {
	access string // scheme://host[/prefix], no trailing slash
	api    string // access + "/api"
	token  string
	loop   retry.Loop
	// timeout bounds one attempt of an API call (not artifact downloads,
	// which can be large and are bounded by the caller's context).
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.loop.HTTP = h } }

// WithTimeout bounds each attempt of an API call (default 60 s); a
// timed-out attempt is retried. Artifact downloads are bounded by the
// caller's context only.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) { c.loop.Policy = p.WithDefaults(defaultRetry) }
}

// WithSleep replaces the wait between retries, so tests need not wait.
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.loop.Sleep = sleep }
}

// WithClock sets the clock used to read Retry-After dates.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.loop.Now = now } }

// New returns a client for the access URL (any form: cloud.getdbt.com,
// emea.dbt.com, au.dbt.com, ACCOUNT.us1.dbt.com, a single-tenant host; with
// or without scheme, trailing slash or /api) and the service token.
func New(accessURL, token string, opts ...Option) (*Client, error) {
	access, err := NormalizeURL(accessURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(token) == "" {
		return nil, fmt.Errorf("%w: set dbt_cloud.token to a service token", ErrNoToken)
	}
	token = strings.TrimSpace(token)
	c := &Client{
		access: access,
		api:    access + "/api",
		token:  token,
		loop: retry.Loop{Policy: defaultRetry, HTTP: &http.Client{}, Sleep: retry.Sleep, Now: time.Now,
			Secret: token, Message: readMessage, Service: "dbt Cloud"},
		timeout: time.Minute,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// AccessURL is the normalised access URL, e.g. https://cloud.getdbt.com.
func (c *Client) AccessURL() string { return c.access }

// NormalizeURL turns any accepted form of a dbt Cloud access URL into
// scheme://host[:port][/prefix], without /api and trailing slashes. A bare
// host gets https.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return DefaultURL, nil
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v: use the access URL, e.g. https://cloud.getdbt.com", ErrInvalidURL, redactURL(raw), errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("%w %q: scheme must be https", ErrInvalidURL, redactURL(raw))
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%w %q: no host: use the access URL, e.g. https://cloud.getdbt.com or https://ACCOUNT.us1.dbt.com", ErrInvalidURL, redactURL(raw))
	case u.User != nil:
		return "", fmt.Errorf("%w: it carries credentials: put the token in dbt_cloud.token, not in the URL", ErrInvalidURL)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("%w %q: remove the query and fragment: use the access URL only, e.g. https://%s", ErrInvalidURL, redactURL(raw), u.Host)
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	for _, suffix := range []string{"/api/v2", "/api/v3", "/api"} {
		if strings.HasSuffix(p, suffix) {
			p = strings.TrimSuffix(p, suffix)
			break
		}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + strings.TrimRight(p, "/"), nil
}

// redactURL keeps a URL printable without any user:password part.
func redactURL(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "…" + raw[i:]
		}
		return "…" + raw[i:]
	}
	return raw
}

// APIError is a failed dbt Cloud call: what was asked, what dbt Cloud
// answered and what to do about it. It never contains the token.
type APIError struct {
	Method     string
	Path       string // API path, without query
	StatusCode int    // 0 for network errors
	Attempts   int
	// Message is dbt Cloud's user_message (or developer_message) when it
	// sent one.
	Message string
	// Hint is what a person should do.
	Hint string
	// What names the resource ("job 22 in account 1").
	What    string
	err     error
	missing bool // a 404 that means "does not exist" rather than "cannot see"
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("dbt Cloud: ")
	switch {
	case errors.Is(e.err, ErrUnauthorized):
		b.WriteString("the API token is invalid or expired")
	case errors.Is(e.err, ErrForbidden) || errors.Is(e.err, ErrNotFound) && !e.missing:
		b.WriteString("the token cannot see " + e.What)
	case errors.Is(e.err, ErrNotFound):
		b.WriteString(e.What + " was not found")
	case errors.Is(e.err, ErrUnavailable):
		fmt.Fprintf(&b, "%s failed after %d attempts", e.What, e.Attempts)
	default:
		b.WriteString(e.What + ": " + e.err.Error())
	}
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		b.WriteString(")")
	} else if e.Message != "" {
		b.WriteString(" (" + e.Message + ")")
	}
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *APIError) Unwrap() error { return e.err }

// resource describes what a request is about, for errors.
type resource struct {
	what      string // "job 22 in account 1"
	forbidden string // hint for 403 / 404 when the token lacks access
	notFound  string // hint for a 404 that means "does not exist"
}

// request performs a GET with retries and returns the response with a
// 2xx status; the caller closes the body.
func (c *Client) request(ctx context.Context, path string, q url.Values, accept string, timeout time.Duration, res resource) (*http.Response, error) {
	u := c.api + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	h := http.Header{"Authorization": {"Token " + c.token}, "Accept": {accept}, "User-Agent": {"diffgate"}}
	resp, err := c.loop.Get(ctx, u, h, timeout)
	var f *retry.Failure
	switch {
	case err == nil:
		return resp, nil
	case errors.As(err, &f) && f.Exhausted():
		e := c.fail(res, path, f.Status, f.Attempts, f.Message, ErrUnavailable)
		e.Hint = f.Hint
		return nil, e
	case f != nil:
		return nil, c.statusError(res, path, f.Status, f.Attempts, f.Message)
	case ctx.Err() != nil:
		return nil, err
	}
	return nil, c.fail(res, path, 0, 1, "", fmt.Errorf("%w: %v", ErrBadResponse, err))
}

func (c *Client) statusError(res resource, path string, status, attempts int, msg string) *APIError {
	switch status {
	case http.StatusUnauthorized:
		e := c.fail(res, path, status, attempts, msg, ErrUnauthorized)
		e.Hint = "create a new service token in dbt Cloud (Account settings → Service tokens) and set dbt_cloud.token"
		return e
	case http.StatusForbidden:
		e := c.fail(res, path, status, attempts, msg, ErrForbidden)
		e.Hint = res.forbidden
		return e
	case http.StatusNotFound:
		e := c.fail(res, path, status, attempts, msg, ErrNotFound)
		e.Hint = res.forbidden
		if res.notFound != "" {
			e.Hint, e.missing = res.notFound, true
		}
		return e
	}
	return c.fail(res, path, status, attempts, msg, ErrBadResponse)
}

func (c *Client) fail(res resource, path string, status, attempts int, msg string, err error) *APIError {
	return &APIError{Method: http.MethodGet, Path: path, StatusCode: status, Attempts: attempts,
		Message: msg, What: res.what, err: err}
}

// redact removes the token from text that came from elsewhere (a response
// body, a transport error), in case it was echoed.
func (c *Client) redact(s string) string { return retry.Redact(s, c.token) }

// readMessage extracts dbt Cloud's status message from an error body.
func readMessage(b []byte) string {
	var env envelope[json.RawMessage]
	if json.Unmarshal(b, &env) != nil {
		return ""
	}
	m, d := env.Status.UserMessage, env.Status.DeveloperMessage
	switch {
	case m == "":
		return d
	case d == "" || d == m:
		return m
	}
	return m + " " + d
}

// getJSON performs a GET and decodes the envelope's data into out.
func getJSON[T any](ctx context.Context, c *Client, path string, q url.Values, res resource) (*envelope[T], error) {
	resp, err := c.request(ctx, path, q, "application/json", c.timeout, res)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var env envelope[T]
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return nil, c.fail(res, path, resp.StatusCode, 1, "",
			fmt.Errorf("%w: decode %s: %v (is %s a dbt Cloud access URL?)", ErrBadResponse, path, err, c.access))
	}
	return &env, nil
}
