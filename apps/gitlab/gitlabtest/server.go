// Package gitlabtest is a stand-in GitLab for tests and the demo: an
// httptest server speaking the REST API v4 endpoints the diffgate bot
// calls (the token's user, merge requests, their diffs and notes, commit
// statuses) with GitLab's JSON. It keeps what was written (statuses per
// commit, notes per merge request) for a test to look at, checks every
// request against what GitLab accepts (PRIVATE-TOKEN, state names, the
// description and note lengths) and answers as GitLab does, including
// the 400 "Cannot transition status" for a status posted twice in the
// same state. Anything it does not expect — an unknown route, a request
// GitLab would refuse — is reported through a TB. It can answer 429 with
// GitLab's rate-limit headers on demand.
//
// It also builds and sends webhook deliveries in the real payload shapes
// (see hooks.go).
package gitlabtest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/standin"
)

// TB is the part of testing.TB the stand-in needs.
type TB = standin.TB

// Limits GitLab enforces on what the bot writes.
const (
	MaxNoteLength   = 1_000_000 // characters of a note body
	MaxDescription  = 255       // characters of a commit status description
	MaxTargetURL    = 255       // characters of a commit status target_url
	MaxPerPage      = 100
	DefaultPerPage  = 20
	DefaultToken    = "glpat-standin-token"
	BotUsername     = "project_7_bot_diffgate"
	botUserID       = 9001
	firstID         = 5000
	rateLimitPerMin = 2000
)

// UserID is the stand-in's id of a user: the same for a username in hooks
// and in API answers.
func UserID(username string) int64 {
	if username == BotUsername {
		return botUserID
	}
	h := fnv.New32a()
	h.Write([]byte(username))
	return 100 + int64(h.Sum32()%100_000)
}

// Access levels of project members, as GitLab numbers them.
const (
	AccessGuest      = 10
	AccessReporter   = 20
	AccessDeveloper  = 30
	AccessMaintainer = 40
)

// Commit status states GitLab accepts from the API.
var statusStates = []string{"pending", "running", "success", "failed", "canceled"}

// Project is a GitLab project: its numeric id and its full path
// (path_with_namespace, e.g. group/sub/project).
type Project struct {
	ID   int64
	Path string
}

// Diff is one changed file of a merge request.
type Diff struct {
	OldPath, NewPath                  string
	NewFile, RenamedFile, DeletedFile bool
}

// MR is a merge request of a (target) project.
type MR struct {
	IID          int
	Title        string
	State        string // opened (default), closed, merged
	Draft        bool
	Labels       []string
	HeadSHA      string
	BaseSHA      string // diff_refs.base_sha
	SourceBranch string
	TargetBranch string
	// Source is the project the commits come from; the zero value means
	// the merge request's own project (a fork has another).
	Source Project
	Author string
	Diffs  []Diff
}

// Status is one commit status record as GitLab keeps it. Posting a state
// to a status that is pending or running moves it; posting to one that
// is finished starts a new record, as GitLab does.
type Status struct {
	ID          int64
	SHA         string
	Name        string
	State       string
	Ref         string
	PipelineID  int64
	Description string
	TargetURL   string
	// Posts counts the requests that moved this record.
	Posts int
}

// Pipeline is a pipeline of a project.
type Pipeline struct {
	ID     int64
	SHA    string
	Ref    string
	Source string // push, merge_request_event, external (made by a commit status)
}

// Note is a merge request note.
type Note struct {
	ID     int64
	Body   string
	Author string
	System bool
	Edits  int
}

type project struct {
	Project
	mrs       map[int]*MR
	notes     map[int][]*Note
	statuses  []*Status
	pipelines []*Pipeline
	commits   map[string]bool
	members   map[int64]member // by user id, direct or inherited
}

type member struct {
	username string
	level    int
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	tb    TB
	token string
	wait  int // seconds a rate-limited client is asked to wait

	mu       sync.Mutex
	projects map[int64]*project
	nextID   int64
	limits   int
	limited  atomic.Int64
	requests map[string]int
}

// Option configures New.
type Option func(*Server)

// WithRateLimitWindow sets how long an injected rate limit asks a client
// to wait (Retry-After, RateLimit-Reset); whole seconds, at least one;
// default a minute.
func WithRateLimitWindow(d time.Duration) Option {
	return func(s *Server) { s.wait = max(int(d/time.Second), 1) }
}

// New starts a stand-in GitLab, closed when tb's test ends (when tb has
// Cleanup) or by Close.
func New(tb TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{tb: tb, token: DefaultToken, wait: 60, projects: map[int64]*project{},
		nextID: firstID, requests: map[string]int{}}
	s.Server = standin.Serve(tb, http.HandlerFunc(s.serve))
	for _, o := range opts {
		o(s)
	}
	return s
}

// Token is the access token the stand-in accepts.
func (s *Server) Token() string { return s.token }

// Host is HOST:PORT, the first part of repository names in diffgate's
// config.
func (s *Server) Host() string { return strings.TrimPrefix(s.URL, "http://") }

// Repository is how diffgate's config names a project: host/path.
func (s *Server) Repository(path string) string { return s.Host() + "/" + path }

// Config is a gitlab section pointing at the stand-in (gitlab.url as a
// self-managed instance), with the given webhook secret.
func (s *Server) Config(webhookSecret string) *config.GitLab {
	return &config.GitLab{URL: s.URL, Token: config.NewSecret(s.token), WebhookSecret: config.NewSecret(webhookSecret)}
}

// AddProject makes a project known.
func (s *Server) AddProject(p Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(p)
}

func (s *Server) project(p Project) *project {
	if pr := s.projects[p.ID]; pr != nil {
		return pr
	}
	pr := &project{Project: p, mrs: map[int]*MR{}, notes: map[int][]*Note{}, commits: map[string]bool{}}
	s.projects[p.ID] = pr
	return pr
}

// SetMR adds or replaces a merge request of target (made known if it is
// not). Its head becomes a commit of the target project, as GitLab keeps
// a merge request's commits under refs/merge-requests/<iid>/head even
// when they come from a fork.
func (s *Server) SetMR(target Project, mr MR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr.State, mr.Author = cmp.Or(mr.State, "opened"), cmp.Or(mr.Author, "maria")
	if mr.Source.ID == 0 {
		mr.Source = target
	}
	p := s.project(target)
	if old := p.mrs[mr.IID]; old != nil && mr.Diffs == nil {
		mr.Diffs = old.Diffs
	}
	p.mrs[mr.IID] = &mr
	p.commits[mr.HeadSHA] = true
}

// SetDiffs sets a merge request's changed files.
func (s *Server) SetDiffs(projectID int64, iid int, diffs ...Diff) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil && p.mrs[iid] != nil {
		p.mrs[iid].Diffs = diffs
	}
}

// AddPipeline adds a pipeline to a project (its CI, say) and returns its
// id.
func (s *Server) AddPipeline(projectID int64, pl Pipeline) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	pl.ID = s.nextID
	p := s.projects[projectID]
	p.pipelines = append(p.pipelines, &pl)
	p.commits[pl.SHA] = true
	return pl.ID
}

// AddNote adds somebody's note to a merge request.
func (s *Server) AddNote(projectID int64, iid int, author, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	p := s.projects[projectID]
	p.notes[iid] = append(p.notes[iid], &Note{ID: s.nextID, Body: body, Author: author})
}

// Statuses returns a project's commit status records of a commit, oldest
// first.
func (s *Server) Statuses(projectID int64, sha string) []Status {
	return snapshot(s, projectID, func(p *project) []*Status {
		return slices.DeleteFunc(slices.Clone(p.statuses), func(st *Status) bool { return st.SHA != sha })
	})
}

// AllStatuses returns every commit status record of a project.
func (s *Server) AllStatuses(projectID int64) []Status {
	return snapshot(s, projectID, func(p *project) []*Status { return p.statuses })
}

// snapshot copies what pick chooses of a project, under the lock.
func snapshot[T any](s *Server, projectID int64, pick func(*project) []*T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		return nil
	}
	var out []T
	for _, v := range pick(p) {
		out = append(out, *v)
	}
	return out
}

// Latest returns the newest record of a commit's status named name, as
// GitLab shows it on the commit and the merge request.
func (s *Server) Latest(projectID int64, sha, name string) (Status, bool) {
	all := s.Statuses(projectID, sha)
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Name == name {
			return all[i], true
		}
	}
	return Status{}, false
}

// Notes returns a merge request's notes, oldest first.
func (s *Server) Notes(projectID int64, iid int) []Note {
	return snapshot(s, projectID, func(p *project) []*Note { return p.notes[iid] })
}

// BotNotes returns the notes the bot wrote on a merge request.
func (s *Server) BotNotes(projectID int64, iid int) []Note {
	var out []Note
	for _, n := range s.Notes(projectID, iid) {
		if n.Author == BotUsername {
			out = append(out, n)
		}
	}
	return out
}

// Pipelines returns a project's pipelines, oldest first.
func (s *Server) Pipelines(projectID int64) []Pipeline {
	return snapshot(s, projectID, func(p *project) []*Pipeline { return p.pipelines })
}

// RateLimit makes the next n API requests answer 429.
func (s *Server) RateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits += n
}

// Limited returns how many requests were answered with an injected 429.
func (s *Server) Limited() int { return int(s.limited.Load()) }

// Requests returns how many requests each route received, keyed like
// "POST /projects/:id/statuses/:sha".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// Routes of the stand-in, as Requests names them.
const (
	RouteUser         = "GET /user"
	RouteGetMR        = "GET /projects/:id/merge_requests/:iid"
	RouteDiffs        = "GET /projects/:id/merge_requests/:iid/diffs"
	RouteListNotes    = "GET /projects/:id/merge_requests/:iid/notes"
	RouteCreateNote   = "POST /projects/:id/merge_requests/:iid/notes"
	RouteUpdateNote   = "PUT /projects/:id/merge_requests/:iid/notes/:note_id"
	RouteCommitStatus = "POST /projects/:id/statuses/:sha"
	RouteMember       = "GET /projects/:id/members/all/:user_id"
)

// call is one API request, its path split into segments.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	seg  []string
	proj *project
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/")
	if !ok {
		s.unexpected(w, r)
		return
	}
	seg := strings.Split(rest, "/")
	for i := range seg {
		seg[i], _ = url.PathUnescape(seg[i])
	}
	route := routeOf(r.Method, seg)
	if route == "" {
		s.unexpected(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[route]++
	if r.Header.Get("PRIVATE-TOKEN") != s.token {
		s.tb.Errorf("gitlabtest: %s %s without the access token (PRIVATE-TOKEN sent: %t)", r.Method, r.URL.Path, r.Header.Get("PRIVATE-TOKEN") != "")
		reply(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	if s.limits > 0 {
		s.limits--
		s.limited.Add(1)
		s.tooMany(w)
		return
	}
	c := &call{w: w, r: r, seg: seg}
	if route != RouteUser {
		c.proj = s.lookup(seg[1])
		if c.proj == nil {
			s.tb.Errorf("gitlabtest: %s %s: project %q is not known", r.Method, r.URL.Path, seg[1])
			reply(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
			return
		}
	}
	switch route {
	case RouteUser:
		reply(w, http.StatusOK, map[string]any{"id": botUserID, "username": BotUsername, "name": "diffgate",
			"state": "active", "bot": true, "web_url": s.URL + "/" + BotUsername})
	case RouteGetMR:
		s.getMR(c)
	case RouteDiffs:
		s.listDiffs(c)
	case RouteListNotes:
		s.listNotes(c)
	case RouteCreateNote, RouteUpdateNote:
		s.writeNote(c)
	case RouteCommitStatus:
		s.postStatus(c)
	case RouteMember:
		s.getMember(c)
	}
}

// SetMember makes username a member of the project with access level
// (AccessDeveloper, ...), as a direct or inherited membership shows it.
func (s *Server) SetMember(projectID int64, username string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		s.tb.Errorf("gitlabtest: SetMember: project %d was not added", projectID)
		return
	}
	if p.members == nil {
		p.members = map[int64]member{}
	}
	p.members[UserID(username)] = member{username, level}
}

// getMember answers GET /projects/:id/members/all/:user_id: the member
// with their highest access level, or 404 for someone who is not one.
func (s *Server) getMember(c *call) {
	id, _ := strconv.ParseInt(c.seg[4], 10, 64)
	m, ok := c.proj.members[id]
	if !ok {
		reply(c.w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	reply(c.w, http.StatusOK, map[string]any{"id": id, "username": m.username, "name": m.username,
		"state": "active", "avatar_url": nil, "web_url": s.URL + "/" + m.username,
		"access_level": m.level, "created_at": "2026-03-01T12:00:00.000Z", "expires_at": nil})
}

// routeOf names the route of a request, "" for none the stand-in serves.
func routeOf(method string, seg []string) string {
	isNum := func(s string) bool { _, err := strconv.Atoi(s); return err == nil }
	n := len(seg)
	switch {
	case method == http.MethodGet && n == 1 && seg[0] == "user":
		return RouteUser
	case n < 4 || seg[0] != "projects":
	case seg[2] == "statuses" && n == 4 && method == http.MethodPost:
		return RouteCommitStatus
	case seg[2] == "members" && n == 5 && seg[3] == "all" && isNum(seg[4]) && method == http.MethodGet:
		return RouteMember
	case seg[2] != "merge_requests" || !isNum(seg[3]):
	case n == 4 && method == http.MethodGet:
		return RouteGetMR
	case n == 5 && seg[4] == "diffs" && method == http.MethodGet:
		return RouteDiffs
	case n == 5 && seg[4] == "notes" && method == http.MethodGet:
		return RouteListNotes
	case n == 5 && seg[4] == "notes" && method == http.MethodPost:
		return RouteCreateNote
	case n == 6 && seg[4] == "notes" && isNum(seg[5]) && method == http.MethodPut:
		return RouteUpdateNote
	}
	return ""
}

func (s *Server) unexpected(w http.ResponseWriter, r *http.Request) {
	s.tb.Errorf("gitlabtest: unexpected request %s %s", r.Method, r.URL.EscapedPath())
	reply(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
}

// lookup finds a project by id or by its URL-decoded full path.
func (s *Server) lookup(id string) *project {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return s.projects[n]
	}
	for _, p := range s.projects {
		if strings.EqualFold(p.Path, id) {
			return p
		}
	}
	return nil
}

// tooMany answers as GitLab's rate limiter does.
func (s *Server) tooMany(w http.ResponseWriter) {
	now := time.Now()
	reset := now.Add(time.Duration(s.wait) * time.Second)
	h := w.Header()
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Limit", strconv.Itoa(rateLimitPerMin))
	h.Set("RateLimit-Observed", strconv.Itoa(rateLimitPerMin+1))
	h.Set("RateLimit-Remaining", "0")
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
	h.Set("Retry-After", strconv.Itoa(s.wait))
	h.Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("Retry later\n"))
}

func (s *Server) mr(c *call) *MR {
	iid, _ := strconv.Atoi(c.seg[3])
	mr := c.proj.mrs[iid]
	if mr == nil {
		s.tb.Errorf("gitlabtest: merge request !%d of %s is not known", iid, c.proj.Path)
		reply(c.w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
	}
	return mr
}

func (s *Server) getMR(c *call) {
	mr := s.mr(c)
	if mr == nil {
		return
	}
	p := c.proj
	labels := append([]string{}, mr.Labels...)
	var head any
	if pl := s.headPipeline(p, mr); pl != nil {
		head = map[string]any{"id": pl.ID, "iid": pl.ID - firstID, "project_id": p.ID, "sha": pl.SHA, "ref": pl.Ref,
			"status": "running", "source": pl.Source, "web_url": fmt.Sprintf("%s/%s/-/pipelines/%d", s.URL, p.Path, pl.ID)}
	}
	reply(c.w, http.StatusOK, map[string]any{
		"id": int64(mr.IID) + 100000, "iid": mr.IID, "project_id": p.ID, "title": mr.Title, "description": "",
		"state": mr.State, "draft": mr.Draft, "work_in_progress": mr.Draft,
		"source_branch": mr.SourceBranch, "target_branch": mr.TargetBranch,
		"source_project_id": mr.Source.ID, "target_project_id": p.ID,
		"labels": labels, "sha": mr.HeadSHA,
		"author":        map[string]any{"id": 77, "username": mr.Author, "name": mr.Author, "state": "active"},
		"web_url":       s.mrURL(p, mr.IID),
		"references":    map[string]string{"short": "!" + strconv.Itoa(mr.IID), "full": p.Path + "!" + strconv.Itoa(mr.IID)},
		"diff_refs":     map[string]string{"base_sha": mr.BaseSHA, "head_sha": mr.HeadSHA, "start_sha": mr.BaseSHA},
		"head_pipeline": head,
		"created_at":    "2026-03-01T12:00:00.000Z", "updated_at": "2026-03-01T12:00:00.000Z",
		"detailed_merge_status": "mergeable", "merge_status": "can_be_merged", "user_notes_count": len(p.notes[mr.IID]),
	})
}

func (s *Server) mrURL(p *project, iid int) string {
	return fmt.Sprintf("%s/%s/-/merge_requests/%d", s.URL, p.Path, iid)
}

// headPipeline is the merge request's head pipeline as GitLab picks it:
// the newest pipeline of the target project at the head commit that the
// merge request shows — a merge request pipeline, or for a merge request
// within one project a pipeline of its source branch.
func (s *Server) headPipeline(p *project, mr *MR) *Pipeline {
	mrRef := "refs/merge-requests/" + strconv.Itoa(mr.IID) + "/head"
	for i := len(p.pipelines) - 1; i >= 0; i-- {
		pl := p.pipelines[i]
		if pl.SHA != mr.HeadSHA {
			continue
		}
		if (pl.Ref == mrRef && pl.Source == "merge_request_event") || (mr.Source.ID == p.ID && pl.Ref == mr.SourceBranch) {
			return pl
		}
	}
	return nil
}

// pages reads page and per_page as GitLab does.
func (s *Server) pages(c *call) (page, size int, ok bool) {
	q := c.r.URL.Query()
	page, size = 1, DefaultPerPage
	for name, dst := range map[string]*int{"page": &page, "per_page": &size} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.tb.Errorf("gitlabtest: %s=%q", name, v)
			reply(c.w, http.StatusBadRequest, map[string]string{"error": name + " is invalid"})
			return 0, 0, false
		}
		*dst = n
	}
	return page, min(size, MaxPerPage), true
}

// pageOf writes one page of items with GitLab's pagination headers.
func pageOf[T any](c *call, items []T, page, size int) {
	total := len(items)
	pages := max((total+size-1)/size, 1)
	from, to := min((page-1)*size, total), min(page*size, total)
	h := c.w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(size))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	next, prev := "", ""
	if page < pages {
		next = strconv.Itoa(page + 1)
	}
	if page > 1 {
		prev = strconv.Itoa(page - 1)
	}
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)
	reply(c.w, http.StatusOK, append([]T{}, items[from:to]...))
}

func (s *Server) listDiffs(c *call) {
	mr := s.mr(c)
	if mr == nil {
		return
	}
	page, size, ok := s.pages(c)
	if !ok {
		return
	}
	out := make([]map[string]any, 0, len(mr.Diffs))
	for _, d := range mr.Diffs {
		oldPath := d.OldPath
		if oldPath == "" {
			oldPath = d.NewPath
		}
		out = append(out, map[string]any{"old_path": oldPath, "new_path": d.NewPath, "a_mode": "100644", "b_mode": "100644",
			"diff": "@@ -1 +1 @@\n-a\n+b\n", "new_file": d.NewFile, "renamed_file": d.RenamedFile, "deleted_file": d.DeletedFile,
			"generated_file": false, "collapsed": false, "too_large": false})
	}
	pageOf(c, out, page, size)
}

func (s *Server) noteJSON(p *project, iid int, n *Note) map[string]any {
	id := UserID(n.Author)
	return map[string]any{
		"id": n.ID, "type": nil, "body": n.Body, "attachment": nil, "system": n.System,
		"author":     map[string]any{"id": id, "username": n.Author, "name": n.Author, "state": "active", "web_url": s.URL + "/" + n.Author},
		"created_at": "2026-03-01T12:00:00.000Z", "updated_at": "2026-03-01T12:00:00.000Z",
		"noteable_id": int64(iid) + 100000, "noteable_type": "MergeRequest", "noteable_iid": iid, "project_id": p.ID,
		"resolvable": false, "confidential": false, "internal": false,
	}
}

func (s *Server) listNotes(c *call) {
	mr := s.mr(c)
	if mr == nil {
		return
	}
	q := c.r.URL.Query()
	if v := q.Get("order_by"); v != "" && v != "created_at" && v != "updated_at" {
		s.tb.Errorf("gitlabtest: notes order_by=%q", v)
		reply(c.w, http.StatusBadRequest, map[string]string{"error": "order_by does not have a valid value"})
		return
	}
	if v := q.Get("sort"); v != "" && v != "asc" && v != "desc" {
		s.tb.Errorf("gitlabtest: notes sort=%q", v)
		reply(c.w, http.StatusBadRequest, map[string]string{"error": "sort does not have a valid value"})
		return
	}
	page, size, ok := s.pages(c)
	if !ok {
		return
	}
	notes := slices.Clone(c.proj.notes[mr.IID])
	if q.Get("sort") != "asc" { // GitLab lists the newest first by default
		slices.Reverse(notes)
	}
	out := make([]map[string]any, 0, len(notes))
	for _, n := range notes {
		out = append(out, s.noteJSON(c.proj, mr.IID, n))
	}
	pageOf(c, out, page, size)
}

// noteBody reads and checks the body of a note request.
func (s *Server) noteBody(c *call) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if err := json.NewDecoder(c.r.Body).Decode(&in); err != nil {
		s.tb.Errorf("gitlabtest: %s %s: body is not JSON: %v", c.r.Method, c.r.URL.Path, err)
		reply(c.w, http.StatusBadRequest, map[string]string{"error": "body is invalid"})
		return "", false
	}
	switch {
	case in.Body == nil || strings.TrimSpace(*in.Body) == "":
		s.tb.Errorf("gitlabtest: %s %s: a note without a body", c.r.Method, c.r.URL.Path)
		reply(c.w, http.StatusBadRequest, map[string]string{"error": "body is missing"})
		return "", false
	case utf8.RuneCountInString(*in.Body) > MaxNoteLength:
		s.tb.Errorf("gitlabtest: a note of %d characters; GitLab takes at most %d", utf8.RuneCountInString(*in.Body), MaxNoteLength)
		reply(c.w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"note": {fmt.Sprintf("is too long (maximum is %d characters)", MaxNoteLength)}}})
		return "", false
	}
	return *in.Body, true
}

// writeNote creates a note (POST) or edits the bot's own (PUT).
func (s *Server) writeNote(c *call) {
	mr := s.mr(c)
	if mr == nil {
		return
	}
	body, ok := s.noteBody(c)
	if !ok {
		return
	}
	if c.r.Method == http.MethodPost {
		s.nextID++
		n := &Note{ID: s.nextID, Body: body, Author: BotUsername}
		c.proj.notes[mr.IID] = append(c.proj.notes[mr.IID], n)
		reply(c.w, http.StatusCreated, s.noteJSON(c.proj, mr.IID, n))
		return
	}
	id, _ := strconv.ParseInt(c.seg[5], 10, 64)
	i := slices.IndexFunc(c.proj.notes[mr.IID], func(n *Note) bool { return n.ID == id })
	switch {
	case i < 0:
		reply(c.w, http.StatusNotFound, map[string]string{"message": "404 Note Not Found"})
		return
	case c.proj.notes[mr.IID][i].Author != BotUsername:
		s.tb.Errorf("gitlabtest: the bot edited %s's note %d", c.proj.notes[mr.IID][i].Author, id)
		reply(c.w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
		return
	}
	n := c.proj.notes[mr.IID][i]
	n.Body = body
	n.Edits++
	reply(c.w, http.StatusOK, s.noteJSON(c.proj, mr.IID, n))
}

// postStatus is POST /projects/:id/statuses/:sha: it finds the pipeline
// (the one named, else the newest at the commit and ref, else a new
// external one), then the status of that name still pending or running in
// it, else a new one, and moves it as GitLab's state machine allows.
func (s *Server) postStatus(c *call) {
	var in struct {
		State       string  `json:"state"`
		Ref         *string `json:"ref"`
		Name        *string `json:"name"`
		Context     *string `json:"context"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		PipelineID  *int64  `json:"pipeline_id"`
	}
	if err := json.NewDecoder(c.r.Body).Decode(&in); err != nil {
		s.refuse(c, "body is not JSON: %v", err)
		return
	}
	sha := c.seg[3]
	name := "default"
	for _, v := range []*string{in.Context, in.Name} {
		if v != nil && *v != "" {
			name = *v
		}
	}
	switch {
	case !slices.Contains(statusStates, in.State):
		s.refuse(c, "state %q is not one of %v", in.State, statusStates)
		return
	case in.Description != nil && utf8.RuneCountInString(*in.Description) > MaxDescription:
		s.refuse(c, "description of %d characters; GitLab takes at most %d", utf8.RuneCountInString(*in.Description), MaxDescription)
		return
	case in.TargetURL != nil && !validTargetURL(*in.TargetURL):
		s.refuse(c, "target_url %q is not an http(s) URL of at most %d characters", *in.TargetURL, MaxTargetURL)
		return
	case !c.proj.commits[sha]:
		s.tb.Errorf("gitlabtest: status for commit %s, which %s does not have", sha, c.proj.Path)
		reply(c.w, http.StatusNotFound, map[string]string{"message": "404 Commit Not Found"})
		return
	}
	ref := ""
	if in.Ref != nil {
		ref = *in.Ref
	}
	pl := s.pipelineFor(c, sha, ref, in.PipelineID)
	if pl == nil {
		return
	}
	var st *Status
	for i := len(c.proj.statuses) - 1; i >= 0; i-- {
		x := c.proj.statuses[i]
		if x.PipelineID == pl.ID && x.Name == name && (x.State == "pending" || x.State == "running") {
			st = x
			break
		}
	}
	from := "created"
	if st != nil {
		from = st.State
	}
	if msg := transition(from, in.State); msg != "" {
		reply(c.w, http.StatusBadRequest, map[string]string{"message": msg})
		return
	}
	if st == nil {
		s.nextID++
		st = &Status{ID: s.nextID, SHA: sha, Name: name, Ref: pl.Ref, PipelineID: pl.ID}
		c.proj.statuses = append(c.proj.statuses, st)
	}
	st.State = in.State
	st.Posts++
	if in.Description != nil {
		st.Description = *in.Description
	}
	if in.TargetURL != nil {
		st.TargetURL = *in.TargetURL
	}
	reply(c.w, http.StatusCreated, map[string]any{
		"id": st.ID, "sha": sha, "ref": st.Ref, "status": st.State, "name": st.Name,
		"target_url": nilIfEmpty(st.TargetURL), "description": nilIfEmpty(st.Description),
		"created_at": "2026-03-01T12:00:00.000Z", "started_at": nil, "finished_at": nil,
		"allow_failure": false, "coverage": nil, "pipeline_id": st.PipelineID,
		"author": map[string]any{"id": botUserID, "username": BotUsername, "name": "diffgate", "state": "active"},
	})
}

// pipelineFor is the pipeline a status goes to.
func (s *Server) pipelineFor(c *call, sha, ref string, id *int64) *Pipeline {
	if id != nil {
		for _, pl := range c.proj.pipelines {
			if pl.ID == *id && pl.SHA == sha {
				return pl
			}
		}
		s.tb.Errorf("gitlabtest: status names pipeline %d, which %s has not at %s", *id, c.proj.Path, sha)
		reply(c.w, http.StatusNotFound, map[string]string{"message": "404 Pipeline Not Found"})
		return nil
	}
	if ref == "" {
		// GitLab would look for a branch holding the commit; the bot
		// always names the ref.
		s.tb.Errorf("gitlabtest: status for %s without a ref", sha)
		reply(c.w, http.StatusNotFound, map[string]string{"message": "404 References for commit Not Found"})
		return nil
	}
	for i := len(c.proj.pipelines) - 1; i >= 0; i-- {
		if pl := c.proj.pipelines[i]; pl.SHA == sha && pl.Ref == ref {
			return pl
		}
	}
	s.nextID++
	pl := &Pipeline{ID: s.nextID, SHA: sha, Ref: ref, Source: "external"}
	c.proj.pipelines = append(c.proj.pipelines, pl)
	return pl
}

// transition returns GitLab's refusal of moving a status from one state
// to another, "" when it is allowed.
func transition(from, to string) string {
	event := map[string]string{"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop", "canceled": "cancel"}[to]
	ok := true
	switch to {
	case "pending":
		ok = from == "created"
	case "running":
		ok = from == "created" || from == "pending"
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("Cannot transition status via :%s from :%s (Reason(s): Status cannot transition via \"%s\")", event, from, event)
}

func validTargetURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= MaxTargetURL
}

func (s *Server) refuse(c *call, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.tb.Errorf("gitlabtest: %s %s: GitLab would refuse this: %s", c.r.Method, c.r.URL.Path, msg)
	reply(c.w, http.StatusBadRequest, map[string]string{"message": "400 Bad request - " + msg})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
