package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/internal/retry"
	"github.com/diffgate/diffgate/shared/standin"
)

const secret = "tok_secret_0123"

// answer is one scripted answer: a status (0: hang until the client
// gives up), a Retry-After and a body.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// script serves its answers in order, the last one for ever, and counts
// the requests.
func script(t *testing.T, answers ...answer) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			t.Errorf("request without the header: %v", r.Header)
		}
		mu.Lock()
		a := answers[min(n, len(answers)-1)]
		n++
		mu.Unlock()
		if a.status == 0 {
			<-r.Context().Done()
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func loop(s *standin.Sleeps) *retry.Loop {
	return &retry.Loop{
		Policy: retry.Policy{MaxAttempts: 3, MaxWait: time.Minute, BaseDelay: time.Second, MaxDelay: 10 * time.Second},
		HTTP:   &http.Client{},
		Sleep:  s.Sleep,
		Now:    func() time.Time { return now },
		Secret: secret,
		Message: func(b []byte) string {
			if m, ok := strings.CutPrefix(string(b), "json:"); ok {
				return m
			}
			return ""
		},
		Service: "Test API",
	}
}

func TestGet(t *testing.T) {
	tests := []struct {
		name    string
		answers []answer
		timeout time.Duration
		body    string         // of the 2xx answer
		failure *retry.Failure // else
		waits   []time.Duration
		tries   int
	}{
		{"answered at once", []answer{{200, "", "ok"}}, 0, "ok", nil, nil, 1},
		{"Retry-After, then answered", []answer{{429, "7", ""}, {503, "2", ""}, {200, "", "ok"}}, 0, "ok", nil,
			[]time.Duration{7 * time.Second, 2 * time.Second}, 3},
		{"a hung try is cut and retried", []answer{{0, "", ""}, {200, "", "ok"}}, 50 * time.Millisecond, "ok", nil,
			[]time.Duration{time.Second}, 2},
		{"not worth another try", []answer{{404, "", "json:no such job"}}, 0, "",
			&retry.Failure{Status: 404, Attempts: 1, Message: "no such job"}, nil, 1},
		{"the body itself when it reads as a message", []answer{{401, "", "bad token " + secret}}, 0, "",
			&retry.Failure{Status: 401, Attempts: 1, Message: "bad token [redacted]"}, nil, 1},
		{"tries used up", []answer{{502, "1", "<html>bad gateway</html>"}}, 0, "",
			&retry.Failure{Status: 502, Attempts: 3}, []time.Duration{time.Second, time.Second}, 3},
		{"wait budget used up", []answer{{429, "3600", ""}}, 0, "",
			&retry.Failure{Status: 429, Attempts: 1, Hint: "the next retry (in 1h0m0s) would exceed the 1m0s retry budget"}, nil, 1},
		{"the network failing", []answer{{0, "", ""}}, 20 * time.Millisecond, "",
			&retry.Failure{Attempts: 3, Message: "timeout"}, []time.Duration{time.Second, 2 * time.Second}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, tries := script(t, tt.answers...)
			s := &standin.Sleeps{}
			l := loop(s)
			resp, err := l.Get(context.Background(), srv.URL+"/x?a=1", http.Header{"Authorization": {"Bearer " + secret}}, tt.timeout)
			if tt.failure == nil {
				if err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 10)
				n, _ := resp.Body.Read(b)
				resp.Body.Close()
				if string(b[:n]) != tt.body {
					t.Errorf("body %q, want %q", b[:n], tt.body)
				}
			} else {
				var f *retry.Failure
				if !errors.As(err, &f) {
					t.Fatalf("err = %v, want a *Failure", err)
				}
				if diff := cmp.Diff(tt.failure, f); diff != "" {
					t.Errorf("failure (-want +got):\n%s", diff)
				}
				if f.Exhausted() != (tt.failure.Status == 0 || tt.failure.Status >= 429) {
					t.Errorf("Exhausted() = %v for %+v", f.Exhausted(), f)
				}
				if strings.Contains(f.Error(), secret) {
					t.Errorf("the failure shows the secret: %v", f)
				}
			}
			// Backoffs carry up to 20% jitter; Retry-After waits do not.
			waits := s.All()
			if len(waits) != len(tt.waits) {
				t.Fatalf("waits %v, want %v", waits, tt.waits)
			}
			for i, w := range tt.waits {
				if waits[i] > w || waits[i] < w*4/5 {
					t.Errorf("wait %d = %s, want %s (less up to 20%%)", i, waits[i], w)
				}
			}
			if got := tries(); got != tt.tries {
				t.Errorf("%d requests, want %d", got, tt.tries)
			}
		})
	}
}

func TestGetStopsWhenTheCallerGivesUp(t *testing.T) {
	srv, _ := script(t, answer{status: 503})
	ctx, cancel := context.WithCancel(context.Background())
	l := loop(&standin.Sleeps{})
	l.Sleep = func(ctx context.Context, _ time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if _, err := l.Get(ctx, srv.URL, http.Header{"Authorization": {"Bearer " + secret}}, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
