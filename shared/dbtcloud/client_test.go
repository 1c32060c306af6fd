package dbtcloud_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/fixtures"
	"github.com/diffgate/diffgate/shared/standin"
)

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "https://cloud.getdbt.com"},
		{"cloud.getdbt.com", "https://cloud.getdbt.com"},
		{"https://cloud.getdbt.com", "https://cloud.getdbt.com"},
		{"https://cloud.getdbt.com/", "https://cloud.getdbt.com"},
		{"https://cloud.getdbt.com/api", "https://cloud.getdbt.com"},
		{"https://cloud.getdbt.com/api/", "https://cloud.getdbt.com"},
		{"https://cloud.getdbt.com/api/v2/", "https://cloud.getdbt.com"},
		{" emea.dbt.com ", "https://emea.dbt.com"},
		{"https://au.dbt.com/api", "https://au.dbt.com"},
		{"ab123.us1.dbt.com", "https://ab123.us1.dbt.com"},
		{"https://AB123.us1.dbt.com/", "https://ab123.us1.dbt.com"},
		{"xy987.eu2.dbt.com/api/v3", "https://xy987.eu2.dbt.com"},
		{"https://dbt.acme.internal:8443/", "https://dbt.acme.internal:8443"},
		{"https://proxy.acme.internal/dbt/api", "https://proxy.acme.internal/dbt"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
	}
	for _, tt := range tests {
		got, err := dbtcloud.NormalizeURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ftp://cloud.getdbt.com", "https://", "https://cloud.getdbt.com/#/accounts/1/",
		"https://cloud.getdbt.com/?x=1", "https://user:s3cretpw@cloud.getdbt.com"} {
		_, err := dbtcloud.NormalizeURL(bad)
		if !errors.Is(err, dbtcloud.ErrInvalidURL) {
			t.Errorf("NormalizeURL(%q) error = %v, want ErrInvalidURL", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("error repeats the password: %v", err)
		}
	}
}

// rewrite sends every request to the stand-in, recording the URL the
// client meant to reach.
type rewrite struct {
	mu     sync.Mutex
	target string
	seen   []string
}

func (rw *rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	rw.mu.Lock()
	rw.seen = append(rw.seen, r.URL.String())
	rw.mu.Unlock()
	r = r.Clone(r.Context())
	r.URL.Scheme = "http"
	r.URL.Host = strings.TrimPrefix(rw.target, "http://")
	return http.DefaultTransport.RoundTrip(r)
}

func TestAccessURLForms(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddAccount(1, "Acme Analytics")
	for _, tt := range []struct{ configured, want string }{
		{"cloud.getdbt.com", "https://cloud.getdbt.com/api/v2/accounts/1/"},
		{"https://emea.dbt.com/", "https://emea.dbt.com/api/v2/accounts/1/"},
		{"https://au.dbt.com/api", "https://au.dbt.com/api/v2/accounts/1/"},
		{"https://ab123.us1.dbt.com/api/v2", "https://ab123.us1.dbt.com/api/v2/accounts/1/"},
		{"dbt.acme-single-tenant.com", "https://dbt.acme-single-tenant.com/api/v2/accounts/1/"},
	} {
		rw := &rewrite{target: s.URL}
		c, err := dbtcloud.New(tt.configured, s.Token(), dbtcloud.WithHTTPClient(&http.Client{Transport: rw}))
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.GetAccount(context.Background(), 1)
		if err != nil {
			t.Fatalf("%s: %v", tt.configured, err)
		}
		if a.Name != "Acme Analytics" {
			t.Errorf("account name %q", a.Name)
		}
		if diff := cmp.Diff([]string{tt.want}, rw.seen); diff != "" {
			t.Errorf("%s: requested URLs (-want +got):\n%s", tt.configured, diff)
		}
	}
}

func TestNewRequiresToken(t *testing.T) {
	if _, err := dbtcloud.New("cloud.getdbt.com", " "); !errors.Is(err, dbtcloud.ErrNoToken) {
		t.Fatalf("err = %v, want ErrNoToken", err)
	}
}

func TestJobCIAndErrors(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 11, Name: "Production artifacts", Type: "scheduled"})
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Name: "CI", Type: "ci", DeferringJobID: 11})
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 33})
	s.DenyJob(1, 33, http.StatusForbidden)
	c := s.Client()
	ctx := context.Background()

	ci, err := c.GetJob(ctx, 1, 22)
	if err != nil {
		t.Fatal(err)
	}
	if !ci.IsCI() || ci.JobType != "ci" || ci.DeferringJobDefinitionID == nil || *ci.DeferringJobDefinitionID != 11 || ci.CreatedAt.IsZero() {
		t.Errorf("CI job = %+v", ci)
	}
	prod, err := c.GetJob(ctx, 1, 11)
	if err != nil {
		t.Fatal(err)
	}
	if prod.IsCI() {
		t.Errorf("scheduled job reported as CI: %+v", prod)
	}

	tests := []struct {
		job      int64
		sentinel error
		want     string
	}{
		{44, dbtcloud.ErrNotFound, "dbt Cloud: the token cannot see job 44 in account 1: check the job id, and give the service token the Member or Developer permission on that project (HTTP 404"},
		{33, dbtcloud.ErrForbidden, "dbt Cloud: the token cannot see job 33 in account 1: check the job id, and give the service token the Member or Developer permission on that project (HTTP 403"},
	}
	for _, tt := range tests {
		_, err := c.GetJob(ctx, 1, tt.job)
		if !errors.Is(err, tt.sentinel) {
			t.Fatalf("job %d: err = %v, want %v", tt.job, err, tt.sentinel)
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("job %d:\n got %s\nwant %s…", tt.job, err, tt.want)
		}
	}
	// An account the token does not belong to.
	_, err = c.GetAccount(ctx, 999)
	if !errors.Is(err, dbtcloud.ErrForbidden) || !strings.Contains(err.Error(), "check dbt_cloud.account_id") {
		t.Errorf("unknown account: %v", err)
	}
}

func TestBadTokenIsReportedWithoutTheToken(t *testing.T) {
	s := dbtcloudtest.New(t, dbtcloudtest.AllowBadAuth())
	s.AddAccount(1, "Acme")
	const wrong = "dbtc_wrong_token_0123456789"
	c, err := dbtcloud.New(s.URL, wrong)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAccount(context.Background(), 1)
	if !errors.Is(err, dbtcloud.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "token is invalid") || !strings.Contains(err.Error(), "service token") {
		t.Errorf("error does not say what to fix: %v", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error contains the token: %v", err)
	}
}

// A server that echoes the Authorization header must not leak it through
// the client's errors or logs.
func TestEchoedTokenIsRedacted(t *testing.T) {
	const token = "dbtc_secret_echo_987654"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":{"code":400,"is_success":false,"user_message":"bad header %s","developer_message":""},"data":null}`,
			r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	var logs bytes.Buffer
	ctx := logger(&logs).WithContext(context.Background())
	c, err := dbtcloud.New(srv.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetJob(ctx, 1, 2)
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
		t.Errorf("token leaked: err=%v logs=%s", err, logs.String())
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error lost dbt Cloud's message: %v", err)
	}
}

func TestRetryAfterSecondsAndDate(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddAccount(1, "Acme")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.Fail(dbtcloudtest.EndpointAccount, dbtcloudtest.Fault{Status: 429, RetryAfter: "7"})
	s.Fail(dbtcloudtest.EndpointAccount, dbtcloudtest.Fault{Status: 429, RetryAfter: now.Add(3 * time.Second).Format(http.TimeFormat)})
	s.Fail(dbtcloudtest.EndpointAccount, dbtcloudtest.Fault{Status: 408})
	sl := &standin.Sleeps{}
	c := s.Client(dbtcloud.WithSleep(sl.Sleep), dbtcloud.WithClock(func() time.Time { return now }),
		dbtcloud.WithRetry(dbtcloud.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Second, MaxWait: time.Minute}))
	a, err := c.GetAccount(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Acme" {
		t.Errorf("name %q", a.Name)
	}
	w := sl.All()
	// The third wait is the backoff of the third attempt: 4 s less jitter.
	if len(w) != 3 || w[0] != 7*time.Second || w[1] != 3*time.Second || w[2] < 3200*time.Millisecond || w[2] > 4*time.Second {
		t.Errorf("waits = %v, want [7s 3s 3.2s..4s]", w)
	}
	if n := s.Count(dbtcloudtest.EndpointAccount); n != 4 {
		t.Errorf("requests = %d, want 4", n)
	}
}

func TestServerErrorsRetriedThenReported(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci"})
	s.Fail(dbtcloudtest.EndpointListRuns, dbtcloudtest.Fault{Status: 502, Times: 2})
	s.Fail(dbtcloudtest.EndpointListRuns, dbtcloudtest.Fault{Status: 503, Times: 10})
	sl := &standin.Sleeps{}
	c := s.Client(dbtcloud.WithSleep(sl.Sleep), dbtcloud.WithRetry(dbtcloud.RetryPolicy{MaxAttempts: 4}))
	_, err := c.ListRuns(context.Background(), 1, dbtcloud.RunFilter{JobDefinitionID: 22})
	if !errors.Is(err, dbtcloud.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	var apiErr *dbtcloud.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.Attempts != 4 {
		t.Fatalf("err = %#v", err)
	}
	if want := "the runs of job 22 in account 1 failed after 4 attempts (HTTP 503"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if n := s.ListRunsCount(22); n != 4 {
		t.Errorf("list-runs requests = %d, want 4", n)
	}
	// Exponential backoff: each wait about twice the one before.
	w := sl.All()
	if len(w) != 3 || !(w[0] < w[1] && w[1] < w[2]) {
		t.Errorf("waits = %v, want 3 growing", w)
	}
	// Recovery after a 500 works.
	s2 := dbtcloudtest.New(t)
	s2.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci"})
	s2.Fail(dbtcloudtest.EndpointJob, dbtcloudtest.Fault{Status: 500})
	if _, err := s2.Client(dbtcloud.WithSleep(sl.Sleep)).GetJob(context.Background(), 1, 22); err != nil {
		t.Fatalf("after one 500: %v", err)
	}
}

func TestRetryAfterBeyondBudgetStopsAtOnce(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddAccount(1, "Acme")
	s.Fail(dbtcloudtest.EndpointAccount, dbtcloudtest.Fault{Status: 429, RetryAfter: "3600"})
	sl := &standin.Sleeps{}
	c := s.Client(dbtcloud.WithSleep(sl.Sleep), dbtcloud.WithRetry(dbtcloud.RetryPolicy{MaxWait: time.Minute}))
	_, err := c.GetAccount(context.Background(), 1)
	if !errors.Is(err, dbtcloud.ErrUnavailable) || !strings.Contains(err.Error(), "HTTP 429") ||
		!strings.Contains(err.Error(), "retry budget") {
		t.Fatalf("err = %v", err)
	}
	if len(sl.All()) != 0 || s.Count(dbtcloudtest.EndpointAccount) != 1 {
		t.Errorf("waited %v over %d requests; want no wait, 1 request", sl.All(), s.Count(dbtcloudtest.EndpointAccount))
	}
}

func TestRetryWaitHonoursContext(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddAccount(1, "Acme")
	s.Fail(dbtcloudtest.EndpointAccount, dbtcloudtest.Fault{Status: 503, RetryAfter: "30"})
	ctx, cancel := context.WithCancel(context.Background())
	c := s.Client(dbtcloud.WithSleep(func(ctx context.Context, d time.Duration) error {
		cancel() // the caller gives up while we wait
		<-ctx.Done()
		return ctx.Err()
	}))
	if _, err := c.GetAccount(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestListRunsFiltersAndTrigger(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 11})
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci"})
	s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11, GitSHA: "aaaaaaa1111111"})
	old := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitHubPR: 7, GitSHA: "1111111aaaaaaa",
		Script: []dbtcloudtest.Phase{{Status: dbtcloud.StatusCancelled}}})
	cur := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitHubPR: 7, GitSHA: "2222222bbbbbbb",
		Script: []dbtcloudtest.Phase{{Status: dbtcloud.StatusRunning}}})
	other := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitLabMR: 8, GitSHA: "3333333ccccccc",
		Script: []dbtcloudtest.Phase{{Status: dbtcloud.StatusQueued}}})
	c := s.Client()
	ctx := context.Background()

	page, err := c.ListRuns(ctx, 1, dbtcloud.RunFilter{JobDefinitionID: 22, IncludeRelated: []string{dbtcloud.RelatedTrigger}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range page.Runs {
		got = append(got, r.ID)
	}
	if diff := cmp.Diff([]int64{other.ID(), cur.ID(), old.ID()}, got); diff != "" {
		t.Errorf("newest first (-want +got):\n%s", diff)
	}
	if page.TotalCount != 3 || page.More() {
		t.Errorf("total %d more %v", page.TotalCount, page.More())
	}
	r := page.Runs[1]
	if r.PullRequest() != 7 || !dbtcloud.SameSHA(r.SHA(), "2222222BBBBBBB") || !dbtcloud.SameSHA(r.SHA(), "2222222") || dbtcloud.SameSHA(r.SHA(), "1111111") {
		t.Errorf("run %+v (trigger %+v), want PR 7 at 2222222bbbbbbb", r, r.Trigger)
	}
	if page.Runs[0].PullRequest() != 8 || page.Runs[0].Trigger.GitlabMergeRequestID != 8 {
		t.Errorf("GitLab MR not read: %+v", page.Runs[0].Trigger)
	}
	if r.Trigger.SchemaOverride != "dbt_cloud_pr_22_7" || r.StartedAt.IsZero() || !r.FinishedAt.IsZero() {
		t.Errorf("running run: %+v trigger %+v", r, r.Trigger)
	}

	page, err = c.ListRuns(ctx, 1, dbtcloud.RunFilter{JobDefinitionID: 22,
		StatusIn: []dbtcloud.RunStatus{dbtcloud.StatusQueued, dbtcloud.StatusStarting, dbtcloud.StatusRunning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Runs) != 2 || page.Runs[0].Trigger != nil {
		t.Errorf("status__in: %d runs, trigger %v (not asked for)", len(page.Runs), page.Runs[0].Trigger)
	}
	page, err = c.ListRuns(ctx, 1, dbtcloud.RunFilter{Status: dbtcloud.StatusCancelled, OrderBy: "id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Runs) != 1 || page.Runs[0].ID != old.ID() || !page.Runs[0].IsCancelled {
		t.Errorf("status filter: %+v", page.Runs)
	}
	page, err = c.ListRuns(ctx, 1, dbtcloud.RunFilter{PullRequestID: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Runs) != 1 || page.Runs[0].ID != other.ID() {
		t.Errorf("pull_request_id filter: %+v", page.Runs)
	}
}

// Pages follow extra.pagination: More says when to ask for the next.
func TestListRunsPaginates(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 11})
	var want []int64
	for i := 0; i < 230; i++ {
		want = append(want, s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11}).ID())
	}
	c := s.Client()
	var got []int64
	f := dbtcloud.RunFilter{JobDefinitionID: 11, OrderBy: "id"}
	for {
		page, err := c.ListRuns(context.Background(), 1, f)
		if err != nil {
			t.Fatal(err)
		}
		if page.TotalCount != len(want) || page.Offset != f.Offset {
			t.Errorf("page at %d: offset %d of %d runs", f.Offset, page.Offset, page.TotalCount)
		}
		for _, r := range page.Runs {
			got = append(got, r.ID)
		}
		if !page.More() {
			break
		}
		f.Offset += len(page.Runs)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if n := s.Count(dbtcloudtest.EndpointListRuns); n != 3 {
		t.Errorf("list requests = %d, want 3 (100+100+30)", n)
	}
}

func TestGetRunFollowsScript(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci"})
	h := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitHubPR: 7, GitSHA: "abcdef0123456789",
		Script: []dbtcloudtest.Phase{{Status: dbtcloud.StatusQueued, Polls: 2}, {Status: dbtcloud.StatusRunning, Polls: 1},
			{Status: dbtcloud.StatusError}}, StatusMessage: "1 of 12 tests failed"})
	c := s.Client()
	var seen []dbtcloud.RunStatus
	var last *dbtcloud.Run
	for i := 0; i < 5; i++ {
		r, err := c.GetRun(context.Background(), 1, h.ID(), dbtcloud.RelatedTrigger, dbtcloud.RelatedJob)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, r.Status)
		last = r
	}
	want := []dbtcloud.RunStatus{1, 1, 3, 20, 20}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if !last.IsError || last.StatusMessage != "1 of 12 tests failed" || last.FinishedAt.IsZero() || last.Job == nil || !last.Job.IsCI() {
		t.Errorf("final run %+v", last)
	}
	ev := c.RunEvent(last)
	if ev.RunID != h.ID() || ev.JobID != 22 || ev.Status != 20 || ev.StatusText != "Error" || ev.GitSHA != "abcdef0123456789" ||
		!strings.HasPrefix(ev.URL, s.URL+"/deploy/1/projects/") || ev.FinishedAt.IsZero() {
		t.Errorf("event %+v", ev)
	}
	// A run whose href is redacted still gets a link.
	r := *last
	r.Href = "REDACTED"
	if got, want := c.RunURL(&r), fmt.Sprintf("%s/deploy/1/projects/%d/runs/%d", s.URL, r.ProjectID, r.ID); got != want {
		t.Errorf("RunURL = %q, want %q", got, want)
	}
	if _, err := c.GetRun(context.Background(), 1, 42); !errors.Is(err, dbtcloud.ErrNotFound) ||
		!strings.Contains(err.Error(), "run 42 in account 1") {
		t.Errorf("missing run: %v", err)
	}
}

func TestArtifacts(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 11})
	manifest := bytes.Repeat([]byte(`{"nodes":{}}`), 1000)
	h := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11, Artifacts: map[string][]byte{
		"manifest.json": manifest, "run_results.json": []byte(`{}`), "compiled/p/models/a b.sql": []byte("select 1"),
	}})
	empty := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 11})
	c := s.Client()
	ctx := context.Background()

	paths, err := c.ListArtifacts(ctx, 1, h.ID())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"compiled/p/models/a b.sql", "manifest.json", "run_results.json"}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if paths, err := c.ListArtifacts(ctx, 1, empty.ID()); err != nil || len(paths) != 0 {
		t.Errorf("no artifacts: %v %v", paths, err)
	}

	var buf bytes.Buffer
	n, err := c.GetArtifact(ctx, 1, h.ID(), "manifest.json", &buf, dbtcloud.MaxBytes(int64(len(manifest))))
	if err != nil || n != int64(len(manifest)) || !bytes.Equal(buf.Bytes(), manifest) {
		t.Fatalf("manifest: n=%d err=%v", n, err)
	}
	buf.Reset()
	if _, err := c.GetArtifact(ctx, 1, h.ID(), "compiled/p/models/a b.sql", &buf, dbtcloud.Step(2)); err != nil || buf.String() != "select 1" {
		t.Errorf("nested path: %q %v", buf.String(), err)
	}

	_, err = c.GetArtifact(ctx, 1, h.ID(), "manifest.json", io.Discard, dbtcloud.MaxBytes(100))
	if !errors.Is(err, dbtcloud.ErrArtifactTooLarge) || !strings.Contains(err.Error(), "the limit is 100 bytes") {
		t.Errorf("over limit: %v", err)
	}
	_, err = c.GetArtifact(ctx, 1, empty.ID(), "manifest.json", io.Discard)
	if !errors.Is(err, dbtcloud.ErrNotFound) || !strings.Contains(err.Error(), "saved no such artifact") {
		t.Errorf("missing artifact: %v", err)
	}
	// A recorded artifact body streams through byte for byte.
	recorded := fixtures.Read(t, "dbt_cloud", "data-mie_dbt-cloud-cli", "run_get_artifact_response.json")
	h.SetArtifact("run_results.json", recorded)
	buf.Reset()
	if _, err := c.GetArtifact(ctx, 1, h.ID(), "target/run_results.json", &buf); err != nil || !bytes.Equal(buf.Bytes(), recorded) {
		t.Errorf("recorded artifact: %d bytes, %v", buf.Len(), err)
	}
	if _, err := c.GetArtifact(ctx, 1, h.ID(), "../secrets", io.Discard); err == nil {
		t.Error("path with .. accepted")
	}
}

// Without a Content-Length the limit is enforced while streaming.
func TestArtifactLimitWhileStreaming(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 100; i++ {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 1000))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	c, err := dbtcloud.New(srv.URL, "t")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := c.GetArtifact(context.Background(), 1, 2, "manifest.json", &buf, dbtcloud.MaxBytes(50_000))
	if !errors.Is(err, dbtcloud.ErrArtifactTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if n > 50_001 {
		t.Errorf("read %d bytes past a 50000 limit", n)
	}
}

// An attempt that hangs is cut by the per-attempt timeout and retried.
func TestHungAttemptIsRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-r.Context().Done() // hang until the client gives up
			return
		}
		fmt.Fprint(w, `{"status":{"code":200,"is_success":true},"data":{"id":1,"name":"Acme"}}`)
	}))
	defer srv.Close()
	sl := &standin.Sleeps{}
	c, err := dbtcloud.New(srv.URL, "t", dbtcloud.WithTimeout(50*time.Millisecond), dbtcloud.WithSleep(sl.Sleep))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.GetAccount(context.Background(), 1)
	if err != nil || a.Name != "Acme" {
		t.Fatalf("%+v %v", a, err)
	}
	if len(sl.All()) != 1 {
		t.Errorf("waits %v, want one retry", sl.All())
	}
}
