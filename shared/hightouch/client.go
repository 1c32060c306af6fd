package hightouch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/internal/retry"
)

// DefaultBaseURL is Hightouch's API.
const DefaultBaseURL = "https://api.hightouch.com/api/v1"

// pageSize is the page size of list calls (Hightouch's default and max).
const pageSize = 100

// Sentinel errors; API errors are *APIError wrapping one of them.
var (
	ErrNoToken      = errors.New("no Hightouch API key")
	ErrUnauthorized = errors.New("the Hightouch API key was rejected")
	ErrForbidden    = errors.New("the Hightouch API key lacks permission")
	ErrNotFound     = errors.New("not found in Hightouch")
	ErrUnavailable  = errors.New("the Hightouch API is unavailable")
	ErrBadResponse  = errors.New("unexpected response from Hightouch")
)

// Permanent reports whether err will not go away by itself: the API key or
// its role must change first.
func Permanent(err error) bool {
	for _, e := range []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrNoToken} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// RetryPolicy bounds retries of 408, 429 and 5xx answers and network
// failures. Zero fields take the defaults: 5 tries, 1 minute of waiting in
// all, a first backoff of 1 s doubling each try, at most 20 s for one
// backoff.
type RetryPolicy = retry.Policy

var defaultRetry = RetryPolicy{MaxAttempts: 5, MaxWait: time.Minute, BaseDelay: time.Second, MaxDelay: 20 * time.Second}

// Client calls the Hightouch API of one workspace (the API key's).
type Client struct {
	base  string
	token string
	loop  retry.Loop
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL points the client at another API: its host, as
// hightouch.url is written (https://api.hightouch.com), or its versioned
// base (…/api/v1), as a proxy or the stand-in gives it.
func WithBaseURL(u string) Option {
	return func(c *Client) {
		c.base = strings.TrimRight(u, "/")
		if !strings.HasSuffix(c.base, "/api/v1") {
			c.base += "/api/v1"
		}
	}
}

// WithHTTPClient sets the HTTP client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.loop.HTTP = h } }

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) { c.loop.Policy = p.WithDefaults(defaultRetry) }
}

// WithSleep replaces the wait between retries (for tests).
func WithSleep(f func(context.Context, time.Duration) error) Option {
	return func(c *Client) { c.loop.Sleep = f }
}

// New returns a client for the workspace API key.
func New(token string, opts ...Option) (*Client, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, fmt.Errorf("%w: set hightouch.token to a workspace API key", ErrNoToken)
	}
	c := &Client{base: DefaultBaseURL, token: token, loop: retry.Loop{Policy: defaultRetry,
		HTTP: &http.Client{Timeout: time.Minute}, Sleep: retry.Sleep, Now: time.Now,
		Secret: token, Message: readMessage, Service: "Hightouch"}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// APIError is a failed Hightouch call. It never contains the API key.
type APIError struct {
	Path       string
	StatusCode int
	Attempts   int
	Message    string // Hightouch's message, if any
	Hint       string
	err        error
}

func (e *APIError) Error() string {
	s := "hightouch: GET " + e.Path + ": " + e.err.Error()
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.StatusCode)
		if e.Message != "" {
			s += ": " + e.Message
		}
		s += ")"
	} else if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	return s
}

// Unwrap returns the sentinel.
func (e *APIError) Unwrap() error { return e.err }

// get performs a GET with retries and decodes the JSON body into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	h := http.Header{"Authorization": {"Bearer " + c.token}, "Accept": {"application/json"}}
	resp, err := c.loop.Get(ctx, u, h, 0)
	var f *retry.Failure
	switch {
	case errors.As(err, &f) && f.Exhausted():
		return &APIError{Path: path, StatusCode: f.Status, Attempts: f.Attempts, Message: f.Message, Hint: f.Hint, err: ErrUnavailable}
	case f != nil:
		return c.statusError(path, f.Status, f.Attempts, f.Message)
	case err != nil && ctx.Err() != nil:
		return err
	case err != nil:
		return &APIError{Path: path, Attempts: 1, err: fmt.Errorf("%w: %v", ErrBadResponse, err)}
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &APIError{Path: path, StatusCode: resp.StatusCode, Attempts: 1, err: fmt.Errorf("%w: %v", ErrBadResponse, err)}
	}
	return nil
}

func (c *Client) statusError(path string, status, attempts int, msg string) error {
	e := &APIError{Path: path, StatusCode: status, Attempts: attempts, Message: msg}
	switch status {
	case http.StatusUnauthorized:
		e.err = ErrUnauthorized
		e.Hint = "create a workspace API key in Hightouch (Settings → API keys) and set hightouch.token"
	case http.StatusForbidden:
		e.err = ErrForbidden
		e.Hint = "the API key's role must be able to read models and sources"
	case http.StatusNotFound:
		e.err = ErrNotFound
	default:
		e.err = fmt.Errorf("%w: HTTP %d", ErrBadResponse, status)
	}
	return e
}

// readMessage is what a Hightouch error body says.
func readMessage(b []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
		Details string `json:"details"`
	}
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	return cmp.Or(m.Message, m.Error, m.Details)
}

// list pages through a list endpoint until a short page arrives.
func list[T any](ctx context.Context, c *Client, path string, id func(*T) ID) ([]T, error) {
	var all []T
	seen := map[ID]bool{}
	for offset := 0; ; offset += pageSize {
		q := url.Values{"limit": {strconv.Itoa(pageSize)}, "offset": {strconv.Itoa(offset)}, "orderBy": {"id"}}
		var page struct {
			Data []T `json:"data"`
		}
		if err := c.get(ctx, path, q, &page); err != nil {
			return nil, err
		}
		for i := range page.Data {
			k := id(&page.Data[i])
			if seen[k] {
				// A server that ignores offset would otherwise loop forever.
				return nil, &APIError{Path: path, err: fmt.Errorf("%w: id %s returned twice while paging", ErrBadResponse, k)}
			}
			seen[k] = true
		}
		all = append(all, page.Data...)
		if len(page.Data) < pageSize {
			return all, nil
		}
	}
}

// ListModels returns every model of the workspace.
func (c *Client) ListModels(ctx context.Context) ([]Model, error) {
	return list(ctx, c, "/models", func(m *Model) ID { return m.ID })
}

// ListSources returns every source of the workspace.
func (c *Client) ListSources(ctx context.Context) ([]Source, error) {
	return list(ctx, c, "/sources", func(s *Source) ID { return s.ID })
}
