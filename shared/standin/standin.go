// Package standin is the scaffolding the stand-ins for SaaS APIs share
// (dbtcloudtest, hightouchtest, githubtest, gitlabtest): whom a stand-in
// tells about a request the real API would not get from a correct client
// (a test, or a logger in `diffgate demo`), a server closed when the test
// ends, scripted failure answers, and the record of the requests answered.
package standin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"
)

// TB is the part of testing.TB a stand-in needs. A *testing.T fits; the
// demo passes a Recorder and prints what it kept. When it also has
// Cleanup(func()), Serve closes the server at cleanup.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Serve starts an HTTP server for h on the loopback interface, closed when
// tb's test ends if tb has Cleanup (else by the caller).
func Serve(tb TB, h http.Handler) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(h)
	if c, ok := tb.(interface{ Cleanup(func()) }); ok {
		c.Cleanup(srv.Close)
	}
	return srv
}

// Fault is a scripted failure answer.
type Fault struct {
	Status     int    // e.g. 429, 500, 503
	RetryAfter string // Retry-After header value, if any
	Times      int    // how many requests get it (default 1)
}

// Faults are the scripted failures of a stand-in, queued per endpoint. The
// zero value is ready; it is safe for concurrent use.
type Faults[E comparable] struct {
	mu sync.Mutex
	q  map[E][]Fault
}

// Add makes the next f.Times requests to ep (after those already queued)
// answer f.
func (fs *Faults[E]) Add(ep E, f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	if fs.q == nil {
		fs.q = map[E][]Fault{}
	}
	fs.q[ep] = append(fs.q[ep], f)
}

// Take returns the failure a request to ep gets, if one is queued, and
// counts it.
func (fs *Faults[E]) Take(ep E) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	q := fs.q[ep]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	q[0].Times--
	if q[0].Times <= 0 {
		fs.q[ep] = q[1:]
	}
	return f, true
}

// Log is the record of the requests a stand-in answered (R is its Request
// type). The zero value is ready; it is safe for concurrent use.
type Log[R any] struct {
	mu  sync.Mutex
	all []R
}

// Add records one request.
func (l *Log[R]) Add(r R) {
	l.mu.Lock()
	l.all = append(l.all, r)
	l.mu.Unlock()
}

// All returns a copy of every request so far, in order.
func (l *Log[R]) All() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// Count is the number of requests so far that match.
func (l *Log[R]) Count(match func(R) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.all {
		if match(r) {
			n++
		}
	}
	return n
}

// Sleeps records the waits a client asks for between retries, without
// waiting: pass Sleep as the client's sleep (dbtcloud.WithSleep,
// hightouch.WithSleep). It is safe for concurrent use.
type Sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

// Sleep records d and returns at once (with ctx's error, if it is done).
func (s *Sleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

// All returns the waits asked for so far, in order.
func (s *Sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}
