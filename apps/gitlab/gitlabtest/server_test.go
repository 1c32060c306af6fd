package gitlabtest_test

//lint:file-ignore SA1019 go-gitlab v0.115.0 is pinned on purpose: decision 0004 (its successor moved the import path).
import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	glapi "github.com/xanzy/go-gitlab"

	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/standin"
)

var proj = gitlabtest.Project{ID: 42, Path: "data/platform/marts"}

const head = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"

func standIn(t *testing.T, token string) (*gitlabtest.Server, *standin.Recorder, *glapi.Client) {
	rec := &standin.Recorder{}
	s := gitlabtest.New(rec)
	t.Cleanup(s.Close)
	s.SetMR(proj, gitlabtest.MR{IID: 12, Title: "Change orders", HeadSHA: head, SourceBranch: "feature", TargetBranch: "main"})
	c, err := glapi.NewClient(token, glapi.WithBaseURL(s.URL+"/api/v4"), glapi.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	return s, rec, c
}

func status(c *glapi.Client, pid any, state glapi.BuildStateValue, desc string) error {
	_, _, err := c.Commits.SetCommitStatus(pid, head, &glapi.SetCommitStatusOptions{State: state, Name: glapi.Ptr("diffgate"),
		Ref: glapi.Ptr("feature"), Description: glapi.Ptr(desc)})
	return err
}

func code(err error) int {
	var er *glapi.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	if errors.Is(err, glapi.ErrNotFound) {
		return http.StatusNotFound
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestStatusesMoveAsGitLabsDo(t *testing.T) {
	s, rec, c := standIn(t, gitlabtest.DefaultToken)
	steps := []struct {
		state glapi.BuildStateValue
		want  int // 0: accepted
	}{
		{glapi.Pending, 0},
		{glapi.Pending, http.StatusBadRequest},
		{glapi.Running, 0},
		{glapi.Running, http.StatusBadRequest},
		{glapi.Pending, http.StatusBadRequest},
		{glapi.Success, 0},
		{glapi.Success, 0}, // a finished status is not moved: a new one starts
		{glapi.Running, 0},
		{glapi.Canceled, 0},
	}
	for i, st := range steps {
		err := status(c, proj.Path, st.state, "step")
		if got := code(err); got != st.want {
			t.Errorf("step %d (%s): %v; want code %d", i, st.state, err, st.want)
		}
		if st.want == http.StatusBadRequest && !strings.Contains(err.Error(), "Cannot transition status") {
			t.Errorf("step %d: %v", i, err)
		}
	}
	var states []string
	for _, st := range s.Statuses(proj.ID, head) {
		states = append(states, st.State)
	}
	if got := strings.Join(states, " "); got != "success success canceled" {
		t.Errorf("records %q; want three: moved to success, a new success, a new one cancelled", got)
	}
	if pls := s.Pipelines(proj.ID); len(pls) != 1 || pls[0].Source != "external" || pls[0].Ref != "feature" {
		t.Errorf("pipelines %+v: want one external pipeline of the ref", pls)
	}
	if errs := rec.Take(); len(errs) != 0 {
		t.Errorf("the stand-in complained about GitLab's own answers: %q", errs)
	}
}

func TestRefusesWhatGitLabRefuses(t *testing.T) {
	s, rec, c := standIn(t, gitlabtest.DefaultToken)
	long := strings.Repeat("x", gitlabtest.MaxNoteLength+1)
	for name, call := range map[string]func() error{
		"long description": func() error { return status(c, int(proj.ID), glapi.Pending, strings.Repeat("é", 256)) },
		"skipped state":    func() error { return status(c, int(proj.ID), glapi.Skipped, "") },
		"unknown commit": func() error {
			_, _, err := c.Commits.SetCommitStatus(int(proj.ID), strings.Repeat("f", 40), &glapi.SetCommitStatusOptions{State: glapi.Pending, Ref: glapi.Ptr("x")})
			return err
		},
		"long target_url": func() error {
			_, _, err := c.Commits.SetCommitStatus(int(proj.ID), head, &glapi.SetCommitStatusOptions{State: glapi.Pending, Ref: glapi.Ptr("x"),
				TargetURL: glapi.Ptr("https://diffgate.example.com/" + strings.Repeat("a", 250))})
			return err
		},
		"long note": func() error {
			_, _, err := c.Notes.CreateMergeRequestNote(int(proj.ID), 12, &glapi.CreateMergeRequestNoteOptions{Body: &long})
			return err
		},
		"empty note": func() error {
			_, _, err := c.Notes.CreateMergeRequestNote(int(proj.ID), 12, &glapi.CreateMergeRequestNoteOptions{Body: glapi.Ptr(" ")})
			return err
		},
		"unknown merge request": func() error {
			_, _, err := c.MergeRequests.GetMergeRequest(int(proj.ID), 99, nil)
			return err
		},
		"unexpected route": func() error {
			_, _, err := c.Projects.GetProject(int(proj.ID), nil)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); code(err) < 400 {
				t.Errorf("accepted (%v)", err)
			}
			if errs := rec.Take(); len(errs) != 1 {
				t.Errorf("complaints %q; want one", errs)
			}
		})
	}
	if n := len(s.AllStatuses(proj.ID)); n != 0 {
		t.Errorf("%d statuses kept from refused requests", n)
	}
}

func TestTokenIsChecked(t *testing.T) {
	_, rec, c := standIn(t, "glpat-wrong")
	if _, _, err := c.Users.CurrentUser(); code(err) != http.StatusUnauthorized {
		t.Errorf("wrong token: %v; want 401", err)
	}
	errs := rec.Take()
	if len(errs) != 1 || strings.Contains(errs[0], "glpat-wrong") {
		t.Errorf("complaints %q: want one, without the token", errs)
	}
}

func TestNotesPagesAndRateLimits(t *testing.T) {
	s, rec, c := standIn(t, gitlabtest.DefaultToken)
	for i := range 45 {
		s.AddNote(proj.ID, 12, "maria", fmt.Sprintf("note %d", i))
	}
	notes, resp, err := c.Notes.ListMergeRequestNotes(proj.Path, 12, &glapi.ListMergeRequestNotesOptions{
		ListOptions: glapi.ListOptions{Page: 3}, Sort: glapi.Ptr("asc")})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 5 || notes[0].Body != "note 40" || resp.TotalItems != 45 || resp.TotalPages != 3 || resp.NextPage != 0 || resp.PreviousPage != 2 {
		t.Errorf("page 3 of 20: %d notes from %q, total %d in %d pages, next %d", len(notes), notes[0].Body, resp.TotalItems, resp.TotalPages, resp.NextPage)
	}
	s.RateLimit(1)
	_, _, err = c.Users.CurrentUser()
	var er *glapi.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusTooManyRequests || er.Response.Header.Get("Retry-After") != "60" ||
		er.Response.Header.Get("RateLimit-Reset") == "" {
		t.Errorf("rate limit: %v", err)
	}
	if _, _, err := c.Users.CurrentUser(); err != nil {
		t.Errorf("after the limit: %v", err)
	}
	if s.Limited() != 1 || s.Requests()[gitlabtest.RouteUser] != 2 {
		t.Errorf("limited %d, user requests %d", s.Limited(), s.Requests()[gitlabtest.RouteUser])
	}
	if errs := rec.Take(); len(errs) != 0 {
		t.Errorf("complaints %q", errs)
	}
}

func TestOnlyTheBotsNotesCanBeEdited(t *testing.T) {
	s, rec, c := standIn(t, gitlabtest.DefaultToken)
	s.AddNote(proj.ID, 12, "maria", "mine")
	theirs := s.Notes(proj.ID, 12)[0].ID
	if _, _, err := c.Notes.UpdateMergeRequestNote(int(proj.ID), 12, int(theirs), &glapi.UpdateMergeRequestNoteOptions{Body: glapi.Ptr("x")}); code(err) != http.StatusForbidden {
		t.Errorf("edit of someone's note: %v", err)
	}
	if errs := rec.Take(); len(errs) != 1 {
		t.Errorf("complaints %q", errs)
	}
	n, _, err := c.Notes.CreateMergeRequestNote(int(proj.ID), 12, &glapi.CreateMergeRequestNoteOptions{Body: glapi.Ptr("first")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Notes.UpdateMergeRequestNote(int(proj.ID), 12, n.ID, &glapi.UpdateMergeRequestNoteOptions{Body: glapi.Ptr("second")}); err != nil {
		t.Fatal(err)
	}
	if got := s.BotNotes(proj.ID, 12); len(got) != 1 || got[0].Body != "second" || got[0].Edits != 1 || n.Author.Username != gitlabtest.BotUsername {
		t.Errorf("bot notes %+v", got)
	}
}

// TestMergeRequestStateFollowsTheAction: a hook of close or merge shows,
// and leaves the stand-in's merge request in, the state the action leaves.
func TestMergeRequestStateFollowsTheAction(t *testing.T) {
	for action, want := range map[string]string{"open": "", "update": "", "close": "closed", "merge": "merged"} {
		e := gitlabtest.MergeRequestEvent{Action: action, MergeRequest: gitlabtest.MergeRequest{WebURL: "https://gitlab.example.com",
			Target: proj, IID: 12, HeadSHA: head}}
		var body struct {
			Attrs struct {
				State string `json:"state"`
			} `json:"object_attributes"`
		}
		if err := json.Unmarshal(e.Payload(), &body); err != nil {
			t.Fatal(err)
		}
		if mr := e.MR("base"); mr.State != want || mr.BaseSHA != "base" || mr.IID != 12 {
			t.Errorf("%s: the stand-in keeps %+v; want state %q", action, mr, want)
		}
		if got := body.Attrs.State; got != cmp.Or(want, "opened") {
			t.Errorf("%s: the hook says %q; want %q", action, got, cmp.Or(want, "opened"))
		}
	}
}
