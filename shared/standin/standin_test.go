package standin_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/standin"
)

func TestFaultsAnswerInTheOrderScripted(t *testing.T) {
	var fs standin.Faults[string]
	fs.Add("runs", standin.Fault{Status: 503, Times: 2})
	fs.Add("runs", standin.Fault{Status: 429, RetryAfter: "3"})
	fs.Add("jobs", standin.Fault{Status: 500})
	var got []int
	for range 5 {
		if f, ok := fs.Take("runs"); ok {
			got = append(got, f.Status)
		} else {
			got = append(got, 200)
		}
	}
	if diff := cmp.Diff([]int{503, 503, 429, 200, 200}, got); diff != "" {
		t.Errorf("answers to runs (-want +got):\n%s", diff)
	}
	if f, ok := fs.Take("jobs"); !ok || f.Status != 500 {
		t.Errorf("jobs: %+v, %v; want one 500", f, ok)
	}
	if _, ok := fs.Take("jobs"); ok {
		t.Error("a fault without Times answered more than once")
	}
}

func TestLogCountsAndCopies(t *testing.T) {
	var l standin.Log[string]
	for _, r := range []string{"a", "b", "a"} {
		l.Add(r)
	}
	if n := l.Count(func(r string) bool { return r == "a" }); n != 2 {
		t.Errorf("Count(a) = %d, want 2", n)
	}
	all := l.All()
	all[0] = "changed"
	if diff := cmp.Diff([]string{"a", "b", "a"}, l.All()); diff != "" {
		t.Errorf("All after changing a copy (-want +got):\n%s", diff)
	}
}

func TestServeClosesAtCleanup(t *testing.T) {
	var url string
	t.Run("test", func(t *testing.T) {
		srv := standin.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		url = srv.URL
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Error("the server still answers after its test ended")
	}
}

func TestSleepsRecordWithoutWaiting(t *testing.T) {
	var s standin.Sleeps
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Sleep(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Sleep(ctx, 2*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff([]time.Duration{time.Hour, 2 * time.Second}, s.All()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
}
