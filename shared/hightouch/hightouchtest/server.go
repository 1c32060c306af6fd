// Package hightouchtest is a stand-in Hightouch API: models and sources of
// one workspace served with Hightouch's JSON and paging, scripted per
// test, counting requests and reporting any request the real API would
// not get from a correct client (wrong method, path or query parameter,
// missing or wrong bearer token). Tests and `diffgate demo` use it.
package hightouchtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/shared/standin"
)

// TB is the part of testing.TB the stand-in needs; with Cleanup(func()) the
// server closes itself.
type TB = standin.TB

// Endpoint names a call the stand-in serves.
type Endpoint string

// Endpoints.
const (
	EndpointListModels  Endpoint = "list_models"
	EndpointListSources Endpoint = "list_sources"
)

// DefaultToken is the API key the stand-in accepts.
const DefaultToken = "ht_standin_key"

// Fault is a scripted failure.
type Fault = standin.Fault

// Request is one request received.
type Request struct {
	Endpoint Endpoint
	Query    url.Values
	Status   int
}

// Server is a running stand-in.
type Server struct {
	// URL is the API base to configure (ends in /api/v1).
	URL   string
	token string
	tb    TB
	srv   *httptest.Server

	mu       sync.Mutex
	models   []Model
	sources  []Source
	faults   standin.Faults[Endpoint]
	requests standin.Log[Request]
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the API key accepted.
func WithToken(t string) Option { return func(s *Server) { s.token = t } }

// New starts a stand-in.
func New(tb TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{token: DefaultToken, tb: tb}
	for _, o := range opts {
		o(s)
	}
	s.srv = standin.Serve(tb, http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api/v1"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Token is the API key accepted.
func (s *Server) Token() string { return s.token }

// Client returns a hightouch client for the stand-in, with retries that
// barely wait.
func (s *Server) Client(opts ...hightouch.Option) *hightouch.Client {
	base := []hightouch.Option{hightouch.WithBaseURL(s.URL), hightouch.WithHTTPClient(s.srv.Client()),
		hightouch.WithRetry(hightouch.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})}
	c, err := hightouch.New(s.token, append(base, opts...)...)
	if err != nil {
		s.tb.Helper()
		s.tb.Errorf("hightouchtest: client: %v", err)
	}
	return c
}

// Model is a scripted model. Set exactly one of SQL, Table, DBTUniqueID
// (with DBTCloud for the dbt_cloud form), VisualParent, Custom; none gives
// a model of an unknown query type (QueryType then says which).
type Model struct {
	ID         int64
	Name       string
	SourceID   int64
	PrimaryKey string
	Syncs      []int64

	SQL          string
	Table        string
	DBTUniqueID  string
	DBTCloud     bool
	DBTRelation  [3]string // database, schema, name of the dbt model
	VisualParent int64
	Custom       any
	QueryType    string // overrides the query type sent
}

// Source is a scripted source.
type Source struct {
	ID   int64
	Name string
	Type string // e.g. postgres, snowflake
}

// AddModel adds a model.
func (s *Server) AddModel(m Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = append(s.models, m)
	slices.SortFunc(s.models, func(a, b Model) int { return int(a.ID - b.ID) })
}

// AddSource adds a source.
func (s *Server) AddSource(src Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sources = append(s.sources, src)
	slices.SortFunc(s.sources, func(a, b Source) int { return int(a.ID - b.ID) })
}

// Fail makes the next f.Times requests to ep answer f.Status.
func (s *Server) Fail(ep Endpoint, f Fault) { s.faults.Add(ep, f) }

// Count is the number of requests to ep.
func (s *Server) Count(ep Endpoint) int {
	return s.requests.Count(func(r Request) bool { return r.Endpoint == ep })
}

// Requests returns a copy of the requests so far.
func (s *Server) Requests() []Request { return s.requests.All() }

// workspace is the stand-in's workspace id.
const workspace = 7

// listQuery are the query parameters the list endpoints take.
var listQuery = []string{"limit", "offset", "orderBy", "name", "slug"}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var ep Endpoint
	switch r.URL.Path {
	case "/api/v1/models":
		ep = EndpointListModels
	case "/api/v1/sources":
		ep = EndpointListSources
	}
	status := s.handle(w, r, ep)
	s.requests.Add(Request{Endpoint: ep, Query: r.URL.Query(), Status: status})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, ep Endpoint) int {
	if ep == "" {
		s.tb.Errorf("hightouchtest: unexpected request %s %s", r.Method, r.URL.Path)
		return writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
	}
	if r.Method != http.MethodGet {
		s.tb.Errorf("hightouchtest: unexpected method %s on %s", r.Method, r.URL.Path)
		return writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method not allowed"})
	}
	if auth := r.Header.Get("Authorization"); auth != "Bearer "+s.token {
		s.tb.Errorf("hightouchtest: %s %s with a missing or wrong bearer token", r.Method, r.URL.Path)
		return writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Unauthorized"})
	}
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(listQuery, k) {
			s.tb.Errorf("hightouchtest: unexpected query parameter %q on %s", k, r.URL.Path)
			return writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Unknown parameter " + k})
		}
	}
	if f, ok := s.faults.Take(ep); ok {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		return writeJSON(w, f.Status, map[string]string{"message": http.StatusText(f.Status)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	limit, offset := 100, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.tb.Errorf("hightouchtest: limit=%q: use 1 to 100", v)
			return writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid limit"})
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.tb.Errorf("hightouchtest: offset=%q", v)
			return writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid offset"})
		}
		offset = n
	}
	if v := q.Get("orderBy"); v != "" && !slices.Contains([]string{"id", "name", "slug", "createdAt", "updatedAt"}, v) {
		s.tb.Errorf("hightouchtest: orderBy=%q", v)
		return writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid orderBy"})
	}
	var data []any
	switch ep {
	case EndpointListModels:
		for _, m := range page(s.models, offset, limit) {
			data = append(data, s.modelJSON(m))
		}
	case EndpointListSources:
		for _, src := range page(s.sources, offset, limit) {
			data = append(data, s.sourceJSON(src))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"data": orEmpty(data)})
}

func page[T any](all []T, offset, limit int) []T {
	return all[min(offset, len(all)):min(offset+limit, len(all))]
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

var created = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC).Format(time.RFC3339)

// modelJSON renders a model the way Hightouch's API does: every required
// field, numeric ids, and exactly one query object.
func (s *Server) modelJSON(m Model) map[string]any {
	syncs := make([]int64, len(m.Syncs))
	copy(syncs, m.Syncs)
	var pk any
	if m.PrimaryKey != "" {
		pk = m.PrimaryKey
	}
	out := map[string]any{
		"id": m.ID, "name": m.Name, "slug": fmt.Sprintf("model-%d", m.ID), "description": "",
		"workspaceId": workspace, "sourceId": m.SourceID, "folderId": nil, "primaryKey": pk,
		"createdAt": created, "updatedAt": created, "tags": map[string]string{}, "isSchema": false,
		"syncs": syncs, "lastRunSize": nil,
	}
	qt := ""
	switch {
	case m.SQL != "":
		qt = "raw_sql"
		out["raw"] = map[string]any{"sql": m.SQL}
	case m.Table != "":
		qt = "table"
		out["table"] = map[string]any{"name": m.Table}
	case m.DBTUniqueID != "":
		qt = "dbt"
		obj := map[string]any{"dbtUniqueId": m.DBTUniqueID, "compiledSql": "select 1", "rawSql": "select 1",
			"name": m.DBTRelation[2], "modelId": m.ID + 1000}
		if m.DBTCloud {
			qt = "dbt_cloud"
			out["dbt_cloud"] = obj
		} else {
			obj["database"], obj["schema"] = m.DBTRelation[0], m.DBTRelation[1]
			out["dbt"] = obj
		}
	case m.VisualParent != 0:
		qt = "visual"
		out["isSchema"] = false
		out["visual"] = map[string]any{"parentId": m.VisualParent, "filter": map[string]any{"conditions": []any{}},
			"primaryLabel": "", "secondaryLabel": ""}
	case m.Custom != nil:
		qt = "custom"
		out["custom"] = map[string]any{"query": m.Custom}
	}
	if m.QueryType != "" {
		qt = m.QueryType
	}
	out["queryType"] = qt
	return out
}

func (s *Server) sourceJSON(src Source) map[string]any {
	return map[string]any{"id": src.ID, "name": src.Name, "slug": fmt.Sprintf("source-%d", src.ID),
		"workspaceId": workspace, "createdAt": created, "updatedAt": created, "type": src.Type,
		"configuration": map[string]any{}}
}

func writeJSON(w http.ResponseWriter, status int, body any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
	return status
}
