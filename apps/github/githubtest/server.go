// Package githubtest is a stand-in GitHub for tests and the demo: an
// httptest server that speaks the REST endpoints the diffgate App calls
// (installation tokens, check runs, issue comments, pull request files and
// look-ups) with GitHub's JSON, keeps what was written so a test can look
// at it, checks every request body against what GitHub accepts (required
// fields, enum values, length limits) and reports anything else — an
// unexpected request, a malformed body — through a TB. It can answer with
// GitHub's primary and secondary rate limits on demand.
//
// It also signs and sends webhook deliveries (see Webhook) built in the
// real payload shapes.
package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/diffgate/diffgate/shared/standin"
)

// TB is the part of testing.TB the stand-in needs. A *testing.T fits; the
// demo passes a standin.Recorder.
type TB = standin.TB

// DefaultAppID is the App id of the stand-in's App.
const DefaultAppID = 4242

// Limits of GitHub's REST API the stand-in enforces.
const (
	MaxOutputText  = 65535 // a check run's output.summary and output.text, in characters
	MaxCommentBody = 65536 // an issue comment's body, in characters
	MaxAnnotations = 50    // annotations per check run request
	MaxPRFiles     = 3000  // files GitHub lists for a pull request
	MaxPerPage     = 100
	DefaultPerPage = 30
	tokenTTL       = time.Hour
)

// Limit is a rate-limit answer to inject.
type Limit int

const (
	// PrimaryLimit: 403 with x-ratelimit-remaining 0 and a reset time.
	PrimaryLimit Limit = iota
	// SecondaryLimit: 403 naming the secondary limit, with Retry-After.
	SecondaryLimit
	// TooManyRequests: 429 with Retry-After.
	TooManyRequests
)

// File is one changed file of a pull request.
type File struct {
	Filename         string `json:"filename"`
	Status           string `json:"status"` // added, removed, modified, renamed, copied, changed, unchanged
	PreviousFilename string `json:"previous_filename,omitempty"`
}

// PR is a pull request the stand-in knows.
type PR struct {
	Number  int
	Title   string
	State   string // open (default) or closed
	Draft   bool
	Labels  []string
	HeadSHA string
	HeadRef string
	BaseSHA string
	BaseRef string
	// HeadRepo is owner/name of the head's repository; empty means the
	// pull request's own (a fork has another).
	HeadRepo string
	User     string
	Files    []File
}

// CheckRun is a check run as the stand-in stores it.
type CheckRun struct {
	ID          int64
	AppID       int64
	Name        string
	HeadSHA     string
	ExternalID  string
	Status      string
	Conclusion  string
	DetailsURL  string
	Title       string
	Summary     string
	Text        string
	StartedAt   string
	CompletedAt string
	// Updates counts the PATCHes it received.
	Updates int
}

// Comment is an issue comment.
type Comment struct {
	ID     int64
	Number int // the pull request (issue) it is on
	Body   string
	User   string
	Edits  int
}

type repo struct {
	prs       map[int]*PR
	checkRuns []*CheckRun
	comments  []*Comment
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	tb    TB
	appID int64
	key   *rsa.PrivateKey

	mu            sync.Mutex
	installations map[int64]bool
	tokens        map[string]int64
	repos         map[string]*repo
	nextID        int64
	limits        []Limit
	nLimited      int
	window        int // seconds the injected limits ask to wait
	requests      map[string]int
}

// Option configures New.
type Option func(*Server)

// WithRateLimitWindow sets how long injected rate limits ask clients to
// wait (Retry-After, x-ratelimit-reset); default a minute, as GitHub's
// secondary limits do. Whole seconds, at least one.
func WithRateLimitWindow(d time.Duration) Option {
	return func(s *Server) { s.window = max(int(d/time.Second), 1) }
}

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

// New starts a stand-in GitHub; it is closed when tb's test ends (if tb
// has Cleanup) or by Close.
func New(tb TB, opts ...Option) *Server {
	tb.Helper()
	keyOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	s := &Server{tb: tb, appID: DefaultAppID, key: appKey,
		installations: map[int64]bool{}, tokens: map[string]int64{}, repos: map[string]*repo{},
		nextID: 1000, window: 60, requests: map[string]int{}}
	for _, o := range opts {
		o(s)
	}
	s.Server = standin.Serve(tb, http.HandlerFunc(s.serve))
	return s
}

// AppID is the App's id.
func (s *Server) AppID() int64 { return s.appID }

// PrivateKeyPEM is the App's private key, as GitHub hands it out.
func (s *Server) PrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.key)})
}

// WebURL is the web URL (github.web_url); repositories are named
// HOST:PORT/owner/name in diffgate's config.
func (s *Server) WebURL() string { return s.URL }

// APIURL is the REST API's base URL (github.api_url), in the GitHub
// Enterprise Server form: requests go under /api/v3/.
func (s *Server) APIURL() string { return s.URL + "/api/v3/" }

// Host is HOST:PORT, the host part of repository names.
func (s *Server) Host() string { return strings.TrimPrefix(s.URL, "http://") }

// AddInstallation makes an installation id known.
func (s *Server) AddInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations[id] = true
}

// AddPR adds or replaces a pull request of repository owner/name.
func (s *Server) AddPR(repository string, pr PR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr.State == "" {
		pr.State = "open"
	}
	if pr.User == "" {
		pr.User = "octocat"
	}
	s.repo(repository).prs[pr.Number] = &pr
}

// SetFiles sets a pull request's changed files.
func (s *Server) SetFiles(repository string, number int, files ...File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pr := s.repo(repository).prs[number]; pr != nil {
		pr.Files = files
	}
}

// AddComment adds somebody's comment to a pull request.
func (s *Server) AddComment(repository string, number int, user, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	r := s.repo(repository)
	r.comments = append(r.comments, &Comment{ID: s.nextID, Number: number, Body: body, User: user})
}

// CheckRuns returns the check runs of a repository, oldest first.
func (s *Server) CheckRuns(repository string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CheckRun
	for _, c := range s.repo(repository).checkRuns {
		out = append(out, *c)
	}
	return out
}

// Comments returns the comments on a pull request, oldest first.
func (s *Server) Comments(repository string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.repo(repository).comments {
		if c.Number == number {
			out = append(out, *c)
		}
	}
	return out
}

// RateLimit makes the next n API requests (not token exchanges) answer
// with limit.
func (s *Server) RateLimit(limit Limit, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.limits = append(s.limits, limit)
	}
}

// Limited returns how many requests were answered with an injected
// rate limit.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nLimited
}

// Requests returns how many requests each route received, keyed like
// "POST /repos/{owner}/{repo}/check-runs".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

func (s *Server) repo(name string) *repo {
	r := s.repos[strings.ToLower(name)]
	if r == nil {
		r = &repo{prs: map[int]*PR{}}
		s.repos[strings.ToLower(name)] = r
	}
	return r
}

// route is one endpoint.
type route struct {
	method  string
	pattern *regexp.Regexp
	name    string
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, args []string, installation int64)
}

var routes = []route{
	{"GET", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/pulls/(\d+)/files$`), "GET /repos/{owner}/{repo}/pulls/{n}/files", (*Server).listFiles},
	{"GET", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/pulls/(\d+)$`), "GET /repos/{owner}/{repo}/pulls/{n}", (*Server).getPR},
	{"GET", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/commits/([0-9a-f]{40})/pulls$`), "GET /repos/{owner}/{repo}/commits/{sha}/pulls", (*Server).prsForCommit},
	{"GET", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/commits/([^/]+)/check-runs$`), "GET /repos/{owner}/{repo}/commits/{ref}/check-runs", (*Server).listCheckRuns},
	{"POST", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/check-runs$`), "POST /repos/{owner}/{repo}/check-runs", (*Server).createCheckRun},
	{"PATCH", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/check-runs/(\d+)$`), "PATCH /repos/{owner}/{repo}/check-runs/{id}", (*Server).updateCheckRun},
	{"GET", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$`), "GET /repos/{owner}/{repo}/issues/{n}/comments", (*Server).listComments},
	{"POST", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$`), "POST /repos/{owner}/{repo}/issues/{n}/comments", (*Server).createComment},
	{"PATCH", regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$`), "PATCH /repos/{owner}/{repo}/issues/comments/{id}", (*Server).editComment},
}

var tokenPath = regexp.MustCompile(`^/app/installations/(\d+)/access_tokens$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	if r.Method == http.MethodGet && path == "/app" {
		s.count("GET /app")
		s.getApp(w, r)
		return
	}
	if r.Method == http.MethodPost {
		if m := tokenPath.FindStringSubmatch(path); m != nil {
			s.count("POST /app/installations/{id}/access_tokens")
			s.accessToken(w, r, m[1])
			return
		}
	}
	for _, rt := range routes {
		m := rt.pattern.FindStringSubmatch(path)
		if m == nil || rt.method != r.Method {
			continue
		}
		s.count(rt.name)
		inst, ok := s.authorise(w, r)
		if !ok {
			return
		}
		if s.limited(w) {
			return
		}
		rt.handle(s, w, r, m[1:], inst)
		return
	}
	s.tb.Errorf("githubtest: unexpected request %s %s", r.Method, r.URL.Path)
	writeError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) count(name string) {
	s.mu.Lock()
	s.requests[name]++
	s.mu.Unlock()
}

// appJWT checks that a request is authenticated as the App itself (a JWT
// signed with its private key), as GitHub asks of the /app endpoints.
func (s *Server) appJWT(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		s.tb.Errorf("githubtest: %s %s without a JWT (Authorization %q)", r.Method, r.URL.Path, redactAuth(auth))
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return false
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimPrefix(auth, "Bearer "), claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("signed with %v, want RS256", t.Header["alg"])
		}
		return &s.key.PublicKey, nil
	})
	if err != nil || claims.Issuer != strconv.FormatInt(s.appID, 10) {
		s.tb.Errorf("githubtest: bad App JWT (issuer %q, want %d): %v", claims.Issuer, s.appID, err)
		writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
		return false
	}
	return true
}

// getApp answers GET /app: the App the JWT names.
func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	if s.appJWT(w, r) {
		writeJSON(w, http.StatusOK, s.appJSON(s.appID))
	}
}

// appJSON is an App as GitHub shows it (GET /app, a check run's app).
func (s *Server) appJSON(id int64) map[string]any {
	return map[string]any{
		"id": id, "slug": Slug, "node_id": fmt.Sprintf("A_standin%d", id), "name": "diffgate", "description": "",
		"owner":        map[string]any{"login": "acme", "id": 1, "type": "Organization"},
		"external_url": s.URL, "html_url": s.WebURL() + "/apps/" + Slug,
		"created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z",
		"permissions": map[string]string{"checks": "write", "pull_requests": "write", "contents": "read", "metadata": "read"},
		"events":      []string{"pull_request", "check_run"},
	}
}

// accessToken exchanges the App's JWT for an installation token.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request, idText string) {
	id, _ := strconv.ParseInt(idText, 10, 64)
	if !s.appJWT(w, r) {
		return
	}
	s.mu.Lock()
	known := s.installations[id]
	var tok string
	if known {
		s.nextID++
		tok = fmt.Sprintf("ghs_standin%d", s.nextID)
		s.tokens[tok] = id
	}
	s.mu.Unlock()
	if !known {
		s.tb.Errorf("githubtest: token asked for unknown installation %d", id)
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": tok, "expires_at": time.Now().Add(tokenTTL).UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"checks": "write", "pull_requests": "write", "contents": "read", "metadata": "read"},
		"repository_selection": "all",
	})
}

func (s *Server) authorise(w http.ResponseWriter, r *http.Request) (int64, bool) {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	inst, ok := s.tokens[strings.TrimPrefix(auth, "token ")]
	s.mu.Unlock()
	if !strings.HasPrefix(auth, "token ") || !ok {
		s.tb.Errorf("githubtest: %s %s without an installation token (Authorization %q)", r.Method, r.URL.Path, redactAuth(auth))
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return 0, false
	}
	return inst, true
}

func redactAuth(a string) string {
	if i := strings.IndexByte(a, ' '); i > 0 {
		return a[:i] + " [redacted]"
	}
	if a == "" {
		return ""
	}
	return "[redacted]"
}

// limited answers with an injected rate limit, if one is queued.
func (s *Server) limited(w http.ResponseWriter) bool {
	s.mu.Lock()
	if len(s.limits) == 0 {
		s.mu.Unlock()
		return false
	}
	l := s.limits[0]
	s.limits = s.limits[1:]
	s.nLimited++
	s.mu.Unlock()
	reset := strconv.FormatInt(time.Now().Add(time.Duration(s.window)*time.Second).Unix(), 10)
	h := w.Header()
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-RateLimit-Reset", reset)
	switch l {
	case PrimaryLimit:
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", "5000")
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "API rate limit exceeded for installation.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit",
		})
	case SecondaryLimit:
		h.Set("X-RateLimit-Remaining", "4000")
		h.Set("Retry-After", strconv.Itoa(s.window))
		writeJSON(w, http.StatusForbidden, map[string]string{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	default:
		h.Set("X-RateLimit-Remaining", "4000")
		h.Set("Retry-After", strconv.Itoa(s.window))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{
			"message":           "Too many requests.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
		})
	}
	return true
}

func (s *Server) pr(w http.ResponseWriter, repository, number string) (*PR, bool) {
	n, _ := strconv.Atoi(number)
	pr := s.repo(repository).prs[n]
	if pr == nil {
		s.tb.Errorf("githubtest: pull request %s#%d is not known", repository, n)
		writeError(w, http.StatusNotFound, "Not Found")
		return nil, false
	}
	return pr, true
}

// page reads per_page and page, as GitHub does (per_page at most 100).
func (s *Server) page(w http.ResponseWriter, r *http.Request) (perPage, page int, ok bool) {
	perPage, page = DefaultPerPage, 1
	q := r.URL.Query()
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.tb.Errorf("githubtest: per_page %q", v)
			writeError(w, http.StatusUnprocessableEntity, "per_page is invalid")
			return 0, 0, false
		}
		perPage = min(n, MaxPerPage)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.tb.Errorf("githubtest: page %q", v)
			writeError(w, http.StatusUnprocessableEntity, "page is invalid")
			return 0, 0, false
		}
		page = n
	}
	return perPage, page, true
}

// paginate writes items[page] with GitHub's Link header.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T, perPage, page int) {
	start, end := pageOf(w, r, len(items), perPage, page)
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	writeJSON(w, http.StatusOK, out)
}

// pageOf sets GitHub's Link header for one page of a list of total items
// and returns where the page starts and ends.
func pageOf(w http.ResponseWriter, r *http.Request, total, perPage, page int) (start, end int) {
	start = min((page-1)*perPage, total)
	end = min(start+perPage, total)
	last := max((total+perPage-1)/perPage, 1)
	link := func(p int, rel string) string {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<http://%s%s>; rel=%q", r.Host, u.RequestURI(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return start, end
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	perPage, page, ok := s.page(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	pr, ok := s.pr(w, args[0], args[1])
	var files []map[string]any
	if ok {
		for i, f := range pr.Files {
			if i == MaxPRFiles {
				break
			}
			m := map[string]any{"sha": fmt.Sprintf("%040x", i+1), "filename": f.Filename, "status": f.Status,
				"additions": 1, "deletions": 0, "changes": 1,
				"blob_url":     s.URL + "/" + args[0] + "/blob/" + pr.HeadSHA + "/" + f.Filename,
				"raw_url":      s.URL + "/" + args[0] + "/raw/" + pr.HeadSHA + "/" + f.Filename,
				"contents_url": s.URL + "/api/v3/repos/" + args[0] + "/contents/" + f.Filename}
			if f.PreviousFilename != "" {
				m["previous_filename"] = f.PreviousFilename
			}
			files = append(files, m)
		}
	}
	s.mu.Unlock()
	if ok {
		paginate(w, r, files, perPage, page)
	}
}

func (s *Server) prJSON(repository string, pr *PR) map[string]any {
	headRepo := pr.HeadRepo
	if headRepo == "" {
		headRepo = repository
	}
	labels := []map[string]any{}
	for i, l := range pr.Labels {
		labels = append(labels, map[string]any{"id": i + 1, "name": l, "color": "ededed", "default": false})
	}
	ref := func(sha, ref, full string) map[string]any {
		owner, _, _ := strings.Cut(full, "/")
		return map[string]any{"label": owner + ":" + ref, "ref": ref, "sha": sha,
			"user": map[string]any{"login": owner}, "repo": map[string]any{"full_name": full, "name": full[len(owner)+1:]}}
	}
	return map[string]any{
		"number": pr.Number, "state": pr.State, "draft": pr.Draft, "title": pr.Title, "merged": false,
		"html_url": s.URL + "/" + repository + "/pull/" + strconv.Itoa(pr.Number),
		"user":     map[string]any{"login": pr.User, "type": "User"}, "labels": labels,
		"head": ref(pr.HeadSHA, pr.HeadRef, headRepo), "base": ref(pr.BaseSHA, pr.BaseRef, repository),
	}
}

func (s *Server) getPR(w http.ResponseWriter, _ *http.Request, args []string, _ int64) {
	s.mu.Lock()
	pr, ok := s.pr(w, args[0], args[1])
	var body map[string]any
	if ok {
		body = s.prJSON(args[0], pr)
	}
	s.mu.Unlock()
	if ok {
		writeJSON(w, http.StatusOK, body)
	}
}

func (s *Server) prsForCommit(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	perPage, page, ok := s.page(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	rp := s.repo(args[0])
	numbers := make([]int, 0, len(rp.prs))
	for n := range rp.prs {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	var out []map[string]any
	for _, n := range numbers {
		if pr := rp.prs[n]; pr.HeadSHA == args[1] && pr.State == "open" {
			out = append(out, s.prJSON(args[0], pr))
		}
	}
	s.mu.Unlock()
	paginate(w, r, out, perPage, page)
}

func (s *Server) checkRunJSON(repository string, c *CheckRun) map[string]any {
	var conclusion any
	if c.Conclusion != "" {
		conclusion = c.Conclusion
	}
	opt := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	return map[string]any{
		"id": c.ID, "name": c.Name, "head_sha": c.HeadSHA, "external_id": c.ExternalID,
		"status": c.Status, "conclusion": conclusion, "details_url": opt(c.DetailsURL),
		"started_at": opt(c.StartedAt), "completed_at": opt(c.CompletedAt),
		"url":      s.URL + "/api/v3/repos/" + repository + "/check-runs/" + strconv.FormatInt(c.ID, 10),
		"html_url": s.URL + "/" + repository + "/runs/" + strconv.FormatInt(c.ID, 10),
		"output": map[string]any{"title": opt(c.Title), "summary": opt(c.Summary), "text": opt(c.Text),
			"annotations_count": 0, "annotations_url": s.URL + "/api/v3/repos/" + repository + "/check-runs/" + strconv.FormatInt(c.ID, 10) + "/annotations"},
		"app":           s.appJSON(c.AppID),
		"pull_requests": []any{},
	}
}

func (s *Server) listCheckRuns(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	q := r.URL.Query()
	filter := q.Get("filter")
	if filter != "" && filter != "latest" && filter != "all" {
		s.tb.Errorf("githubtest: check runs filter %q is not latest or all", filter)
		writeError(w, http.StatusUnprocessableEntity, "filter is invalid")
		return
	}
	if st := q.Get("status"); st != "" && !slices.Contains(checkStatuses, st) {
		s.tb.Errorf("githubtest: check runs status %q", st)
		writeError(w, http.StatusUnprocessableEntity, "status is invalid")
		return
	}
	perPage, page, ok := s.page(w, r)
	if !ok {
		return
	}
	var appID int64
	if v := q.Get("app_id"); v != "" {
		appID, _ = strconv.ParseInt(v, 10, 64)
	}
	s.mu.Lock()
	var matched []*CheckRun
	for _, c := range s.repo(args[0]).checkRuns {
		if c.HeadSHA != args[1] || (q.Get("check_name") != "" && c.Name != q.Get("check_name")) ||
			(appID != 0 && c.AppID != appID) || (q.Get("status") != "" && c.Status != q.Get("status")) {
			continue
		}
		matched = append(matched, c)
	}
	if filter != "all" { // latest: the newest run of each name
		seen := map[string]bool{}
		var latest []*CheckRun
		for i := len(matched) - 1; i >= 0; i-- {
			if !seen[matched[i].Name] {
				seen[matched[i].Name] = true
				latest = append([]*CheckRun{matched[i]}, latest...)
			}
		}
		matched = latest
	}
	all := make([]map[string]any, len(matched))
	for i, c := range matched {
		all[i] = s.checkRunJSON(args[0], c)
	}
	s.mu.Unlock()
	start, end := pageOf(w, r, len(all), perPage, page)
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "check_runs": all[start:end]})
}

func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	body, ok := s.decode(w, r)
	if !ok {
		return
	}
	if err := ValidateCheckRun(body, true); err != nil {
		s.reject(w, r, err)
		return
	}
	s.mu.Lock()
	s.nextID++
	c := &CheckRun{ID: s.nextID, AppID: s.appID, Status: "queued"}
	applyCheckRun(c, body)
	s.repo(args[0]).checkRuns = append(s.repo(args[0]).checkRuns, c)
	out := s.checkRunJSON(args[0], c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	body, ok := s.decode(w, r)
	if !ok {
		return
	}
	if err := ValidateCheckRun(body, false); err != nil {
		s.reject(w, r, err)
		return
	}
	id, _ := strconv.ParseInt(args[1], 10, 64)
	s.mu.Lock()
	var c *CheckRun
	for _, x := range s.repo(args[0]).checkRuns {
		if x.ID == id {
			c = x
		}
	}
	if c == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if c.AppID != s.appID {
		s.mu.Unlock()
		s.tb.Errorf("githubtest: check run %d belongs to another App", id)
		writeError(w, http.StatusForbidden, "Invalid app_id `"+strconv.FormatInt(s.appID, 10)+"` - check run can only be modified by the GitHub App that created it.")
		return
	}
	applyCheckRun(c, body)
	c.Updates++
	out := s.checkRunJSON(args[0], c)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// applyCheckRun stores a validated body, as GitHub does: a conclusion
// completes the run; going back to queued or in progress clears it.
func applyCheckRun(c *CheckRun, body map[string]any) {
	str := func(k string, dst *string) {
		if v, ok := body[k].(string); ok {
			*dst = v
		}
	}
	str("name", &c.Name)
	str("head_sha", &c.HeadSHA)
	str("external_id", &c.ExternalID)
	str("details_url", &c.DetailsURL)
	str("started_at", &c.StartedAt)
	str("completed_at", &c.CompletedAt)
	if st, ok := body["status"].(string); ok {
		c.Status = st
		if st != "completed" {
			c.Conclusion, c.CompletedAt = "", ""
		}
	}
	if v, ok := body["conclusion"].(string); ok {
		c.Conclusion, c.Status = v, "completed"
		if c.CompletedAt == "" {
			c.CompletedAt = time.Now().UTC().Format(time.RFC3339)
		}
	}
	if out, ok := body["output"].(map[string]any); ok {
		c.Title, _ = out["title"].(string)
		c.Summary, _ = out["summary"].(string)
		c.Text, _ = out["text"].(string)
	}
}

func (s *Server) commentJSON(repository string, c *Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body,
		"user":       map[string]any{"login": c.User, "type": userType(c.User)},
		"html_url":   fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", s.URL, repository, c.Number, c.ID),
		"issue_url":  fmt.Sprintf("%s/api/v3/repos/%s/issues/%d", s.URL, repository, c.Number),
		"created_at": "2026-03-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z",
		"author_association": "NONE",
	}
}

func userType(login string) string {
	if strings.HasSuffix(login, "[bot]") {
		return "Bot"
	}
	return "User"
}

// Slug is the App's slug (GET /app); its bot user is Slug + "[bot]".
const Slug = "diffgate"

// BotLogin is the login the App's comments are written under.
const BotLogin = Slug + "[bot]"

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	perPage, page, ok := s.page(w, r)
	if !ok {
		return
	}
	n, _ := strconv.Atoi(args[1])
	s.mu.Lock()
	var out []map[string]any
	for _, c := range s.repo(args[0]).comments {
		if c.Number == n {
			out = append(out, s.commentJSON(args[0], c))
		}
	}
	s.mu.Unlock()
	paginate(w, r, out, perPage, page)
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	body, ok := s.decode(w, r)
	if !ok {
		return
	}
	if err := ValidateComment(body); err != nil {
		s.reject(w, r, err)
		return
	}
	n, _ := strconv.Atoi(args[1])
	s.mu.Lock()
	if s.repo(args[0]).prs[n] == nil {
		s.mu.Unlock()
		s.tb.Errorf("githubtest: comment on unknown pull request %s#%d", args[0], n)
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.nextID++
	c := &Comment{ID: s.nextID, Number: n, Body: body["body"].(string), User: BotLogin}
	s.repo(args[0]).comments = append(s.repo(args[0]).comments, c)
	out := s.commentJSON(args[0], c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request, args []string, _ int64) {
	body, ok := s.decode(w, r)
	if !ok {
		return
	}
	if err := ValidateComment(body); err != nil {
		s.reject(w, r, err)
		return
	}
	id, _ := strconv.ParseInt(args[1], 10, 64)
	s.mu.Lock()
	var c *Comment
	for _, x := range s.repo(args[0]).comments {
		if x.ID == id {
			c = x
		}
	}
	switch {
	case c == nil:
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "Not Found")
		return
	case c.User != BotLogin:
		s.mu.Unlock()
		s.tb.Errorf("githubtest: the App edited %s's comment %d", c.User, id)
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	c.Body = body["body"].(string)
	c.Edits++
	out := s.commentJSON(args[0], c)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// decode reads a JSON object body.
func (s *Server) decode(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil || body == nil {
		s.tb.Errorf("githubtest: %s %s: body is not a JSON object: %v", r.Method, r.URL.Path, err)
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return nil, false
	}
	return body, true
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request, err error) {
	s.tb.Errorf("githubtest: %s %s: GitHub would refuse this body: %v", r.Method, r.URL.Path, err)
	writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+err.Error())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}
