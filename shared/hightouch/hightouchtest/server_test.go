package hightouchtest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
	"github.com/diffgate/diffgate/shared/standin"
)

func TestUnexpectedRequestsFail(t *testing.T) {
	tests := []struct {
		name, method, path, auth string
		status                   int
		want                     string
	}{
		{"unknown path", "GET", "/api/v1/syncs", "good", 404, "unexpected request GET /api/v1/syncs"},
		{"write", "POST", "/api/v1/models", "good", 405, "unexpected method POST"},
		{"no auth", "GET", "/api/v1/models", "", 401, "missing or wrong bearer token"},
		{"Token scheme", "GET", "/api/v1/models", "Token " + hightouchtest.DefaultToken, 401, "missing or wrong bearer token"},
		{"unknown param", "GET", "/api/v1/models?page=2", "good", 400, `unexpected query parameter "page"`},
		{"bad limit", "GET", "/api/v1/models?limit=1000", "good", 400, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &standin.Recorder{}
			s := hightouchtest.New(rec)
			defer s.Close()
			req, _ := http.NewRequest(tt.method, strings.TrimSuffix(s.URL, "/api/v1")+tt.path, nil)
			switch tt.auth {
			case "good":
				req.Header.Set("Authorization", "Bearer "+s.Token())
			case "":
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if f := rec.All(); len(f) != 1 || !strings.Contains(f[0], tt.want) {
				t.Errorf("failures %q, want one containing %q", f, tt.want)
			}
		})
	}
}

func TestCorrectClientRaisesNothing(t *testing.T) {
	rec := &standin.Recorder{}
	s := hightouchtest.New(rec)
	defer s.Close()
	s.AddModel(hightouchtest.Model{ID: 1, Name: "m", SourceID: 42, Table: "t"})
	s.AddSource(hightouchtest.Source{ID: 42, Name: "w", Type: "postgres"})
	c := s.Client()
	if _, err := c.ListModels(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListSources(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f := rec.All(); len(f) != 0 {
		t.Errorf("failures %q", f)
	}
	if s.Count(hightouchtest.EndpointListModels) != 1 || s.Count(hightouchtest.EndpointListSources) != 1 {
		t.Errorf("requests %+v", s.Requests())
	}
}
