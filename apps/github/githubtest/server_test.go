package githubtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/standin"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

func TestValidateCheckRun(t *testing.T) {
	long := strings.Repeat("é", githubtest.MaxOutputText+1)
	tests := map[string]struct {
		body   string
		create bool
		want   string // substring of the error; "" means valid
	}{
		"minimal create":            {body: `{"name":"diffgate","head_sha":"` + sha + `"}`, create: true},
		"full create":               {body: `{"name":"diffgate","head_sha":"` + sha + `","external_id":"h1","status":"completed","conclusion":"neutral","completed_at":"2026-03-01T12:00:00Z","details_url":"https://d.example.com/x","output":{"title":"t","summary":"s","text":"x"}}`, create: true},
		"no name":                   {body: `{"head_sha":"` + sha + `"}`, create: true, want: "name is required"},
		"no head_sha":               {body: `{"name":"diffgate"}`, create: true, want: "head_sha is required"},
		"short head_sha":            {body: `{"name":"diffgate","head_sha":"abc1234"}`, create: true, want: "40-character"},
		"head_sha on update":        {body: `{"head_sha":"` + sha + `"}`, want: "head_sha is not a parameter"},
		"unknown status":            {body: `{"status":"pending"}`, want: "status pending is not one of"},
		"unknown conclusion":        {body: `{"conclusion":"stale"}`, want: "conclusion stale is not one of"},
		"completed, no conclusion":  {body: `{"status":"completed"}`, want: "conclusion is required when status is completed"},
		"conclusion while running":  {body: `{"status":"in_progress","conclusion":"success"}`, want: "a conclusion completes"},
		"completed_at alone":        {body: `{"completed_at":"2026-03-01T12:00:00Z"}`, want: "completed_at needs a conclusion"},
		"bad time":                  {body: `{"started_at":"yesterday"}`, want: "ISO 8601"},
		"relative details_url":      {body: `{"details_url":"/details/x"}`, want: "details_url"},
		"output without summary":    {body: `{"output":{"title":"t"}}`, want: "output.summary is required"},
		"output without title":      {body: `{"output":{"summary":"s"}}`, want: "output.title is required"},
		"summary too long":          {body: `{"output":{"title":"t","summary":"` + long + `"}}`, want: "only 65535 characters"},
		"text too long":             {body: `{"output":{"title":"t","summary":"s","text":"` + long + `"}}`, want: "output.text is 65536 characters"},
		"summary at the limit":      {body: `{"output":{"title":"t","summary":"` + long[2:] + `"}}`},
		"unknown output field":      {body: `{"output":{"title":"t","summary":"s","body":"x"}}`, want: "output.body is not a parameter"},
		"unknown field":             {body: `{"state":"success"}`, want: "state is not a parameter"},
		"too many annotations":      {body: `{"output":{"title":"t","summary":"s","annotations":[` + strings.TrimSuffix(strings.Repeat(`{"path":"a","start_line":1,"end_line":1,"annotation_level":"notice","message":"m"},`, 51), ",") + `]}}`, want: "at most 50"},
		"bad annotation level":      {body: `{"output":{"title":"t","summary":"s","annotations":[{"path":"a","start_line":1,"end_line":1,"annotation_level":"error","message":"m"}]}}`, want: "annotation_level"},
		"action label too long":     {body: `{"actions":[{"label":"a label that is far too long","description":"d","identifier":"i"}]}`, want: "actions[0].label is over 20"},
		"external_id not a string":  {body: `{"external_id":12}`, want: "external_id must be a string"},
		"name blank on update":      {body: `{"name":" "}`, want: "name is required"},
		"queued on update is valid": {body: `{"status":"queued","output":{"title":"t","summary":"s"}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var body map[string]any
			if err := json.Unmarshal([]byte(tc.body), &body); err != nil {
				t.Fatal(err)
			}
			err := githubtest.ValidateCheckRun(body, tc.create)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("valid body refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v; want one saying %q", err, tc.want)
			}
		})
	}
}

func TestValidateComment(t *testing.T) {
	tests := map[string]struct {
		body map[string]any
		want string
	}{
		"ok":            {body: map[string]any{"body": "hello"}},
		"at the limit":  {body: map[string]any{"body": strings.Repeat("ü", githubtest.MaxCommentBody)}},
		"too long":      {body: map[string]any{"body": strings.Repeat("a", githubtest.MaxCommentBody+1)}, want: "too long"},
		"missing":       {body: map[string]any{}, want: "body is required"},
		"blank":         {body: map[string]any{"body": "  \n"}, want: "blank"},
		"not a string":  {body: map[string]any{"body": 3}, want: "body is required"},
		"unknown field": {body: map[string]any{"body": "x", "title": "y"}, want: "title is not a parameter"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := githubtest.ValidateComment(tc.body)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("error %v; want %q", err, tc.want)
			}
		})
	}
}

// client is an installation client of the App, as the App makes it.
func client(t *testing.T, s *githubtest.Server) *github.Client {
	t.Helper()
	s.AddInstallation(7)
	cc := githubapp.NewClientCreator(s.APIURL(), s.URL+"/api/graphql", s.AppID(), s.PrivateKeyPEM())
	c, err := cc.NewInstallationClient(7)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRefusesWhatGitHubRefuses(t *testing.T) {
	rec := &standin.Recorder{}
	s := githubtest.New(rec)
	defer s.Close()
	gh := client(t, s)
	ctx := context.Background()
	s.AddPR("acme/analytics", githubtest.PR{Number: 1, HeadSHA: sha})

	_, resp, err := gh.Checks.CreateCheckRun(ctx, "acme", "analytics", github.CreateCheckRunOptions{
		Name: "diffgate", HeadSHA: sha, Status: github.String("completed")})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("completed without a conclusion: %v; want 422", err)
	}
	if errs := rec.Take(); len(errs) != 1 || !strings.Contains(errs[0], "conclusion is required") {
		t.Errorf("reported %q", errs)
	}
	_, resp, err = gh.Issues.CreateComment(ctx, "acme", "analytics", 1, &github.IssueComment{Body: github.String(strings.Repeat("x", githubtest.MaxCommentBody+1))})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("long comment: %v; want 422", err)
	}
	if errs := rec.Take(); len(errs) != 1 || !strings.Contains(errs[0], "too long") {
		t.Errorf("reported %q", errs)
	}
	// An endpoint the App has no business calling.
	if _, _, err := gh.Repositories.Get(ctx, "acme", "analytics"); err == nil {
		t.Error("unexpected request answered")
	}
	if errs := rec.Take(); len(errs) != 1 || !strings.Contains(errs[0], "unexpected request GET /api/v3/repos/acme/analytics") {
		t.Errorf("reported %q", errs)
	}
	// No token at all.
	req, _ := http.NewRequest(http.MethodGet, s.APIURL()+"repos/acme/analytics/pulls/1", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || len(rec.Take()) != 1 {
		t.Errorf("request without a token answered %d", r.StatusCode)
	}
}

func TestKeepsCheckRunsAndComments(t *testing.T) {
	s := githubtest.New(t)
	gh := client(t, s)
	ctx := context.Background()
	s.AddPR("acme/analytics", githubtest.PR{Number: 3, HeadSHA: sha})
	cr, _, err := gh.Checks.CreateCheckRun(ctx, "acme", "analytics", github.CreateCheckRunOptions{
		Name: "diffgate", HeadSHA: sha, ExternalID: github.String("h1"), Status: github.String("queued"),
		Output: &github.CheckRunOutput{Title: github.String("Queued"), Summary: github.String("waiting")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Checks.UpdateCheckRun(ctx, "acme", "analytics", cr.GetID(), github.UpdateCheckRunOptions{
		Name: "diffgate", Conclusion: github.String("success"),
		Output: &github.CheckRunOutput{Title: github.String("Done"), Summary: github.String("all good")}}); err != nil {
		t.Fatal(err)
	}
	got := s.CheckRuns("acme/analytics")
	if len(got) != 1 || got[0].Status != "completed" || got[0].Conclusion != "success" || got[0].Updates != 1 || got[0].Summary != "all good" {
		t.Errorf("check runs %+v", got)
	}
	list, _, err := gh.Checks.ListCheckRunsForRef(ctx, "acme", "analytics", sha, &github.ListCheckRunsOptions{
		CheckName: github.String("diffgate"), AppID: github.Int64(s.AppID()), Filter: github.String("all")})
	if err != nil || list.GetTotal() != 1 || list.CheckRuns[0].GetExternalID() != "h1" {
		t.Errorf("listed %+v, %v", list, err)
	}

	// Comments page like GitHub's, 30 by default.
	for i := range 31 {
		s.AddComment("acme/analytics", 3, "someone", fmt.Sprintf("comment %d", i))
	}
	page, resp, err := gh.Issues.ListComments(ctx, "acme", "analytics", 3, nil)
	if err != nil || len(page) != 30 || resp.NextPage != 2 {
		t.Fatalf("first page: %d comments, next %d, %v", len(page), resp.NextPage, err)
	}
	if page[0].GetUser().GetType() != "User" {
		t.Errorf("user type %q", page[0].GetUser().GetType())
	}
}

// TestCheckRunsPage lists check runs a page at a time, as GitHub pages
// them: with a Link header naming the next page.
func TestCheckRunsPage(t *testing.T) {
	s := githubtest.New(t)
	gh := client(t, s)
	ctx := context.Background()
	for i := range 3 {
		if _, _, err := gh.Checks.CreateCheckRun(ctx, "acme", "analytics", github.CreateCheckRunOptions{
			Name: "diffgate", HeadSHA: sha, ExternalID: github.String(fmt.Sprint("h", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	opt := &github.ListCheckRunsOptions{Filter: github.String("all"), ListOptions: github.ListOptions{PerPage: 2}}
	for pages := 1; ; pages++ {
		list, resp, err := gh.Checks.ListCheckRunsForRef(ctx, "acme", "analytics", sha, opt)
		if err != nil {
			t.Fatal(err)
		}
		if list.GetTotal() != 3 {
			t.Errorf("page %d: total_count %d; want 3", pages, list.GetTotal())
		}
		for _, c := range list.CheckRuns {
			ids = append(ids, c.GetExternalID())
		}
		if resp.NextPage == 0 || pages == 3 {
			break
		}
		opt.Page = resp.NextPage
	}
	if got := strings.Join(ids, " "); got != "h0 h1 h2" {
		t.Errorf("listed %q; want every check run once, over two pages", got)
	}
}

func TestPullRequestFilesStopAt3000(t *testing.T) {
	s := githubtest.New(t)
	gh := client(t, s)
	files := make([]githubtest.File, 3100)
	for i := range files {
		files[i] = githubtest.File{Filename: fmt.Sprintf("models/m%d.sql", i), Status: "modified"}
	}
	s.AddPR("acme/analytics", githubtest.PR{Number: 4, HeadSHA: sha, Files: files})
	n, pages := 0, 0
	opt := &github.ListOptions{PerPage: 100}
	for {
		list, resp, err := gh.PullRequests.ListFiles(context.Background(), "acme", "analytics", 4, opt)
		if err != nil {
			t.Fatal(err)
		}
		n += len(list)
		pages++
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if n != githubtest.MaxPRFiles || pages != 30 {
		t.Errorf("listed %d files in %d pages; want 3000 in 30", n, pages)
	}
}

func TestInjectedRateLimits(t *testing.T) {
	s := githubtest.New(t, githubtest.WithRateLimitWindow(2*time.Second))
	gh := client(t, s)
	s.AddPR("acme/analytics", githubtest.PR{Number: 5, HeadSHA: sha})
	ctx := context.Background()

	s.RateLimit(githubtest.SecondaryLimit, 1)
	_, _, err := gh.PullRequests.Get(ctx, "acme", "analytics", 5)
	var abuse *github.AbuseRateLimitError
	if !asAbuse(err, &abuse) || abuse.GetRetryAfter() != 2*time.Second {
		t.Errorf("secondary limit: %v", err)
	}

	gh = client(t, s) // a client that has not seen the limit
	s.RateLimit(githubtest.PrimaryLimit, 1)
	_, _, err = gh.PullRequests.Get(ctx, "acme", "analytics", 5)
	if _, ok := err.(*github.RateLimitError); !ok {
		t.Errorf("primary limit: %T %v", err, err)
	}

	gh = client(t, s)
	s.RateLimit(githubtest.TooManyRequests, 1)
	_, resp, err := gh.PullRequests.Get(ctx, "acme", "analytics", 5)
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("429: %v", err)
	}
	if _, _, err := gh.PullRequests.Get(ctx, "acme", "analytics", 5); err != nil {
		t.Errorf("after the limits: %v", err)
	}
}

func asAbuse(err error, target **github.AbuseRateLimitError) bool {
	a, ok := err.(*github.AbuseRateLimitError)
	*target = a
	return ok
}

func TestWebhookSigns(t *testing.T) {
	var got http.Header
	var body []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		body = b.Bytes()
		w.WriteHeader(http.StatusAccepted)
	})
	ts := httptest.NewServer(h)
	defer ts.Close()
	payload := githubtest.PullRequest{Action: "opened", Repo: "acme/analytics", Number: 1, HeadSHA: sha, BaseSHA: sha, HeadRef: "f", BaseRef: "main"}.Payload()
	code, _, err := githubtest.Webhook{URL: ts.URL, Secret: "s3cret"}.Send(context.Background(), githubtest.Delivery{Event: "pull_request", ID: "d-1", Body: payload})
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("send: %d %v", code, err)
	}
	if got.Get("X-GitHub-Event") != "pull_request" || got.Get("X-GitHub-Delivery") != "d-1" ||
		got.Get("X-Hub-Signature-256") != githubtest.Sign("s3cret", body) || !bytes.Equal(body, payload) {
		t.Errorf("headers %v", got)
	}
	if err := github.ValidateSignature(got.Get("X-Hub-Signature-256"), body, []byte("s3cret")); err != nil {
		t.Errorf("go-github does not accept the signature: %v", err)
	}
}

// TestPRIsWhatTheDeliverySays: the stand-in's pull request made from a
// delivery is what the delivery shows, closed after a closed action.
func TestPRIsWhatTheDeliverySays(t *testing.T) {
	p := githubtest.PullRequest{Action: "closed", Repo: "acme/analytics", HeadRepo: "fork/analytics", Number: 9, HeadSHA: sha,
		BaseSHA: sha, HeadRef: "f", BaseRef: "main", Draft: true, Labels: []string{"diffgate"}}
	var body struct {
		PR struct {
			State string `json:"state"`
			Title string `json:"title"`
			User  struct {
				Login string `json:"login"`
			} `json:"user"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(p.Payload(), &body); err != nil {
		t.Fatal(err)
	}
	pr := p.PR()
	if pr.State != body.PR.State || pr.Title != body.PR.Title || pr.User != body.PR.User.Login ||
		pr.Number != 9 || !pr.Draft || pr.HeadRepo != "fork/analytics" || len(pr.Labels) != 1 {
		t.Errorf("PR %+v; the delivery says state %q, title %q, user %q", pr, body.PR.State, body.PR.Title, body.PR.User.Login)
	}
	if p.Action = "opened"; p.PR().State != "open" {
		t.Errorf("state %q after opened", p.PR().State)
	}
}
