package dbtcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

const permissionHint = "give the service token the Member or Developer permission on that project"

// GetAccount returns the account; its Name is what reports show.
func (c *Client) GetAccount(ctx context.Context, accountID int64) (*Account, error) {
	res := resource{
		what:      fmt.Sprintf("account %d", accountID),
		forbidden: "check dbt_cloud.account_id and that the service token belongs to that account",
	}
	env, err := getJSON[Account](ctx, c, fmt.Sprintf("/v2/accounts/%d/", accountID), nil, res)
	if err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// GetJob returns a job definition. Job.IsCI tells whether it is a CI job.
func (c *Client) GetJob(ctx context.Context, accountID, jobID int64) (*Job, error) {
	res := resource{
		what:      fmt.Sprintf("job %d in account %d", jobID, accountID),
		forbidden: "check the job id, and " + permissionHint,
	}
	env, err := getJSON[Job](ctx, c, fmt.Sprintf("/v2/accounts/%d/jobs/%d/", accountID, jobID), nil, res)
	if err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// Related objects a run can include.
const (
	RelatedTrigger = "trigger"
	RelatedJob     = "job"
)

// RunFilter selects runs. Zero fields are not sent.
type RunFilter struct {
	JobDefinitionID int64
	ProjectID       int64
	EnvironmentID   int64
	Status          RunStatus
	StatusIn        []RunStatus
	// PullRequestID narrows to runs of one pull request. dbt Cloud's v2
	// spec does not list it, so callers must still check Run.PullRequest.
	PullRequestID int64
	// OrderBy is a field with an optional "-" for descending: id,
	// created_at, finished_at. Default "-id" (newest first).
	OrderBy string
	// Limit is the page size, 1..100 (default 100).
	Limit  int
	Offset int
	// IncludeRelated, e.g. []string{RelatedTrigger}.
	IncludeRelated []string
}

func (f RunFilter) query() url.Values {
	q := url.Values{}
	setInt := func(k string, v int64) {
		if v != 0 {
			q.Set(k, strconv.FormatInt(v, 10))
		}
	}
	setInt("job_definition_id", f.JobDefinitionID)
	setInt("project_id", f.ProjectID)
	setInt("environment_id", f.EnvironmentID)
	setInt("status", int64(f.Status))
	setInt("pull_request_id", f.PullRequestID)
	if len(f.StatusIn) > 0 {
		parts := make([]string, len(f.StatusIn))
		for i, s := range f.StatusIn {
			parts[i] = strconv.Itoa(int(s))
		}
		q.Set("status__in", "["+strings.Join(parts, ",")+"]")
	}
	order := f.OrderBy
	if order == "" {
		order = "-id"
	}
	q.Set("order_by", order)
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	q.Set("limit", strconv.Itoa(limit))
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if len(f.IncludeRelated) > 0 {
		q.Set("include_related", relatedList(f.IncludeRelated))
	}
	return q
}

// relatedList renders include_related the way dbt Cloud documents it:
// ["trigger","job"].
func relatedList(names []string) string {
	b, _ := json.Marshal(names)
	return string(b)
}

// RunPage is one page of runs.
type RunPage struct {
	Runs []Run
	// Offset of the first run; TotalCount of runs matching the filter.
	Offset     int
	TotalCount int
}

// More reports whether runs beyond this page match the filter.
func (p *RunPage) More() bool { return len(p.Runs) > 0 && p.Offset+len(p.Runs) < p.TotalCount }

// ListRuns returns one page of the account's runs matching f.
func (c *Client) ListRuns(ctx context.Context, accountID int64, f RunFilter) (*RunPage, error) {
	what := fmt.Sprintf("the runs of account %d", accountID)
	if f.JobDefinitionID != 0 {
		what = fmt.Sprintf("the runs of job %d in account %d", f.JobDefinitionID, accountID)
	}
	res := resource{what: what, forbidden: permissionHint}
	env, err := getJSON[[]Run](ctx, c, fmt.Sprintf("/v2/accounts/%d/runs/", accountID), f.query(), res)
	if err != nil {
		return nil, err
	}
	page := &RunPage{Runs: env.Data, Offset: f.Offset, TotalCount: len(env.Data) + f.Offset}
	if p := env.Extra.Pagination; p != nil {
		page.TotalCount = p.TotalCount
	}
	return page, nil
}

// GetRun returns one run; include names related objects such as
// RelatedTrigger.
func (c *Client) GetRun(ctx context.Context, accountID, runID int64, include ...string) (*Run, error) {
	res := resource{what: fmt.Sprintf("run %d in account %d", runID, accountID), forbidden: permissionHint}
	var q url.Values
	if len(include) > 0 {
		q = url.Values{"include_related": {relatedList(include)}}
	}
	env, err := getJSON[Run](ctx, c, fmt.Sprintf("/v2/accounts/%d/runs/%d/", accountID, runID), q, res)
	if err != nil {
		return nil, err
	}
	return &env.Data, nil
}

// ListArtifacts returns the paths of a run's artifacts (manifest.json,
// run_results.json, compiled/...); empty when the run saved none.
func (c *Client) ListArtifacts(ctx context.Context, accountID, runID int64) ([]string, error) {
	res := resource{what: fmt.Sprintf("the artifacts of run %d in account %d", runID, accountID), forbidden: permissionHint}
	env, err := getJSON[[]string](ctx, c, fmt.Sprintf("/v2/accounts/%d/runs/%d/artifacts/", accountID, runID), nil, res)
	if err != nil {
		return nil, err
	}
	return env.Data, nil
}

// ArtifactOption tunes GetArtifact.
type ArtifactOption func(*artifactOpts)

type artifactOpts struct {
	maxBytes int64
	step     int
}

// MaxBytes fails the download with ErrArtifactTooLarge beyond n bytes.
func MaxBytes(n int64) ArtifactOption { return func(o *artifactOpts) { o.maxBytes = n } }

// Step reads the artifact of one run step (1-based) instead of the last.
func Step(n int) ArtifactOption { return func(o *artifactOpts) { o.step = n } }

// GetArtifact streams a run artifact (e.g. "manifest.json") into w and
// returns the number of bytes written. Over the MaxBytes limit it stops
// with ErrArtifactTooLarge; what was written so far must be discarded.
func (c *Client) GetArtifact(ctx context.Context, accountID, runID int64, path string, w io.Writer, opts ...ArtifactOption) (int64, error) {
	var o artifactOpts
	for _, f := range opts {
		f(&o)
	}
	escaped, err := artifactPath(path)
	if err != nil {
		return 0, err
	}
	res := resource{
		what:      fmt.Sprintf("artifact %s of run %d in account %d", path, runID, accountID),
		forbidden: permissionHint,
		notFound:  "the run saved no such artifact: make sure the job's steps write it (e.g. dbt build, dbt ls, dbt docs generate)",
	}
	var q url.Values
	if o.step > 0 {
		q = url.Values{"step": {strconv.Itoa(o.step)}}
	}
	apiPath := fmt.Sprintf("/v2/accounts/%d/runs/%d/artifacts/%s", accountID, runID, escaped)
	resp, err := c.request(ctx, apiPath, q, "*/*", 0, res)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	tooLarge := func(size string) error {
		return fmt.Errorf("%w: %s of run %d is %s, the limit is %d bytes", ErrArtifactTooLarge, path, runID, size, o.maxBytes)
	}
	if o.maxBytes > 0 && resp.ContentLength > o.maxBytes {
		return 0, tooLarge(strconv.FormatInt(resp.ContentLength, 10) + " bytes")
	}
	var r io.Reader = resp.Body
	if o.maxBytes > 0 {
		r = io.LimitReader(resp.Body, o.maxBytes+1)
	}
	n, err := io.Copy(w, r)
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, fmt.Errorf("dbt Cloud: reading %s of run %d: %w", path, runID, errors.New(c.redact(err.Error())))
	}
	if o.maxBytes > 0 && n > o.maxBytes {
		return n, tooLarge("over " + strconv.FormatInt(o.maxBytes, 10) + " bytes")
	}
	return n, nil
}

// artifactPath escapes each segment of an artifact path and refuses paths
// that would leave the run's artifact folder.
func artifactPath(p string) (string, error) {
	p = strings.TrimPrefix(p, "target/")
	if p == "" || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("dbtcloud: artifact path %q: give a path relative to target/, e.g. manifest.json", p)
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", fmt.Errorf("dbtcloud: artifact path %q: empty, . or .. segments are not allowed", p)
		}
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/"), nil
}

// RunURL is the run's page in dbt Cloud: its href when that is a URL, else
// built from the access URL.
func (c *Client) RunURL(r *Run) string {
	if strings.HasPrefix(r.Href, "https://") || strings.HasPrefix(r.Href, "http://") {
		return r.Href
	}
	return fmt.Sprintf("%s/deploy/%d/projects/%d/runs/%d", c.access, r.AccountID, r.ProjectID, r.ID)
}

// RunEvent converts a run into the part the report shows, with a link
// even when the run's href is missing.
func (c *Client) RunEvent(r *Run) events.DBTCloudRun {
	text := r.StatusHumanized
	if text == "" {
		text = r.Status.String()
	}
	return events.DBTCloudRun{
		AccountID:  r.AccountID,
		ProjectID:  r.ProjectID,
		JobID:      r.JobDefinitionID,
		RunID:      r.ID,
		Status:     int(r.Status),
		StatusText: text,
		GitSHA:     r.SHA(),
		URL:        c.RunURL(r),
		FinishedAt: r.FinishedAt.Time,
	}
}
