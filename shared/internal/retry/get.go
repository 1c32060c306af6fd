package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"
)

// Loop is the request loop the API clients share: it sends a GET, and
// sends it again while the answer is worth another try and the policy
// allows one.
type Loop struct {
	Policy Policy
	HTTP   *http.Client
	// Sleep waits between tries; Now reads Retry-After dates.
	Sleep func(context.Context, time.Duration) error
	Now   func() time.Time
	// Secret (the API token) is removed from every message.
	Secret string
	// Message reads what an error answer's JSON says; when it gives "",
	// the body itself is the message if it reads as one (PlainMessage).
	Message func(body []byte) string
	// Service names the API in the log, e.g. "dbt Cloud".
	Service string
}

// Failure is a request that got no 2xx answer: one not worth another
// try, or the last of the tries the policy allowed.
type Failure struct {
	// Status is the last answer's HTTP status; 0 when the network failed.
	Status   int
	Attempts int
	// Message is what the API (or the network) said, without the secret.
	Message string
	// Hint says why the retries stopped when the wait budget, not the
	// number of tries, ended them.
	Hint string
}

func (f *Failure) Error() string {
	s := fmt.Sprintf("GET failed after %d attempts", f.Attempts)
	if f.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", f.Status)
	}
	if f.Message != "" {
		s += ": " + f.Message
	}
	return s
}

// Exhausted reports whether the retries ran out, rather than the answer
// being one that another try cannot change (401, 404, ...).
func (f *Failure) Exhausted() bool { return f.Status == 0 || Retriable(f.Status) }

// Get sends a GET to u with header until it is answered 2xx, and returns
// that response; the caller closes its body. timeout, when positive,
// bounds each try, body included. Any other end is a *Failure, ctx's
// error, or the error of a request that cannot be built.
func (l *Loop) Get(ctx context.Context, u string, header http.Header, timeout time.Duration) (*http.Response, error) {
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, timeout)
		}
		req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
		if err != nil {
			cancel()
			return nil, err
		}
		req.Header = header.Clone()
		resp, err := l.HTTP.Do(req)
		f := &Failure{Attempts: attempt}
		var retryAfter string
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			f.Message = Redact(networkError(err), l.Secret)
		} else {
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				resp.Body = cancelOnClose{resp.Body, cancel}
				return resp, nil
			}
			f.Status = resp.StatusCode
			retryAfter = resp.Header.Get("Retry-After")
			f.Message = Redact(l.message(ErrorBody(resp.Body)), l.Secret)
			resp.Body.Close()
			cancel()
			if !Retriable(f.Status) {
				return nil, f
			}
		}
		wait, again, hint := l.Policy.Next(attempt, waited, retryAfter, l.Now())
		if !again {
			f.Hint = hint
			return nil, f
		}
		zerolog.Ctx(ctx).Warn().Str("path", req.URL.Path).Int("status", f.Status).Int("attempt", attempt).
			Dur("wait", wait).Str("error", f.Message).Msgf("%s request failed, retrying", l.Service)
		if err := l.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

func (l *Loop) message(body []byte) string {
	if l.Message != nil {
		if m := l.Message(body); m != "" {
			return m
		}
	}
	return PlainMessage(body)
}

// networkError says what failed on the way: "timeout", or the transport's
// error without the URL around it (no secret, but noise).
func networkError(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// cancelOnClose ends a try's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
