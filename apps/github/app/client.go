package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/gate"
	"github.com/diffgate/diffgate/shared/publish"
	"github.com/diffgate/diffgate/shared/report"
)

// CheckName is the name of diffgate's check run.
const CheckName = "diffgate"

// MaxFiles is how many changed files GitHub lists for a pull request.
const MaxFiles = 3000

// ErrNoInstallation is returned for a run that carries no installation id.
var ErrNoInstallation = errors.New("github: the run carries no App installation id")

// client is the App's side of GitHub: the changed files and the pull
// request look-up for the gate, the check run and the sticky comment for
// the publisher. It remembers the ids of the check runs and comments it
// found, so a run's statuses cost one request each.
type client struct {
	cc       githubapp.ClientCreator
	appID    int64
	webHost  string
	checks   publish.Memo[int64] // head key → check run id
	comments publish.Memo[int64] // PR key → comment id

	mu    sync.Mutex
	login string // the App's bot user, once read
}

var (
	_ gate.Files     = (*client)(nil)
	_ gate.PRLookup  = (*client)(nil)
	_ publish.Target = (*client)(nil)
)

func newClient(cc githubapp.ClientCreator, appID int64, webHost string) *client {
	return &client{cc: cc, appID: appID, webHost: webHost}
}

// repo returns the installation client and owner/name of a run.
func (c *client) repo(run events.Run) (*github.Client, string, string, error) {
	if run.Installation == 0 {
		return nil, "", "", bus.Poison(fmt.Errorf("%w: %s", ErrNoInstallation, run))
	}
	path := run.Repository
	if i := strings.IndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	owner, name, ok := strings.Cut(path, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, "", "", bus.Poison(fmt.Errorf("github: repository %q is not host/owner/name", run.Repository))
	}
	gh, err := c.cc.NewInstallationClient(run.Installation)
	if err != nil {
		return nil, "", "", fmt.Errorf("github: client for installation %d: %w", run.Installation, err)
	}
	return gh, owner, name, nil
}

// ChangedFiles lists the pull request's files, 100 a page, up to the
// 3,000 GitHub lists; renames count with both paths.
func (c *client) ChangedFiles(ctx context.Context, run events.Run) ([]string, bool, error) {
	gh, owner, name, err := c.repo(run)
	if err != nil {
		return nil, false, err
	}
	var files []string
	n := 0
	opt := &github.ListOptions{PerPage: 100}
	for {
		page, resp, err := gh.PullRequests.ListFiles(ctx, owner, name, run.PR, opt)
		if err != nil {
			return nil, false, classify("list pull request files", err)
		}
		for _, f := range page {
			n++
			files = append(files, f.GetFilename())
			if p := f.GetPreviousFilename(); p != "" {
				files = append(files, p)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return files, n >= MaxFiles, nil
}

// LookupPR returns the pull request of a re-run as it is now: found by
// number, or by head commit when GitHub named none (a fork's check run).
func (c *client) LookupPR(ctx context.Context, ev events.PREvent) (events.PREvent, error) {
	gh, owner, name, err := c.repo(ev.Run)
	if err != nil {
		return events.PREvent{}, err
	}
	number := ev.Run.PR
	if number == 0 {
		var candidates []int
		opt := &github.ListOptions{PerPage: 100}
		for {
			prs, resp, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, ev.Run.HeadSHA, opt)
			if err != nil {
				return events.PREvent{}, classify("find the pull request of a commit", err)
			}
			for _, pr := range prs {
				if pr.GetState() == "open" && pr.GetHead().GetSHA() == ev.Run.HeadSHA {
					candidates = append(candidates, pr.GetNumber())
				}
			}
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
		if len(candidates) == 0 {
			return events.PREvent{}, fmt.Errorf("%w: no open pull request has head %s", gate.ErrNoPR, events.Short(ev.Run.HeadSHA))
		}
		slices.Sort(candidates)
		if len(candidates) > 1 {
			zerolog.Ctx(ctx).Info().Ints("prs", candidates).Msg("github: several open pull requests have this head; re-running the first")
		}
		number = candidates[0]
	}
	pr, _, err := gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		var er *github.ErrorResponse
		if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
			return events.PREvent{}, fmt.Errorf("%w: #%d not found", gate.ErrNoPR, number)
		}
		return events.PREvent{}, classify("get the pull request", err)
	}
	if pr.GetState() != "open" {
		return events.PREvent{}, fmt.Errorf("%w: #%d is %s", gate.ErrNoPR, number, pr.GetState())
	}
	out := ev
	out.Run = runOf(c.webHost, ev.Run.Repository, ev.Run.Installation, pr)
	fillPR(&out, pr)
	return out, nil
}

// SetStatus creates or updates the head's check run.
func (c *client) SetStatus(ctx context.Context, run events.Run, st publish.Status) error {
	gh, owner, name, err := c.repo(run)
	if err != nil {
		return err
	}
	title := st.Title
	if title == "" {
		title = CheckName
	}
	summary := st.Summary
	if strings.TrimSpace(summary) == "" {
		summary = report.Text(title)
	}
	output := &github.CheckRunOutput{Title: github.String(title), Summary: github.String(summary)}
	var status, conclusion *string
	var completedAt *github.Timestamp
	switch st.State {
	case publish.Queued:
		status = github.String("queued")
	case publish.Running:
		status = github.String("in_progress")
	default:
		status = github.String("completed")
		conclusion = github.String(string(st.Conclusion))
		completedAt = &github.Timestamp{Time: time.Now().UTC().Truncate(time.Second)}
	}
	var detailsURL *string
	if st.DetailsURL != "" {
		detailsURL = github.String(st.DetailsURL)
	}

	id, err := c.findCheck(ctx, gh, owner, name, run)
	if err != nil {
		return err
	}
	if id != 0 {
		_, _, err := gh.Checks.UpdateCheckRun(ctx, owner, name, id, github.UpdateCheckRunOptions{
			Name: CheckName, DetailsURL: detailsURL, ExternalID: github.String(run.HeadKey()),
			Status: status, Conclusion: conclusion, CompletedAt: completedAt, Output: output,
		})
		if !isNotFound(err) {
			return classify("update the check run", err)
		}
		// Deleted under us (the repository was recreated): make a new one.
		c.checks.Forget(run.HeadKey())
	}
	cr, _, err := gh.Checks.CreateCheckRun(ctx, owner, name, github.CreateCheckRunOptions{
		Name: CheckName, HeadSHA: run.HeadSHA, DetailsURL: detailsURL, ExternalID: github.String(run.HeadKey()),
		Status: status, Conclusion: conclusion, CompletedAt: completedAt, Output: output,
	})
	if err != nil {
		return classify("create the check run", err)
	}
	c.checks.Put(run.HeadKey(), cr.GetID())
	zerolog.Ctx(ctx).Info().Int64("check_run", cr.GetID()).Msg("github: check run created")
	return nil
}

// findCheck finds the head's check run by its external id.
func (c *client) findCheck(ctx context.Context, gh *github.Client, owner, name string, run events.Run) (int64, error) {
	key := run.HeadKey()
	if id, ok := c.checks.Get(key); ok {
		return id, nil
	}
	opt := &github.ListCheckRunsOptions{CheckName: github.String(CheckName), AppID: github.Int64(c.appID),
		Filter: github.String("all"), ListOptions: github.ListOptions{PerPage: 100}}
	for {
		res, resp, err := gh.Checks.ListCheckRunsForRef(ctx, owner, name, run.HeadSHA, opt)
		if err != nil {
			return 0, classify("list check runs", err)
		}
		for _, cr := range res.CheckRuns {
			if cr.GetExternalID() == key {
				c.checks.Put(key, cr.GetID())
				return cr.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opt.Page = resp.NextPage
	}
}

// UpsertComment edits the pull request's sticky comment, or writes it.
func (c *client) UpsertComment(ctx context.Context, run events.Run, body string) error {
	gh, owner, name, err := c.repo(run)
	if err != nil {
		return err
	}
	key := run.PRKey()
	id, _ := c.comments.Get(key)
	if id == 0 {
		if id, err = c.findComment(ctx, gh, owner, name, run.PR); err != nil {
			return err
		}
	}
	if id != 0 {
		_, _, err := gh.Issues.EditComment(ctx, owner, name, id, &github.IssueComment{Body: github.String(body)})
		if !isNotFound(err) {
			if err == nil {
				c.comments.Put(key, id)
			}
			return classify("edit the comment", err)
		}
		c.comments.Forget(key) // deleted by someone: write a new one
	}
	cm, _, err := gh.Issues.CreateComment(ctx, owner, name, run.PR, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return classify("create the comment", err)
	}
	c.comments.Put(key, cm.GetID())
	zerolog.Ctx(ctx).Info().Int64("comment", cm.GetID()).Msg("github: sticky comment created")
	return nil
}

// botLogin is the login of the App's bot user, "<slug>[bot]", which writes
// its comments; read once from GET /app.
func (c *client) botLogin(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.login != "" {
		return c.login, nil
	}
	gh, err := c.cc.NewAppClient()
	if err != nil {
		return "", fmt.Errorf("github: App client: %w", err)
	}
	app, _, err := gh.Apps.Get(ctx, "")
	if err != nil {
		return "", classify("read the App (GET /app)", err)
	}
	if app.GetSlug() == "" {
		return "", errors.New("github: GET /app gave no slug")
	}
	c.login = app.GetSlug() + "[bot]"
	return c.login, nil
}

// findComment finds the App's comment that opens with the sticky marker.
// Only the App's own bot counts: a person quoting the marker, or another
// deployment of diffgate (a staging App) on the same repository, is not
// us, and GitHub would refuse the edit anyway.
func (c *client) findComment(ctx context.Context, gh *github.Client, owner, name string, pr int) (int64, error) {
	login, err := c.botLogin(ctx)
	if err != nil {
		return 0, err
	}
	opt := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		list, resp, err := gh.Issues.ListComments(ctx, owner, name, pr, opt)
		if err != nil {
			return 0, classify("list comments", err)
		}
		for _, cm := range list {
			if strings.EqualFold(cm.GetUser().GetLogin(), login) && strings.HasPrefix(cm.GetBody(), report.StickyMarker) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opt.Page = resp.NextPage
	}
}

func isNotFound(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}

// classify turns a go-github error into what the consumers understand:
// rate limits (403 or 429, primary or secondary) ask for the message
// again when GitHub says; requests GitHub will never accept are poison;
// anything else is retried with backoff.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return fmt.Errorf("github: %s: primary rate limit: %w", what, publish.RateLimited(time.Until(rl.Rate.Reset.Time)+time.Second))
	case errors.As(err, &ab):
		d := publish.DefaultRateLimitWait
		if ab.RetryAfter != nil {
			d = *ab.RetryAfter
		}
		return fmt.Errorf("github: %s: secondary rate limit: %w", what, publish.RateLimited(d))
	case errors.As(err, &er) && er.Response != nil:
		code := er.Response.StatusCode
		switch {
		case code == http.StatusTooManyRequests || (code == http.StatusForbidden && er.Response.Header.Get("X-RateLimit-Remaining") == "0"):
			wait := publish.RateLimitWait(er.Response.Header, "X-RateLimit-Reset", time.Now())
			return fmt.Errorf("github: %s: rate limited (%d): %w", what, code, publish.RateLimited(wait))
		case code == http.StatusUnprocessableEntity || code == http.StatusNotFound || code == http.StatusForbidden || code == http.StatusUnauthorized:
			return bus.Poison(fmt.Errorf("github: %s: %d %s", what, code, er.Message))
		}
	}
	return fmt.Errorf("github: %s: %w", what, err)
}
