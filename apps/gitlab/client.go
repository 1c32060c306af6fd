package gitlab

//lint:file-ignore SA1019 go-gitlab v0.115.0 is pinned on purpose: decision 0004 (its successor moved the import path).
import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	glapi "github.com/xanzy/go-gitlab"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/gate"
	"github.com/diffgate/diffgate/shared/publish"
	"github.com/diffgate/diffgate/shared/report"
)

// StatusName is the name of diffgate's commit status.
const StatusName = "diffgate"

// Limits GitLab puts on what the bot writes.
const (
	// MaxDescription is the longest commit status description.
	MaxDescription = 255
	// MaxTargetURL is the longest commit status target_url; a longer
	// details link is left out rather than refused.
	MaxTargetURL = 255
	// MaxDiffFiles is GitLab's default diff_max_files: a merge request
	// with this many changed files may have more that GitLab does not
	// list, so none is skipped on its files.
	MaxDiffFiles = 1000
	perPage      = 100
)

// client is the bot's side of GitLab: the merge request's changed files,
// its current state and base commit for the gate, the commit status and
// the sticky note for the publisher. It remembers what it looked up (the
// bot's user, the sticky note of each merge request, the pipeline of each
// head), so most statuses cost one request.
type client struct {
	api     *glapi.Client
	webHost string

	mu        sync.Mutex // guards botID
	botID     int
	notes     publish.Memo[int]        // PR key → note id
	pipelines publish.Memo[pipelineAt] // head key → where its statuses go
}

// pipelineAt is where a head's commit statuses are posted: the merge
// request's head pipeline when it is the target project's and at that
// head, else a ref GitLab makes (or finds) a pipeline of.
type pipelineAt struct {
	id  int // 0: none yet
	ref string
}

var (
	_ gate.Files     = (*client)(nil)
	_ gate.PRLookup  = (*client)(nil)
	_ gate.Bases     = (*client)(nil)
	_ publish.Target = (*client)(nil)
)

func newClient(api *glapi.Client, webHost string) *client {
	return &client{api: api, webHost: webHost}
}

// project is how the API names a run's project: the numeric id of the
// target project when the event gave it (it survives renames and moves),
// else its path, e.g. group/sub/project.
func (c *client) project(run events.Run) (any, error) {
	if run.ProjectID > 0 {
		return int(run.ProjectID), nil
	}
	path, ok := strings.CutPrefix(run.Repository, c.webHost+"/")
	if !ok || !strings.Contains(path, "/") {
		return nil, bus.Poison(fmt.Errorf("gitlab: repository %q is not %s/group/project", run.Repository, c.webHost))
	}
	return path, nil
}

// ChangedFiles lists the merge request's files over its diffs, 100 a page:
// new paths, and old paths of renamed and deleted files.
func (c *client) ChangedFiles(ctx context.Context, run events.Run) ([]string, bool, error) {
	pid, err := c.project(run)
	if err != nil {
		return nil, false, err
	}
	var files []string
	n := 0
	opt := &glapi.ListMergeRequestDiffsOptions{ListOptions: glapi.ListOptions{PerPage: perPage, Page: 1}}
	for {
		diffs, resp, err := c.api.MergeRequests.ListMergeRequestDiffs(pid, run.PR, opt, glapi.WithContext(ctx))
		if err != nil {
			return nil, false, classify("list the merge request's diffs", err)
		}
		for _, d := range diffs {
			n++
			files = append(files, d.NewPath)
			if d.OldPath != "" && d.OldPath != d.NewPath {
				files = append(files, d.OldPath)
			}
		}
		if resp.NextPage == 0 || len(diffs) == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return files, n >= MaxDiffFiles, nil
}

// mergeRequest gets the merge request of a run, and remembers its head
// pipeline for the run's statuses.
func (c *client) mergeRequest(ctx context.Context, run events.Run) (*glapi.MergeRequest, error) {
	pid, err := c.project(run)
	if err != nil {
		return nil, err
	}
	mr, _, err := c.api.MergeRequests.GetMergeRequest(pid, run.PR, nil, glapi.WithContext(ctx))
	if errors.Is(err, glapi.ErrNotFound) {
		return nil, fmt.Errorf("%w: !%d not found in %s", gate.ErrNoPR, run.PR, run.Repository)
	}
	if err != nil {
		return nil, classify("get the merge request", err)
	}
	if p := mr.HeadPipeline; p != nil && p.SHA == mr.SHA && p.ProjectID == mr.TargetProjectID && mr.SHA != "" {
		head := run
		head.HeadSHA = mr.SHA
		c.pipelines.Put(head.HeadKey(), pipelineAt{id: p.ID, ref: p.Ref})
	}
	return mr, nil
}

// LookupPR returns the merge request of a `/diffgate run` note as it is
// now: its head, labels, draft state and base commit.
func (c *client) LookupPR(ctx context.Context, ev events.PREvent) (events.PREvent, error) {
	if ev.RequestedByID != 0 {
		if err := c.mayRun(ctx, ev); err != nil {
			return events.PREvent{}, err
		}
	}
	mr, err := c.mergeRequest(ctx, ev.Run)
	if err != nil {
		return events.PREvent{}, err
	}
	if mr.State != "opened" {
		return events.PREvent{}, fmt.Errorf("%w: !%d is %s", gate.ErrNoPR, mr.IID, mr.State)
	}
	out := ev
	out.Run.HeadSHA, out.Run.BaseSHA = mr.SHA, ""
	if mr.DiffRefs.HeadSha == mr.SHA {
		out.Run.BaseSHA = mr.DiffRefs.BaseSha
	}
	out.Run.ProjectID = int64(mr.TargetProjectID)
	out.Run.BaseRef, out.Run.HeadRef, out.Run.URL, out.Run.Title = mr.TargetBranch, mr.SourceBranch, mr.WebURL, mr.Title
	out.Draft = mr.Draft || mr.WorkInProgress
	out.Labels = append([]string(nil), mr.Labels...)
	out.SourceProjectID = int64(mr.SourceProjectID)
	out.Fork = mr.SourceProjectID != mr.TargetProjectID
	if mr.Author != nil {
		out.Author = mr.Author.Username
	}
	return out, nil
}

// MinRerunAccess is the project access a commenter needs for /diffgate
// run to start a diff: Developer, who may push to the merge request's
// branch anyway. Anyone else could spend warehouse time on any public
// project's merge requests.
const MinRerunAccess = glapi.DeveloperPermissions

// mayRun checks that whoever wrote /diffgate run is a member of the
// project (directly or through a group) with at least MinRerunAccess.
func (c *client) mayRun(ctx context.Context, ev events.PREvent) error {
	m, _, err := c.api.ProjectMembers.GetInheritedProjectMember(int(ev.Run.ProjectID), int(ev.RequestedByID), glapi.WithContext(ctx))
	if errors.Is(err, glapi.ErrNotFound) {
		return fmt.Errorf("%w: %s is not a member of the project", gate.ErrNotAllowed, ev.RequestedBy)
	}
	if err != nil {
		return classify("read the commenter's access", err)
	}
	if m.AccessLevel < MinRerunAccess {
		return fmt.Errorf("%w: %s has access level %d; /diffgate run needs Developer (%d)", gate.ErrNotAllowed, ev.RequestedBy, m.AccessLevel, MinRerunAccess)
	}
	return nil
}

// BaseSHA is the merge request's diff base (diff_refs.base_sha) while its
// diff is of the run's head; "" when GitLab has not computed the diff of
// that head yet.
func (c *client) BaseSHA(ctx context.Context, run events.Run) (string, error) {
	mr, err := c.mergeRequest(ctx, run)
	if err != nil {
		return "", err
	}
	if mr.DiffRefs.HeadSha != run.HeadSHA {
		zerolog.Ctx(ctx).Info().Str("diff_head", events.Short(mr.DiffRefs.HeadSha)).
			Msg("gitlab: the merge request's diff is not of this head; no base commit")
		return "", nil
	}
	return mr.DiffRefs.BaseSha, nil
}

// stateOf maps a status to GitLab's commit status states. A skipped run
// (neutral) shows success: GitLab has no neutral state, and a skipped
// state would fail a pipeline under "Pipelines must succeed" unless
// skipped pipelines are allowed; the description says it was skipped.
func stateOf(st publish.Status) glapi.BuildStateValue {
	switch st.State {
	case publish.Queued:
		return glapi.Pending
	case publish.Running:
		return glapi.Running
	}
	switch st.Conclusion {
	case events.ConclusionFailure:
		return glapi.Failed
	case events.ConclusionCancelled:
		return glapi.Canceled
	}
	return glapi.Success
}

// descriptionOf is the status's one line, within GitLab's 255 characters.
func descriptionOf(st publish.Status) string {
	d := strings.Join(strings.Fields(st.Description), " ")
	if d == "" {
		d = strings.Join(strings.Fields(st.Title), " ")
	}
	if st.State == publish.Completed && st.Conclusion == events.ConclusionNeutral &&
		!strings.HasPrefix(strings.ToLower(d), "skipped") {
		d = "Skipped: " + d
	}
	if utf8.RuneCountInString(d) > MaxDescription {
		d = string([]rune(d)[:MaxDescription-1]) + "…"
	}
	return d
}

// SetStatus posts the head's commit status named diffgate.
func (c *client) SetStatus(ctx context.Context, run events.Run, st publish.Status) error {
	pid, err := c.project(run)
	if err != nil {
		return err
	}
	at, err := c.pipelineOf(ctx, run)
	if err != nil {
		return err
	}
	opt := &glapi.SetCommitStatusOptions{
		State: stateOf(st), Name: glapi.Ptr(StatusName), Ref: glapi.Ptr(at.ref),
		Description: glapi.Ptr(descriptionOf(st)),
	}
	if at.id != 0 {
		opt.PipelineID = glapi.Ptr(at.id)
	}
	if u := st.DetailsURL; u != "" && len(u) <= MaxTargetURL {
		opt.TargetURL = glapi.Ptr(u)
	} else if u != "" {
		zerolog.Ctx(ctx).Warn().Int("length", len(u)).Msg("gitlab: the details link is longer than a commit status takes; left out (shorten server.public_url)")
	}
	_, _, err = c.api.Commits.SetCommitStatus(pid, run.HeadSHA, opt, glapi.WithContext(ctx))
	if errors.Is(err, glapi.ErrNotFound) && at.id != 0 {
		// The pipeline is gone (deleted): let GitLab pick one by ref.
		c.pipelines.Forget(run.HeadKey())
		opt.PipelineID = nil
		_, _, err = c.api.Commits.SetCommitStatus(pid, run.HeadSHA, opt, glapi.WithContext(ctx))
	}
	if repeated(err) {
		// GitLab refuses to move a status to the state it is in; that
		// state is what was asked for.
		zerolog.Ctx(ctx).Debug().Str("state", string(opt.State)).Msg("gitlab: the status is already in this state")
		return nil
	}
	return classify("set the commit status", err)
}

// pipelineOf is where the head's statuses go. The merge request's head
// pipeline, when it is at this head in the target project, so that
// diffgate's status joins the pipeline that "Pipelines must succeed"
// looks at instead of starting another. Otherwise the ref: the source
// branch, or for a fork the target project's refs/merge-requests/<iid>/head,
// where GitLab keeps the fork's commits (no branch of the target project
// holds them).
func (c *client) pipelineOf(ctx context.Context, run events.Run) (pipelineAt, error) {
	key := run.HeadKey()
	if at, ok := c.pipelines.Get(key); ok {
		return at, nil
	}
	mr, err := c.mergeRequest(ctx, run)
	if errors.Is(err, gate.ErrNoPR) {
		return pipelineAt{}, bus.Poison(err)
	}
	if err != nil {
		return pipelineAt{}, err
	}
	ref := run.HeadRef
	if mr.SourceProjectID != mr.TargetProjectID || ref == "" {
		ref = "refs/merge-requests/" + strconv.Itoa(run.PR) + "/head"
	}
	// Remembered either way: GitLab attaches the next statuses of this
	// ref and commit to the pipeline the first one made. The look-up may
	// have found the head pipeline meanwhile: that one wins.
	return c.pipelines.GetOrPut(key, pipelineAt{ref: ref}), nil
}

// repeated reports GitLab's answer to a status posted twice in the same
// state: 400 "Cannot transition status via :run from :running".
func repeated(err error) bool {
	var er *glapi.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusBadRequest &&
		strings.Contains(er.Message, "Cannot transition status")
}

// UpsertComment edits the merge request's sticky note, or writes it.
func (c *client) UpsertComment(ctx context.Context, run events.Run, body string) error {
	pid, err := c.project(run)
	if err != nil {
		return err
	}
	key := run.PRKey()
	id, _ := c.notes.Get(key)
	if id == 0 {
		if id, err = c.findNote(ctx, pid, run.PR); err != nil {
			return err
		}
	}
	if id != 0 {
		_, _, err := c.api.Notes.UpdateMergeRequestNote(pid, run.PR, id, &glapi.UpdateMergeRequestNoteOptions{Body: glapi.Ptr(body)}, glapi.WithContext(ctx))
		if !errors.Is(err, glapi.ErrNotFound) {
			if err == nil {
				c.notes.Put(key, id)
			}
			return classify("edit the note", err)
		}
		c.notes.Forget(key) // deleted by someone: write a new one
	}
	n, _, err := c.api.Notes.CreateMergeRequestNote(pid, run.PR, &glapi.CreateMergeRequestNoteOptions{Body: glapi.Ptr(body)}, glapi.WithContext(ctx))
	if err != nil {
		return classify("write the note", err)
	}
	c.notes.Put(key, n.ID)
	zerolog.Ctx(ctx).Info().Int("note", n.ID).Msg("gitlab: sticky note written")
	return nil
}

// findNote finds the bot's note that opens with the sticky marker. Only
// the bot's own notes count: a person may quote the marker.
func (c *client) findNote(ctx context.Context, pid any, iid int) (int, error) {
	me, err := c.self(ctx)
	if err != nil {
		return 0, err
	}
	opt := &glapi.ListMergeRequestNotesOptions{ListOptions: glapi.ListOptions{PerPage: perPage, Page: 1},
		OrderBy: glapi.Ptr("created_at"), Sort: glapi.Ptr("asc")}
	for {
		notes, resp, err := c.api.Notes.ListMergeRequestNotes(pid, iid, opt, glapi.WithContext(ctx))
		if err != nil {
			return 0, classify("list the merge request's notes", err)
		}
		for _, n := range notes {
			if !n.System && n.Author.ID == me && strings.HasPrefix(n.Body, report.StickyMarker) {
				return n.ID, nil
			}
		}
		if resp.NextPage == 0 || len(notes) == 0 {
			return 0, nil
		}
		opt.Page = resp.NextPage
	}
}

// self is the id of the user the token acts as (a project access token's
// bot user).
func (c *client) self(ctx context.Context) (int, error) {
	c.mu.Lock()
	id := c.botID
	c.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	u, _, err := c.api.Users.CurrentUser(glapi.WithContext(ctx))
	if err != nil {
		return 0, classify("find the token's user", err)
	}
	c.mu.Lock()
	c.botID = u.ID
	c.mu.Unlock()
	return u.ID, nil
}

// classify turns a go-gitlab error into what the consumers understand: a
// rate limit (429) asks for the message again when GitLab says; requests
// GitLab will never accept are poison; anything else is retried with
// backoff.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, glapi.ErrNotFound) {
		return bus.Poison(fmt.Errorf("gitlab: %s: 404 not found (is the token's user a member of the project?)", what))
	}
	var er *glapi.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return fmt.Errorf("gitlab: %s: %w", what, err)
	}
	code := er.Response.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
		wait := publish.RateLimitWait(er.Response.Header, "RateLimit-Reset", time.Now())
		return fmt.Errorf("gitlab: %s: rate limited: %w", what, publish.RateLimited(wait))
	case code == http.StatusUnauthorized:
		return bus.Poison(fmt.Errorf("gitlab: %s: 401: gitlab.token is not accepted (expired or revoked?)", what))
	case code == http.StatusForbidden:
		return bus.Poison(fmt.Errorf("gitlab: %s: 403 %s: the token needs the api scope and the Developer role", what, er.Message))
	case code == http.StatusBadRequest || code == http.StatusUnprocessableEntity:
		return bus.Poison(fmt.Errorf("gitlab: %s: %d %s", what, code, er.Message))
	}
	return fmt.Errorf("gitlab: %s: %d %s", what, code, er.Message)
}
