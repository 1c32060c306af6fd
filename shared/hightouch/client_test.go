package hightouch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
	"github.com/diffgate/diffgate/shared/standin"
)

func TestListModelsPaginates(t *testing.T) {
	for _, n := range []int{0, 1, 100, 200, 250} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := hightouchtest.New(t)
			for i := 1; i <= n; i++ {
				s.AddModel(hightouchtest.Model{ID: int64(i), Name: fmt.Sprintf("m%d", i), SourceID: 42, Table: "t"})
			}
			got, err := s.Client().ListModels(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("%d models, want %d", len(got), n)
			}
			for i, m := range got {
				if m.ID != hightouch.ID(fmt.Sprint(i+1)) {
					t.Fatalf("model %d has id %s", i, m.ID)
				}
			}
			// Pages of 100 until a short page: a full last page costs one
			// more request that comes back empty.
			if want, got := n/100+1, s.Count(hightouchtest.EndpointListModels); got != want {
				t.Errorf("requests = %d, want %d", got, want)
			}
		})
	}
}

// hightouch.url is the API host; the client adds the version, and takes a
// base that already has it.
func TestBaseURLForms(t *testing.T) {
	s := hightouchtest.New(t)
	s.AddModel(hightouchtest.Model{ID: 1, Name: "m", Table: "t"})
	host := strings.TrimSuffix(s.URL, "/api/v1")
	for _, u := range []string{host, host + "/", s.URL, s.URL + "/"} {
		got, err := s.Client(hightouch.WithBaseURL(u)).ListModels(context.Background())
		if err != nil || len(got) != 1 {
			t.Errorf("base %s: %d models, %v", u, len(got), err)
		}
	}
}

func TestSources(t *testing.T) {
	s := hightouchtest.New(t)
	s.AddSource(hightouchtest.Source{ID: 42, Name: "Warehouse", Type: "postgres"})
	s.AddSource(hightouchtest.Source{ID: 43, Name: "Airtable", Type: "airtable"})
	srcs, err := s.Client().ListSources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].ID != "42" || srcs[0].Type != "postgres" || srcs[1].Name != "Airtable" || srcs[1].WorkspaceID != "7" {
		t.Errorf("sources %+v", srcs)
	}
}

func TestRetries(t *testing.T) {
	s := hightouchtest.New(t)
	s.AddModel(hightouchtest.Model{ID: 1, Name: "m", Table: "t"})
	s.Fail(hightouchtest.EndpointListModels, hightouchtest.Fault{Status: 429, RetryAfter: "2"})
	s.Fail(hightouchtest.EndpointListModels, hightouchtest.Fault{Status: 503})
	sl := &standin.Sleeps{}
	got, err := s.Client(hightouch.WithSleep(sl.Sleep)).ListModels(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	if len(sl.All()) != 2 || sl.All()[0] != 2*time.Second {
		t.Errorf("waits %v, want [2s, backoff]", sl.All())
	}

	s.Fail(hightouchtest.EndpointListModels, hightouchtest.Fault{Status: 500, Times: 9})
	_, err = s.Client(hightouch.WithSleep(sl.Sleep), hightouch.WithRetry(hightouch.RetryPolicy{MaxAttempts: 3})).ListModels(context.Background())
	var apiErr *hightouch.APIError
	if !errors.Is(err, hightouch.ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || apiErr.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "after 3 attempts (HTTP 500") {
		t.Errorf("error %q", err)
	}
}

func TestUnauthorizedWithoutTheKey(t *testing.T) {
	const key = "ht_live_secret_0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"message":"invalid key %s"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer srv.Close()
	c, err := hightouch.New(key, hightouch.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListModels(context.Background())
	if !errors.Is(err, hightouch.ErrUnauthorized) || !strings.Contains(err.Error(), "Settings → API keys") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("error contains the key: %v", err)
	}
	if _, err := hightouch.New(""); !errors.Is(err, hightouch.ErrNoToken) {
		t.Errorf("empty key: %v", err)
	}
}

// A server that ignores offset must not make the client loop forever.
func TestPagingGuard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var data []map[string]any
		for i := 0; i < 100; i++ {
			data = append(data, map[string]any{"id": i})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
	}))
	defer srv.Close()
	c, _ := hightouch.New("k", hightouch.WithBaseURL(srv.URL))
	if _, err := c.ListModels(context.Background()); !errors.Is(err, hightouch.ErrBadResponse) {
		t.Fatalf("err = %v", err)
	}
}

func TestLenientIDs(t *testing.T) {
	for in, want := range map[string]hightouch.ID{`42`: "42", `"42"`: "42", `42.0`: "42", `null`: "", `"abc"`: "abc"} {
		var id hightouch.ID
		if err := json.Unmarshal([]byte(in), &id); err != nil || id != want {
			t.Errorf("%s → %q, %v; want %q", in, id, err, want)
		}
	}
	var id hightouch.ID
	if err := json.Unmarshal([]byte(`{}`), &id); err == nil {
		t.Error("object accepted as id")
	}
	if diff := cmp.Diff(int64(42), hightouch.ID("42").Int()); diff != "" {
		t.Error(diff)
	}
}
