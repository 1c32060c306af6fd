package dbtcloud_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/fixtures"
)

// Recorded dbt Cloud v2 responses decode with the client's types. The
// v4-shaped files (string ids, epoch times) are for a retired API and are
// deliberately not read.

type env[T any] struct {
	Data T `json:"data"`
}

func decodeFixture[T any](t *testing.T, dir, name string) T {
	t.Helper()
	var e env[T]
	if err := json.Unmarshal(fixtures.Read(t, "dbt_cloud", dir, name), &e); err != nil {
		t.Fatalf("%s/%s: %v", dir, name, err)
	}
	return e.Data
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestConformanceRuns(t *testing.T) {
	tests := []struct {
		dir, file string
		want      dbtcloud.Run
		pr        int64
	}{
		{"data-mie_dbt-cloud-cli", "run_get_response.json", dbtcloud.Run{ID: 36053848, AccountID: 123456, ProjectID: 123457,
			JobDefinitionID: 43167, Status: dbtcloud.StatusSuccess, GitSHA: "981c5cf1ba299e942c6c277c38c8dec9b0738dd0",
			FinishedAt: dbtcloud.Time{Time: ts("2021-12-07T10:34:14.435474Z")}}, 0},
		{"data-mie_dbt-cloud-cli", "job_run_response.json", dbtcloud.Run{ID: 34929305, AccountID: 123456, ProjectID: 123457,
			JobDefinitionID: 43167, Status: dbtcloud.StatusSuccess, GitSHA: "981c5cf1ba299e942c6c277c38c8dec9b0738dd0",
			FinishedAt: dbtcloud.Time{Time: ts("2021-11-26T16:49:32.996703Z")}}, 0},
		{"data-mie_dbt-cloud-cli", "run_cancel_response.json", dbtcloud.Run{ID: 36053848, AccountID: 123456, ProjectID: 123457,
			JobDefinitionID: 37119, Status: dbtcloud.StatusCancelled,
			FinishedAt: dbtcloud.Time{Time: ts("2022-03-14T09:58:22.867735Z")}}, 0},
		{"dagster-io_dagster", "run_get_response.json", dbtcloud.Run{ID: 5000000, AccountID: 30000, ProjectID: 50000,
			JobDefinitionID: 40000, Status: dbtcloud.StatusSuccess, GitSHA: "a32e8239326887421f1314ee0890e5174c8f644a",
			FinishedAt: dbtcloud.Time{Time: ts("2021-11-01T22:48:44.684263Z")}}, 0},
		{"dagster-io_dagster", "run_get_response_include_trigger_job.json", dbtcloud.Run{ID: 5000000, AccountID: 30000, ProjectID: 50000,
			JobDefinitionID: 40000, Status: dbtcloud.StatusSuccess, GitSHA: "a32e8239326887421f1314ee0890e5174c8f644a",
			FinishedAt: dbtcloud.Time{Time: ts("2021-11-01T22:48:44.684263Z")}}, 0},
		{"unknown_repo_harness_mock", "job_trigger_run_response_queued.json", dbtcloud.Run{ID: 50019884, AccountID: 43180, ProjectID: 81381,
			JobDefinitionID: 67922, Status: dbtcloud.StatusQueued}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.dir+"/"+tt.file, func(t *testing.T) {
			r := decodeFixture[dbtcloud.Run](t, tt.dir, tt.file)
			got := dbtcloud.Run{ID: r.ID, AccountID: r.AccountID, ProjectID: r.ProjectID, JobDefinitionID: r.JobDefinitionID,
				Status: r.Status, GitSHA: r.GitSHA, FinishedAt: r.FinishedAt}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("run (-want +got):\n%s", diff)
			}
			if r.CreatedAt.IsZero() {
				t.Error("created_at not decoded")
			}
			if r.StatusHumanized != r.Status.String() {
				t.Errorf("status_humanized %q, String() %q", r.StatusHumanized, r.Status.String())
			}
			if r.PullRequest() != tt.pr {
				t.Errorf("PullRequest() = %d, want %d", r.PullRequest(), tt.pr)
			}
		})
	}
}

func TestConformanceRunRelated(t *testing.T) {
	r := decodeFixture[dbtcloud.Run](t, "dagster-io_dagster", "run_get_response_include_trigger_job.json")
	if r.Trigger == nil || r.Trigger.Cause != "Triggered via Dagster" || r.Trigger.ID != 33149624 {
		t.Fatalf("trigger = %+v", r.Trigger)
	}
	if r.Job == nil || r.Job.Name != "MyCoolJob" || r.Job.IsCI() {
		t.Fatalf("job = %+v", r.Job)
	}
	// Job timestamps are RFC 3339 while run timestamps have a space.
	if want := ts("2021-10-29T21:35:33.278228Z"); !r.Job.CreatedAt.Equal(want) {
		t.Errorf("job created_at = %v, want %v", r.Job.CreatedAt, want)
	}
	h := decodeFixture[dbtcloud.Run](t, "unknown_repo_harness_mock", "job_trigger_run_response_queued.json")
	if h.Trigger == nil || h.Trigger.GitBranch != "env/staging" || h.Trigger.PullRequest() != 0 {
		t.Fatalf("trigger = %+v", h.Trigger)
	}
	if want := ts("2022-03-15T10:17:35.755212Z"); h.Job == nil || !h.Job.CreatedAt.Equal(want) {
		t.Fatalf("job = %+v", h.Job)
	}
	if !h.Status.InProgress() || h.Status.Done() {
		t.Errorf("queued run: InProgress %v Done %v", h.Status.InProgress(), h.Status.Done())
	}
}

func TestConformanceJobsAccounts(t *testing.T) {
	for _, f := range [][2]string{{"data-mie_dbt-cloud-cli", "job_get_response.json"}, {"dagster-io_dagster", "job_get_response.json"}} {
		j := decodeFixture[dbtcloud.Job](t, f[0], f[1])
		if j.ID == 0 || j.AccountID == 0 || j.Name == "" || j.CreatedAt.IsZero() || len(j.ExecuteSteps) == 0 {
			t.Errorf("%s: job = %+v", f, j)
		}
		if j.IsCI() {
			t.Errorf("%s: a job without webhook triggers is not a CI job", f)
		}
	}
	for _, f := range []string{"job_list_response.json"} {
		js := decodeFixture[[]dbtcloud.Job](t, "data-mie_dbt-cloud-cli", f)
		if len(js) == 0 || js[0].ID == 0 || js[0].Name == "" {
			t.Errorf("%s: jobs = %+v", f, js)
		}
	}
	for _, f := range []string{"job_create_response.json", "job_delete_response.json"} {
		if j := decodeFixture[dbtcloud.Job](t, "data-mie_dbt-cloud-cli", f); j.ID == 0 {
			t.Errorf("%s: job = %+v", f, j)
		}
	}
	a := decodeFixture[dbtcloud.Account](t, "data-mie_dbt-cloud-cli", "account_get_response.json")
	if a.ID != 123456 || a.Name != "REDACTED" || a.CreatedAt.IsZero() {
		t.Errorf("account = %+v", a)
	}
	as := decodeFixture[[]dbtcloud.Account](t, "data-mie_dbt-cloud-cli", "account_list_response.json")
	if len(as) != 1 || as[0].Name != "Jaffle Shop" {
		t.Errorf("accounts = %+v", as)
	}
	for _, f := range [][2]string{{"data-mie_dbt-cloud-cli", "run_list_artifacts_response.json"}, {"dagster-io_dagster", "run_list_artifacts_response.json"}} {
		paths := decodeFixture[[]string](t, f[0], f[1])
		found := false
		for _, p := range paths {
			found = found || p == "manifest.json"
		}
		if !found {
			t.Errorf("%s: manifest.json not listed in %v", f, paths)
		}
	}
}

func TestConformanceWebhooks(t *testing.T) {
	tests := []struct {
		file      string
		eventType string
		status    dbtcloud.RunStatus
		projectID int64
	}{
		{"dbt-labs_docs.getdbt.com/job_run_completed.json", dbtcloud.EventRunCompleted, dbtcloud.StatusSuccess, 0},
		{"dbt-labs_docs.getdbt.com/job_run_errored.json", dbtcloud.EventRunErrored, dbtcloud.StatusError, 0},
		{"dbt-labs_docs.getdbt.com/job_run_started.json", dbtcloud.EventRunStarted, dbtcloud.StatusRunning, 0},
		{"zulip_zulip/job_run_completed_success.json", dbtcloud.EventRunCompleted, dbtcloud.StatusSuccess, 167194},
		{"zulip_zulip/job_run_completed_errored.json", dbtcloud.EventRunCompleted, dbtcloud.StatusError, 167194},
		{"zulip_zulip/job_run_completed_but_errored.json", dbtcloud.EventRunCompleted, dbtcloud.StatusError, 167194},
	}
	dir := fixtures.Dir(t, "dbt_cloud", "webhooks")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			w, err := dbtcloud.DecodeWebhook(body)
			if err != nil {
				t.Fatal(err)
			}
			if w.EventType != tt.eventType || w.AccountID != 1 || w.Data.JobID != 123 || w.Data.RunID != 12345 ||
				w.Data.RunStatusCode != tt.status || w.Data.ProjectID != tt.projectID || w.Data.RunStartedAt.IsZero() {
				t.Errorf("decoded %+v", w)
			}
			ev := w.ToEvent(time.Unix(0, 0))
			if ev.EventID == "" || ev.RunID != 12345 || ev.JobID != 123 || ev.StatusCode != int(tt.status) {
				t.Errorf("event %+v", ev)
			}
		})
	}
}
