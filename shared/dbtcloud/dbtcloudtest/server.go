// Package dbtcloudtest is a stand-in dbt Cloud: an HTTP server that speaks
// the Admin API v2's JSON (the status/data/extra envelope, run and job
// objects, pagination), scripted per test. Runs move through scripted
// statuses as they are observed, responses can be made to fail, requests
// are counted per endpoint, and any request the real API would not get
// from a correct client (wrong method, path, query parameter, missing or
// wrong Authorization) is reported as a failure. It is used by tests and at
// run time by `diffgate demo`.
package dbtcloudtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/standin"
)

// TB is the part of testing.TB the stand-in needs. A *testing.T fits; the
// demo passes a standin.Recorder. When it also has Cleanup(func()),
// the server closes itself at cleanup.
type TB = standin.TB

// Endpoint names an API call the stand-in serves.
type Endpoint string

// Endpoints.
const (
	EndpointAccount       Endpoint = "get_account"
	EndpointJob           Endpoint = "get_job"
	EndpointListRuns      Endpoint = "list_runs"
	EndpointGetRun        Endpoint = "get_run"
	EndpointListArtifacts Endpoint = "list_artifacts"
	EndpointGetArtifact   Endpoint = "get_artifact"
)

// DefaultToken is the token the stand-in accepts unless WithToken says
// otherwise.
const DefaultToken = "dbtc_standin_token"

// Request is one request the stand-in received.
type Request struct {
	Endpoint Endpoint
	Path     string
	Query    url.Values
	Status   int // the status it answered
	At       time.Time
}

// Fault is a scripted failure answer.
type Fault = standin.Fault

// Server is a running stand-in dbt Cloud.
type Server struct {
	// URL is the access URL to configure, e.g. http://127.0.0.1:41234.
	URL   string
	token string
	tb    TB
	srv   *httptest.Server
	now   func() time.Time

	allowBadAuth bool

	mu       sync.Mutex
	accounts map[int64]*Account
	jobs     map[[2]int64]*Job
	denied   map[[2]int64]int
	runs     []*RunHandle
	nextRun  int64
	faults   standin.Faults[Endpoint]
	requests standin.Log[Request]
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the token the stand-in accepts.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// AllowBadAuth makes a missing or wrong token an expected request: it gets
// dbt Cloud's 401 answer without reporting a failure.
func AllowBadAuth() Option { return func(s *Server) { s.allowBadAuth = true } }

// New starts a stand-in. Close it when done (automatic when tb has Cleanup).
func New(tb TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		token:    DefaultToken,
		tb:       tb,
		now:      time.Now,
		accounts: map[int64]*Account{},
		jobs:     map[[2]int64]*Job{},
		denied:   map[[2]int64]int{},
		nextRun:  90000001,
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = standin.Serve(tb, http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Token is the token the stand-in accepts.
func (s *Server) Token() string { return s.token }

// Client returns a dbtcloud client for this stand-in with the right token
// and retries that do not wait.
func (s *Server) Client(opts ...dbtcloud.Option) *dbtcloud.Client {
	base := []dbtcloud.Option{dbtcloud.WithHTTPClient(s.srv.Client()), dbtcloud.WithRetry(dbtcloud.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})}
	c, err := dbtcloud.New(s.URL, s.token, append(base, opts...)...)
	if err != nil {
		s.tb.Helper()
		s.tb.Errorf("dbtcloudtest: client: %v", err)
	}
	return c
}

// Account is a scripted account.
type Account struct {
	ID   int64
	Name string
}

// AddAccount adds an account.
func (s *Server) AddAccount(id int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = &Account{ID: id, Name: name}
}

// Job is a scripted job definition.
type Job struct {
	AccountID     int64
	ID            int64
	ProjectID     int64
	EnvironmentID int64
	Name          string
	// Type is the job_type: "ci", "scheduled", "merge" or "other"
	// (default "scheduled"). A ci job gets the git provider triggers.
	Type string
	// DeferringJobID is the job a CI job defers to.
	DeferringJobID int64
	Steps          []string
}

// AddJob adds a job (and its account if it is missing).
func (s *Server) AddJob(j Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j.Type == "" {
		j.Type = dbtcloud.JobTypeScheduled
	}
	if j.Name == "" {
		j.Name = fmt.Sprintf("Job %d", j.ID)
	}
	if j.ProjectID == 0 {
		j.ProjectID = 100 + j.AccountID
	}
	if j.EnvironmentID == 0 {
		j.EnvironmentID = 200 + j.ID
	}
	if len(j.Steps) == 0 {
		j.Steps = []string{"dbt build"}
	}
	if _, ok := s.accounts[j.AccountID]; !ok {
		s.accounts[j.AccountID] = &Account{ID: j.AccountID, Name: fmt.Sprintf("Account %d", j.AccountID)}
	}
	s.jobs[[2]int64{j.AccountID, j.ID}] = &j
}

// DenyJob makes get-job answer status (403 or 404) for that job, as dbt
// Cloud does when the token's permissions do not cover its project.
func (s *Server) DenyJob(accountID, jobID int64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[[2]int64{accountID, jobID}] = status
}

// Phase is one step of a run's script: the run shows Status for Polls
// observations (a list-runs or get-run response that contains it). The
// last phase lasts forever.
type Phase struct {
	Status dbtcloud.RunStatus
	Polls  int
}

// Run is a scripted run.
type Run struct {
	ID            int64 // 0: assigned, increasing
	AccountID     int64
	JobID         int64
	ProjectID     int64 // default: the job's
	EnvironmentID int64 // default: the job's
	GitSHA        string
	GitBranch     string
	GitHubPR      int64 // github_pull_request_id of the trigger
	GitLabMR      int64 // gitlab_merge_request_id of the trigger
	Cause         string
	StatusMessage string // e.g. the error of a failed run
	// Script is the statuses the run goes through; default: success.
	Script []Phase
	// Artifacts are served by path (e.g. "manifest.json").
	Artifacts map[string][]byte
	CreatedAt time.Time // default: now
}

// RunHandle controls a scripted run.
type RunHandle struct {
	s        *Server
	run      Run
	seen     int // observations so far
	override dbtcloud.RunStatus
	created  time.Time
	started  time.Time
	finished time.Time
}

// AddRun adds a run; the job must exist.
func (s *Server) AddRun(r Run) *RunHandle {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[[2]int64{r.AccountID, r.JobID}]
	if !ok {
		s.tb.Helper()
		s.tb.Errorf("dbtcloudtest: AddRun: job %d in account %d was not added", r.JobID, r.AccountID)
		j = &Job{AccountID: r.AccountID, ID: r.JobID}
	}
	if r.ID == 0 {
		r.ID = s.nextRun
		s.nextRun++
	} else if r.ID >= s.nextRun {
		s.nextRun = r.ID + 1
	}
	if r.ProjectID == 0 {
		r.ProjectID = j.ProjectID
	}
	if r.EnvironmentID == 0 {
		r.EnvironmentID = j.EnvironmentID
	}
	if len(r.Script) == 0 {
		r.Script = []Phase{{Status: dbtcloud.StatusSuccess}}
	}
	if r.Cause == "" {
		switch {
		case r.GitHubPR != 0:
			r.Cause = "Triggered via GitHub pull request"
		case r.GitLabMR != 0:
			r.Cause = "Triggered via GitLab merge request"
		default:
			r.Cause = "Scheduled"
		}
	}
	h := &RunHandle{s: s, run: r, created: r.CreatedAt}
	if h.created.IsZero() {
		h.created = s.now()
	}
	s.runs = append(s.runs, h)
	slices.SortFunc(s.runs, func(a, b *RunHandle) int { return int(a.run.ID - b.run.ID) })
	return h
}

// ID is the run id.
func (h *RunHandle) ID() int64 { return h.run.ID }

// SetStatus pins the run's status, overriding its script from now on.
func (h *RunHandle) SetStatus(st dbtcloud.RunStatus) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.override = st
}

// Status is the status the next observation would show, without observing.
func (h *RunHandle) Status() dbtcloud.RunStatus {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.statusAt(h.seen)
}

// Observations is how many responses have shown the run so far.
func (h *RunHandle) Observations() int {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.seen
}

// SetArtifact serves an artifact of the run.
func (h *RunHandle) SetArtifact(path string, body []byte) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if h.run.Artifacts == nil {
		h.run.Artifacts = map[string][]byte{}
	}
	h.run.Artifacts[path] = body
}

func (h *RunHandle) statusAt(n int) dbtcloud.RunStatus {
	if h.override != 0 {
		return h.override
	}
	for _, p := range h.run.Script[:len(h.run.Script)-1] {
		if n < p.Polls {
			return p.Status
		}
		n -= p.Polls
	}
	return h.run.Script[len(h.run.Script)-1].Status
}

// observe returns the status shown now and counts the observation. Called
// with s.mu held.
func (h *RunHandle) observe() dbtcloud.RunStatus {
	st := h.statusAt(h.seen)
	h.seen++
	now := h.s.now()
	if st >= dbtcloud.StatusRunning && h.started.IsZero() {
		h.started = now
	}
	if st.Done() && h.finished.IsZero() {
		h.finished = now
	}
	return st
}

// Fail makes the next f.Times requests to ep answer f.Status.
func (s *Server) Fail(ep Endpoint, f Fault) { s.faults.Add(ep, f) }

// Count is the number of requests to ep so far, failed ones included.
func (s *Server) Count(ep Endpoint) int {
	return s.requests.Count(func(r Request) bool { return r.Endpoint == ep })
}

// ListRunsCount is the number of list-runs requests filtered on jobID.
func (s *Server) ListRunsCount(jobID int64) int {
	want := strconv.FormatInt(jobID, 10)
	return s.requests.Count(func(r Request) bool {
		return r.Endpoint == EndpointListRuns && r.Query.Get("job_definition_id") == want
	})
}

// Requests returns a copy of every request so far.
func (s *Server) Requests() []Request { return s.requests.All() }

// Webhook builds the body dbt Cloud would post for the run's current
// status (eventType: dbtcloud.EventRunCompleted, ...), without observing
// the run: pin the status with SetStatus first to announce a finished run.
// Sign it with dbtcloud.SignWebhook.
func (s *Server) Webhook(runID int64, eventType string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.findRun(runID)
	if h == nil {
		s.tb.Helper()
		s.tb.Errorf("dbtcloudtest: Webhook: no run %d", runID)
		return nil
	}
	st := h.statusAt(h.seen)
	j := s.jobs[[2]int64{h.run.AccountID, h.run.JobID}]
	now := s.now().UTC()
	data := map[string]any{
		"jobId":            strconv.FormatInt(h.run.JobID, 10),
		"jobName":          j.Name,
		"runId":            strconv.FormatInt(h.run.ID, 10),
		"environmentId":    strconv.FormatInt(h.run.EnvironmentID, 10),
		"environmentName":  "CI",
		"dbtVersion":       "1.9.0",
		"projectName":      "Analytics",
		"projectId":        strconv.FormatInt(h.run.ProjectID, 10),
		"runStatus":        webhookStatus(st),
		"runStatusCode":    int(st),
		"runStatusMessage": orDefault(h.run.StatusMessage, "None"),
		"runReason":        h.run.Cause,
		"runStartedAt":     now.Add(-time.Minute).Format(time.RFC3339),
	}
	if st.Done() {
		data["runFinishedAt"] = now.Format(time.RFC3339)
	}
	body, _ := json.Marshal(map[string]any{
		"accountId":   h.run.AccountID,
		"webhookId":   "wsu_standin",
		"eventId":     fmt.Sprintf("wev_standin_%d_%s_%d", h.run.ID, eventType, h.seen),
		"timestamp":   now.Format(time.RFC3339Nano),
		"eventType":   eventType,
		"webhookName": "diffgate",
		"data":        data,
	})
	return body
}

func webhookStatus(st dbtcloud.RunStatus) string {
	switch st {
	case dbtcloud.StatusError:
		return "Errored"
	case dbtcloud.StatusSuccess:
		return "Success"
	}
	return st.String()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (s *Server) findRun(id int64) *RunHandle {
	for _, h := range s.runs {
		if h.run.ID == id {
			return h
		}
	}
	return nil
}

var (
	reAccount   = regexp.MustCompile(`^/api/v2/accounts/(\d+)/$`)
	reJob       = regexp.MustCompile(`^/api/v2/accounts/(\d+)/jobs/(\d+)/$`)
	reRuns      = regexp.MustCompile(`^/api/v2/accounts/(\d+)/runs/$`)
	reRun       = regexp.MustCompile(`^/api/v2/accounts/(\d+)/runs/(\d+)/$`)
	reArtifacts = regexp.MustCompile(`^/api/v2/accounts/(\d+)/runs/(\d+)/artifacts/$`)
	reArtifact  = regexp.MustCompile(`^/api/v2/accounts/(\d+)/runs/(\d+)/artifacts/(.+)$`)
)

func ids(m []string) (int64, int64) {
	a, _ := strconv.ParseInt(m[1], 10, 64)
	var b int64
	if len(m) > 2 {
		b, _ = strconv.ParseInt(m[2], 10, 64)
	}
	return a, b
}

// route maps a path to its endpoint and the query parameters it accepts.
func route(path string) (Endpoint, []string, []string) {
	switch {
	case reAccount.MatchString(path):
		return EndpointAccount, nil, reAccount.FindStringSubmatch(path)
	case reJob.MatchString(path):
		return EndpointJob, nil, reJob.FindStringSubmatch(path)
	case reRuns.MatchString(path):
		return EndpointListRuns, []string{"job_definition_id", "project_id", "environment_id", "status", "status__in",
			"pull_request_id", "order_by", "limit", "offset", "include_related"}, reRuns.FindStringSubmatch(path)
	case reRun.MatchString(path):
		return EndpointGetRun, []string{"include_related"}, reRun.FindStringSubmatch(path)
	case reArtifacts.MatchString(path):
		return EndpointListArtifacts, nil, reArtifacts.FindStringSubmatch(path)
	case reArtifact.MatchString(path):
		return EndpointGetArtifact, []string{"step"}, reArtifact.FindStringSubmatch(path)
	}
	return "", nil, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.tb.Helper()
	ep, allowed, m := route(r.URL.EscapedPath())
	rec := Request{Endpoint: ep, Path: r.URL.Path, Query: r.URL.Query(), At: s.now()}
	status := s.handle(w, r, ep, allowed, m)
	rec.Status = status
	s.requests.Add(rec)
}

// handle answers one request and returns the status it sent.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, ep Endpoint, allowed, m []string) int {
	s.tb.Helper()
	if ep == "" {
		s.tb.Errorf("dbtcloudtest: unexpected request %s %s", r.Method, r.URL.Path)
		return writeError(w, http.StatusNotFound, "The requested resource was not found.")
	}
	if r.Method != http.MethodGet {
		s.tb.Errorf("dbtcloudtest: unexpected method %s on %s", r.Method, r.URL.Path)
		return writeError(w, http.StatusMethodNotAllowed, "Method not allowed.")
	}
	auth := r.Header.Get("Authorization")
	if auth != "Token "+s.token && auth != "Bearer "+s.token {
		if !s.allowBadAuth {
			if auth == "" {
				s.tb.Errorf("dbtcloudtest: %s %s without Authorization", r.Method, r.URL.Path)
			} else {
				s.tb.Errorf("dbtcloudtest: %s %s with a wrong Authorization header", r.Method, r.URL.Path)
			}
		}
		return writeError(w, http.StatusUnauthorized, "Invalid token.")
	}
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(allowed, k) {
			s.tb.Errorf("dbtcloudtest: unexpected query parameter %q on %s", k, r.URL.Path)
			return writeError(w, http.StatusBadRequest, "Unknown parameter "+k)
		}
	}
	if f, ok := s.faults.Take(ep); ok {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		return writeError(w, f.Status, http.StatusText(f.Status))
	}
	account, second := ids(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.accounts[account]; !ok {
		return writeError(w, http.StatusForbidden, "You do not have permission to access this account.")
	}
	switch ep {
	case EndpointAccount:
		return writeData(w, s.accountJSON(account), nil)
	case EndpointJob:
		if st, ok := s.denied[[2]int64{account, second}]; ok {
			return writeError(w, st, "The requested resource was not found.")
		}
		j, ok := s.jobs[[2]int64{account, second}]
		if !ok {
			return writeError(w, http.StatusNotFound, "The requested resource was not found.")
		}
		return writeData(w, s.jobJSON(j), nil)
	case EndpointListRuns:
		return s.listRuns(w, account, q)
	case EndpointGetRun:
		inc, err := parseRelated(q.Get("include_related"))
		if err != nil {
			s.tb.Errorf("dbtcloudtest: %v", err)
			return writeError(w, http.StatusBadRequest, err.Error())
		}
		h := s.findRun(second)
		if h == nil || h.run.AccountID != account {
			return writeError(w, http.StatusNotFound, "The requested resource was not found.")
		}
		return writeData(w, s.runJSON(h, h.observe(), inc), nil)
	case EndpointListArtifacts:
		h := s.findRun(second)
		if h == nil || h.run.AccountID != account {
			return writeError(w, http.StatusNotFound, "The requested resource was not found.")
		}
		var paths []string
		for p := range h.run.Artifacts {
			paths = append(paths, p)
		}
		if paths == nil {
			return writeData(w, nil, nil)
		}
		slices.Sort(paths)
		return writeData(w, paths, nil)
	case EndpointGetArtifact:
		if st := q.Get("step"); st != "" {
			if n, err := strconv.Atoi(st); err != nil || n < 1 {
				s.tb.Errorf("dbtcloudtest: step=%q is not a step number", st)
				return writeError(w, http.StatusBadRequest, "Invalid step.")
			}
		}
		h := s.findRun(second)
		if h == nil || h.run.AccountID != account {
			return writeError(w, http.StatusNotFound, "The requested resource was not found.")
		}
		path, _ := url.PathUnescape(m[3])
		body, ok := h.run.Artifacts[path]
		if !ok {
			return writeError(w, http.StatusNotFound, "The requested resource was not found.")
		}
		if strings.HasSuffix(path, ".json") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return http.StatusOK
	}
	return http.StatusInternalServerError
}

var orderFields = []string{"id", "-id", "created_at", "-created_at", "finished_at", "-finished_at"}

var relatedNames = []string{"trigger", "job", "environment", "repository", "run_steps", "run_retries",
	"used_repo_cache", "repo_cache_restore", "audit", "debug_logs"}

// parseRelated reads include_related as dbt Cloud accepts it: a JSON-style
// list (["trigger","job"]) or a comma-separated one.
func parseRelated(v string) (map[string]bool, error) {
	out := map[string]bool{}
	if v == "" {
		return out, nil
	}
	var names []string
	if strings.HasPrefix(v, "[") {
		if err := json.Unmarshal([]byte(strings.ReplaceAll(v, "'", `"`)), &names); err != nil {
			return nil, fmt.Errorf("include_related=%q is not a list", v)
		}
	} else {
		names = strings.Split(v, ",")
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !slices.Contains(relatedNames, n) {
			return nil, fmt.Errorf("include_related: unknown related object %q", n)
		}
		out[n] = true
	}
	return out, nil
}

func parseIntList(v string) ([]int64, error) {
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	var out []int64
	for _, p := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// listRuns filters, orders and pages the runs. Called with s.mu held.
func (s *Server) listRuns(w http.ResponseWriter, account int64, q url.Values) int {
	bad := func(format string, args ...any) int {
		msg := fmt.Sprintf(format, args...)
		s.tb.Errorf("dbtcloudtest: list runs: %s", msg)
		return writeError(w, http.StatusBadRequest, msg)
	}
	intParam := func(k string) (int64, bool, error) {
		v := q.Get(k)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, true, err
	}
	filters := map[string]any{"account_id": account}
	match := []func(h *RunHandle, st dbtcloud.RunStatus) bool{
		func(h *RunHandle, _ dbtcloud.RunStatus) bool { return h.run.AccountID == account },
	}
	for _, k := range []string{"job_definition_id", "project_id", "environment_id", "pull_request_id", "status"} {
		n, ok, err := intParam(k)
		if err != nil {
			return bad("%s=%q is not an integer", k, q.Get(k))
		}
		if !ok {
			continue
		}
		filters[k] = n
		switch k {
		case "job_definition_id":
			match = append(match, func(h *RunHandle, _ dbtcloud.RunStatus) bool { return h.run.JobID == n })
		case "project_id":
			match = append(match, func(h *RunHandle, _ dbtcloud.RunStatus) bool { return h.run.ProjectID == n })
		case "environment_id":
			match = append(match, func(h *RunHandle, _ dbtcloud.RunStatus) bool { return h.run.EnvironmentID == n })
		case "pull_request_id":
			match = append(match, func(h *RunHandle, _ dbtcloud.RunStatus) bool { return h.run.GitHubPR == n || h.run.GitLabMR == n })
		case "status":
			if !dbtcloud.RunStatus(n).Valid() {
				return bad("status=%d is not a run status", n)
			}
			match = append(match, func(_ *RunHandle, st dbtcloud.RunStatus) bool { return int64(st) == n })
		}
	}
	if v := q.Get("status__in"); v != "" {
		list, err := parseIntList(v)
		if err != nil {
			return bad("status__in=%q is not a list of integers", v)
		}
		for _, n := range list {
			if !dbtcloud.RunStatus(n).Valid() {
				return bad("status__in: %d is not a run status", n)
			}
		}
		filters["status__in"] = list
		match = append(match, func(_ *RunHandle, st dbtcloud.RunStatus) bool { return slices.Contains(list, int64(st)) })
	}
	inc, err := parseRelated(q.Get("include_related"))
	if err != nil {
		return bad("%v", err)
	}
	order := q.Get("order_by")
	if order == "" {
		order = "id"
	}
	if !slices.Contains(orderFields, order) {
		return bad("order_by=%q: use id, created_at or finished_at, with - to reverse", order)
	}
	limit, offset := 100, 0
	if n, ok, err := intParam("limit"); err != nil || ok && (n < 1 || n > 100) {
		return bad("limit=%q: use 1 to 100", q.Get("limit"))
	} else if ok {
		limit = int(n)
	}
	if n, ok, err := intParam("offset"); err != nil || ok && n < 0 {
		return bad("offset=%q: use 0 or more", q.Get("offset"))
	} else if ok {
		offset = int(n)
	}

	// Statuses are read once per request, so that filtering and the
	// response agree; only runs returned count as observed.
	type cand struct {
		h  *RunHandle
		st dbtcloud.RunStatus
	}
	var all []cand
	for _, h := range s.runs {
		st := h.statusAt(h.seen)
		ok := true
		for _, f := range match {
			ok = ok && f(h, st)
		}
		if ok {
			all = append(all, cand{h, st})
		}
	}
	key := strings.TrimPrefix(order, "-")
	slices.SortStableFunc(all, func(a, b cand) int {
		var c int
		switch key {
		case "created_at":
			c = a.h.created.Compare(b.h.created)
		case "finished_at":
			c = a.h.finished.Compare(b.h.finished)
		}
		if c == 0 {
			c = int(a.h.run.ID - b.h.run.ID)
		}
		if strings.HasPrefix(order, "-") {
			c = -c
		}
		return c
	})
	total := len(all)
	page := all[min(offset, total):min(offset+limit, total)]
	data := make([]any, 0, len(page))
	for _, c := range page {
		st := c.h.observe()
		data = append(data, s.runJSON(c.h, st, inc))
	}
	extra := map[string]any{
		"filters":    filters,
		"order_by":   order,
		"pagination": map[string]int{"count": len(data), "total_count": total},
	}
	return writeData(w, data, extra)
}

func writeData(w http.ResponseWriter, data any, extra map[string]any) int {
	body := map[string]any{
		"status": map[string]any{"code": 200, "is_success": true, "user_message": "Success!", "developer_message": ""},
		"data":   data,
	}
	if extra != nil {
		body["extra"] = extra
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(body)
	return http.StatusOK
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": map[string]any{"code": status, "is_success": false, "user_message": msg, "developer_message": ""},
		"data":   nil,
	})
	return status
}
