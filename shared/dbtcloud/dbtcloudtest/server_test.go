package dbtcloudtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/fixtures"
	"github.com/diffgate/diffgate/shared/standin"
)

// get fetches a stand-in path as raw JSON.
func get(t *testing.T, s *dbtcloudtest.Server, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("Authorization", "Token "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func fixtureJSON(t *testing.T, parts ...string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(fixtures.Read(t, parts...), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", v)
}

// shape compares the keys and JSON types of two objects, recursing into
// objects. null on either side matches any type. Keys only the stand-in
// has must be listed in extra (fields newer than the recording).
func shape(t *testing.T, where string, fixture, standin map[string]any, exact bool, extra ...string) {
	t.Helper()
	for k, fv := range fixture {
		sv, ok := standin[k]
		if !ok {
			t.Errorf("%s: stand-in lacks key %q", where, k)
			continue
		}
		ft, st := jsonType(fv), jsonType(sv)
		if ft != st && ft != "null" && st != "null" {
			t.Errorf("%s.%s: fixture has %s, stand-in %s", where, k, ft, st)
			continue
		}
		fo, fok := fv.(map[string]any)
		so, sok := sv.(map[string]any)
		if fok && sok && k != "job" && k != "trigger" && k != "filters" { // filters echo the request
			shape(t, where+"."+k, fo, so, exact, extra...)
		}
	}
	if exact {
		var only []string
		for k := range standin {
			if _, ok := fixture[k]; !ok && !slices.Contains(extra, k) {
				only = append(only, k)
			}
		}
		sort.Strings(only)
		if len(only) > 0 {
			t.Errorf("%s: keys not in the recording: %v", where, only)
		}
	}
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func TestShapeMatchesRecordedResponses(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddAccount(1, "Acme")
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 11})
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci", DeferringJobID: 11})
	h := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitHubPR: 7, GitSHA: "abc1234def",
		Artifacts: map[string][]byte{"manifest.json": []byte("{}")}})
	jobExtra := []string{"job_type", "on_merge", "triggers_on_draft_pr", "deferring_environment_id"}

	envKeys := func(where string, f, g map[string]any) {
		shape(t, where+" envelope", map[string]any{"status": f["status"], "data": nil}, g, false)
		shape(t, where+" status", obj(f["status"]), obj(g["status"]), true)
	}

	fa := fixtureJSON(t, "dbt_cloud", "data-mie_dbt-cloud-cli", "account_get_response.json")
	ga := get(t, s, "/api/v2/accounts/1/")
	envKeys("account", fa, ga)
	shape(t, "account", obj(fa["data"]), obj(ga["data"]), true)

	fj := fixtureJSON(t, "dbt_cloud", "data-mie_dbt-cloud-cli", "job_get_response.json")
	gj := get(t, s, "/api/v2/accounts/1/jobs/22/")
	shape(t, "job", obj(fj["data"]), obj(gj["data"]), true, jobExtra...)

	fr := fixtureJSON(t, "dbt_cloud", "dagster-io_dagster", "run_get_response.json")
	gr := get(t, s, fmt.Sprintf("/api/v2/accounts/1/runs/%d/", h.ID()))
	envKeys("run", fr, gr)
	shape(t, "run", obj(fr["data"]), obj(gr["data"]), true)

	// The run with its trigger and job.
	fh := fixtureJSON(t, "dbt_cloud", "unknown_repo_harness_mock", "job_trigger_run_response_queued.json")
	gh := get(t, s, fmt.Sprintf(`/api/v2/accounts/1/runs/%d/?include_related=["trigger","job"]`, h.ID()))
	shape(t, "run.trigger", obj(obj(fh["data"])["trigger"]), obj(obj(gh["data"])["trigger"]), true)
	fdj := fixtureJSON(t, "dbt_cloud", "dagster-io_dagster", "run_get_response_include_trigger_job.json")
	shape(t, "run.job", obj(obj(fdj["data"])["job"]), obj(obj(gh["data"])["job"]), false)

	// A list: the envelope's extra with filters, order_by and pagination.
	fl := fixtureJSON(t, "dbt_cloud", "data-mie_dbt-cloud-cli", "account_list_response.json")
	gl := get(t, s, "/api/v2/accounts/1/runs/?job_definition_id=22&order_by=-id&limit=10")
	envKeys("list", fl, gl)
	shape(t, "list extra", obj(fl["extra"]), obj(gl["extra"]), true)
	if runs, _ := gl["data"].([]any); len(runs) != 1 {
		t.Errorf("list data = %v", gl["data"])
	} else {
		shape(t, "list run", obj(fr["data"]), obj(runs[0]), true)
	}

	fa2 := fixtureJSON(t, "dbt_cloud", "data-mie_dbt-cloud-cli", "run_list_artifacts_response.json")
	ga2 := get(t, s, fmt.Sprintf("/api/v2/accounts/1/runs/%d/artifacts/", h.ID()))
	envKeys("artifacts", fa2, ga2)
	if jsonType(ga2["data"]) != "array" {
		t.Errorf("artifacts data is %s", jsonType(ga2["data"]))
	}

	// Run timestamps use a space, job timestamps a T, as dbt Cloud does.
	if c, _ := obj(gr["data"])["created_at"].(string); !strings.Contains(c, " ") || strings.Contains(c, "T") {
		t.Errorf("run created_at %q", c)
	}
	if c, _ := obj(gj["data"])["created_at"].(string); !strings.Contains(c, "T") {
		t.Errorf("job created_at %q", c)
	}
}

// The webhook the stand-in builds has the recorded payload's shape, and
// the client verifies and decodes it.
func TestWebhookShape(t *testing.T) {
	s := dbtcloudtest.New(t)
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci"})
	h := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitHubPR: 7, GitSHA: "abc1234def",
		Script: []dbtcloudtest.Phase{{Status: dbtcloud.StatusSuccess}}})
	body := s.Webhook(h.ID(), dbtcloud.EventRunCompleted)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := fixtureJSON(t, "dbt_cloud", "webhooks", "zulip_zulip", "job_run_completed_success.json")
	shape(t, "webhook", want, got, true)
	shape(t, "webhook.data", obj(want["data"]), obj(got["data"]), true)

	secret := []byte("whsec_standin")
	if err := dbtcloud.VerifyWebhook(secret, body, dbtcloud.SignWebhook(secret, body)); err != nil {
		t.Fatal(err)
	}
	w, err := dbtcloud.DecodeWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	if w.Data.RunID != h.ID() || w.Data.JobID != 22 || w.Data.RunStatusCode != dbtcloud.StatusSuccess || w.AccountID != 1 {
		t.Errorf("decoded %+v", w)
	}
	if h.Observations() != 0 {
		t.Error("building a webhook observed the run")
	}
}

func TestUnexpectedRequestsFail(t *testing.T) {
	tests := []struct {
		name, method, path, auth string
		status                   int
		want                     string
	}{
		{"unknown path", "GET", "/api/v2/accounts/1/projects/", "good", 404, "unexpected request GET /api/v2/accounts/1/projects/"},
		{"v4 API", "GET", "/api/v4/accounts/1/runs/", "good", 404, "unexpected request"},
		{"method", "POST", "/api/v2/accounts/1/runs/5/cancel/", "good", 404, "unexpected request POST"},
		{"write method", "DELETE", "/api/v2/accounts/1/jobs/22/", "good", 405, "unexpected method DELETE"},
		{"no auth", "GET", "/api/v2/accounts/1/", "", 401, "without Authorization"},
		{"wrong auth", "GET", "/api/v2/accounts/1/", "Token nope", 401, "wrong Authorization"},
		{"unknown param", "GET", "/api/v2/accounts/1/runs/?job_id=22", "good", 400, `unexpected query parameter "job_id"`},
		{"bad limit", "GET", "/api/v2/accounts/1/runs/?limit=500", "good", 400, "limit"},
		{"bad order", "GET", "/api/v2/accounts/1/runs/?order_by=status", "good", 400, "order_by"},
		{"bad related", "GET", `/api/v2/accounts/1/runs/?include_related=["jobs"]`, "good", 400, `unknown related object "jobs"`},
		{"bad status", "GET", "/api/v2/accounts/1/runs/?status__in=[1,4]", "good", 400, "4 is not a run status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &standin.Recorder{}
			s := dbtcloudtest.New(rec)
			defer s.Close()
			s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22})
			req, _ := http.NewRequest(tt.method, s.URL+tt.path, nil)
			switch tt.auth {
			case "good":
				req.Header.Set("Authorization", "Token "+s.Token())
			case "":
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			f := rec.All()
			if len(f) != 1 || !strings.Contains(f[0], tt.want) {
				t.Errorf("failures = %q, want one containing %q", f, tt.want)
			}
		})
	}
}

// A correct client's requests raise no failure, and Bearer is accepted as
// the docs say it is equivalent to Token.
func TestExpectedRequestsPass(t *testing.T) {
	rec := &standin.Recorder{}
	s := dbtcloudtest.New(rec)
	defer s.Close()
	s.AddJob(dbtcloudtest.Job{AccountID: 1, ID: 22, Type: "ci"})
	h := s.AddRun(dbtcloudtest.Run{AccountID: 1, JobID: 22, GitHubPR: 3, GitSHA: "0123456789",
		Artifacts: map[string][]byte{"manifest.json": []byte("{}")}})
	c := s.Client()
	ctx := context.Background()
	if _, err := c.GetAccount(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetJob(ctx, 1, 22); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRuns(ctx, 1, dbtcloud.RunFilter{JobDefinitionID: 22, PullRequestID: 3, StatusIn: []dbtcloud.RunStatus{10, 20},
		OrderBy: "-finished_at", Limit: 5, Offset: 5, IncludeRelated: []string{"trigger", "job"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetArtifact(ctx, 1, h.ID(), "manifest.json", io.Discard, dbtcloud.Step(1)); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v2/accounts/1/", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("Bearer: %d", resp.StatusCode)
	}
	if f := rec.All(); len(f) != 0 {
		t.Errorf("failures: %q", f)
	}
	eps := map[dbtcloudtest.Endpoint]int{}
	for _, r := range s.Requests() {
		eps[r.Endpoint]++
	}
	want := map[dbtcloudtest.Endpoint]int{dbtcloudtest.EndpointAccount: 2, dbtcloudtest.EndpointJob: 1,
		dbtcloudtest.EndpointListRuns: 1, dbtcloudtest.EndpointGetArtifact: 1}
	if diff := cmp.Diff(want, eps); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}
