package dbtcloudtest

import (
	"fmt"
	"time"

	"github.com/diffgate/diffgate/shared/dbtcloud"
)

// The wire types below mirror dbt Cloud's JSON field for field (the same
// keys as the recorded responses, plus the newer job fields job_type,
// triggers.on_merge, triggers_on_draft_pr and deferring_environment_id).
// They are separate from the client's types on purpose: the stand-in must
// not agree with the client by construction.

// runTime is dbt Cloud's run timestamp form: a space, not a T.
func runTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02 15:04:05.000000+00:00")
	return &s
}

// jobTime is RFC 3339 with microseconds, as job objects carry.
func jobTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intOrNil(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

type wireAccount struct {
	DocsJobID                      *int64  `json:"docs_job_id"`
	FreshnessJobID                 *int64  `json:"freshness_job_id"`
	LockReason                     *string `json:"lock_reason"`
	UnlockIfSubscriptionRenewed    bool    `json:"unlock_if_subscription_renewed"`
	ReadOnlySeats                  int     `json:"read_only_seats"`
	ID                             int64   `json:"id"`
	Name                           string  `json:"name"`
	State                          int     `json:"state"`
	Plan                           string  `json:"plan"`
	PendingCancel                  bool    `json:"pending_cancel"`
	RunSlots                       int     `json:"run_slots"`
	DeveloperSeats                 int     `json:"developer_seats"`
	QueueLimit                     int     `json:"queue_limit"`
	PodMemoryRequestMebibytes      int     `json:"pod_memory_request_mebibytes"`
	RunDurationLimitSeconds        int     `json:"run_duration_limit_seconds"`
	EnterpriseAuthenticationMethod *string `json:"enterprise_authentication_method"`
	EnterpriseLoginSlug            *string `json:"enterprise_login_slug"`
	EnterpriseUniqueIdentifier     *string `json:"enterprise_unique_identifier"`
	BillingEmailAddress            *string `json:"billing_email_address"`
	Locked                         bool    `json:"locked"`
	DevelopFileSystem              bool    `json:"develop_file_system"`
	UnlockedAt                     *string `json:"unlocked_at"`
	CreatedAt                      string  `json:"created_at"`
	UpdatedAt                      string  `json:"updated_at"`
	StarterRepoURL                 *string `json:"starter_repo_url"`
	SSOReauth                      bool    `json:"sso_reauth"`
	GitAuthLevel                   string  `json:"git_auth_level"`
	Identifier                     string  `json:"identifier"`
	DocsJob                        any     `json:"docs_job"`
	FreshnessJob                   any     `json:"freshness_job"`
	EnterpriseLoginURL             string  `json:"enterprise_login_url"`
}

func (s *Server) accountJSON(id int64) wireAccount {
	a := s.accounts[id]
	created := time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC)
	return wireAccount{
		ReadOnlySeats: 10, ID: a.ID, Name: a.Name, State: 1, Plan: "enterprise", RunSlots: 5,
		DeveloperSeats: 10, QueueLimit: 50, PodMemoryRequestMebibytes: 600, RunDurationLimitSeconds: 86400,
		DevelopFileSystem: true, CreatedAt: jobTime(created), UpdatedAt: jobTime(created),
		GitAuthLevel: "team", Identifier: fmt.Sprintf("act%d", a.ID),
		EnterpriseLoginURL: s.URL + "/enterprise-login/None/",
	}
}

type wireTriggers struct {
	GithubWebhook      bool `json:"github_webhook"`
	GitProviderWebhook bool `json:"git_provider_webhook"`
	CustomBranchOnly   bool `json:"custom_branch_only"`
	Schedule           bool `json:"schedule"`
	OnMerge            bool `json:"on_merge"`
}

type wireJob struct {
	Execution struct {
		TimeoutSeconds int `json:"timeout_seconds"`
	} `json:"execution"`
	GenerateDocs             bool         `json:"generate_docs"`
	RunGenerateSources       bool         `json:"run_generate_sources"`
	ID                       int64        `json:"id"`
	AccountID                int64        `json:"account_id"`
	ProjectID                int64        `json:"project_id"`
	EnvironmentID            int64        `json:"environment_id"`
	Name                     string       `json:"name"`
	DBTVersion               *string      `json:"dbt_version"`
	CreatedAt                string       `json:"created_at"`
	UpdatedAt                string       `json:"updated_at"`
	ExecuteSteps             []string     `json:"execute_steps"`
	State                    int          `json:"state"`
	DeferringJobDefinitionID *int64       `json:"deferring_job_definition_id"`
	DeferringEnvironmentID   *int64       `json:"deferring_environment_id"`
	LifecycleWebhooks        bool         `json:"lifecycle_webhooks"`
	LifecycleWebhooksURL     *string      `json:"lifecycle_webhooks_url"`
	Triggers                 wireTriggers `json:"triggers"`
	TriggersOnDraftPR        bool         `json:"triggers_on_draft_pr"`
	JobType                  string       `json:"job_type"`
	Settings                 struct {
		Threads    int    `json:"threads"`
		TargetName string `json:"target_name"`
	} `json:"settings"`
	Schedule struct {
		Cron string `json:"cron"`
		Date struct {
			Type string `json:"type"`
		} `json:"date"`
		Time struct {
			Type     string `json:"type"`
			Interval int    `json:"interval"`
		} `json:"time"`
	} `json:"schedule"`
	IsDeferrable     bool    `json:"is_deferrable"`
	GenerateSources  bool    `json:"generate_sources"`
	CronHumanized    string  `json:"cron_humanized"`
	NextRun          *string `json:"next_run"`
	NextRunHumanized *string `json:"next_run_humanized"`
}

func (s *Server) jobJSON(j *Job) wireJob {
	created := time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC)
	w := wireJob{
		ID: j.ID, AccountID: j.AccountID, ProjectID: j.ProjectID, EnvironmentID: j.EnvironmentID,
		Name: j.Name, CreatedAt: jobTime(created), UpdatedAt: jobTime(created.Add(time.Hour)),
		ExecuteSteps: j.Steps, State: 1, JobType: j.Type,
		DeferringJobDefinitionID: intOrNil(j.DeferringJobID),
		CronHumanized:            "Every hour",
	}
	w.Settings.Threads, w.Settings.TargetName = 4, "default"
	w.Schedule.Cron, w.Schedule.Date.Type, w.Schedule.Time.Type, w.Schedule.Time.Interval = "0 * * * *", "every_day", "every_hour", 1
	switch j.Type {
	case dbtcloud.JobTypeCI:
		w.Triggers.GithubWebhook, w.Triggers.GitProviderWebhook = true, true
		w.IsDeferrable = j.DeferringJobID != 0
	case dbtcloud.JobTypeMerge:
		w.Triggers.OnMerge = true
	case dbtcloud.JobTypeScheduled:
		w.Triggers.Schedule = true
	}
	return w
}

type wireTrigger struct {
	ID                     int64    `json:"id"`
	Cause                  string   `json:"cause"`
	JobDefinitionID        int64    `json:"job_definition_id"`
	GitBranch              *string  `json:"git_branch"`
	GitSHA                 *string  `json:"git_sha"`
	AzurePullRequestID     *int64   `json:"azure_pull_request_id"`
	GithubPullRequestID    *int64   `json:"github_pull_request_id"`
	GitlabMergeRequestID   *int64   `json:"gitlab_merge_request_id"`
	SchemaOverride         *string  `json:"schema_override"`
	DBTVersionOverride     *string  `json:"dbt_version_override"`
	ThreadsOverride        *int     `json:"threads_override"`
	TargetNameOverride     *string  `json:"target_name_override"`
	GenerateDocsOverride   *bool    `json:"generate_docs_override"`
	TimeoutSecondsOverride *int     `json:"timeout_seconds_override"`
	StepsOverride          []string `json:"steps_override"`
	CreatedAt              *string  `json:"created_at"`
	CauseHumanized         string   `json:"cause_humanized"`
	Job                    any      `json:"job"`
}

type wireRun struct {
	ID                      int64        `json:"id"`
	TriggerID               int64        `json:"trigger_id"`
	AccountID               int64        `json:"account_id"`
	EnvironmentID           int64        `json:"environment_id"`
	ProjectID               int64        `json:"project_id"`
	JobDefinitionID         int64        `json:"job_definition_id"`
	Status                  int          `json:"status"`
	DBTVersion              string       `json:"dbt_version"`
	GitBranch               *string      `json:"git_branch"`
	GitSHA                  *string      `json:"git_sha"`
	StatusMessage           *string      `json:"status_message"`
	OwnerThreadID           *string      `json:"owner_thread_id"`
	ExecutedByThreadID      *string      `json:"executed_by_thread_id"`
	DeferringRunID          *int64       `json:"deferring_run_id"`
	ArtifactsSaved          bool         `json:"artifacts_saved"`
	ArtifactS3Path          *string      `json:"artifact_s3_path"`
	HasDocsGenerated        bool         `json:"has_docs_generated"`
	HasSourcesGenerated     bool         `json:"has_sources_generated"`
	NotificationsSent       bool         `json:"notifications_sent"`
	BlockedBy               []int64      `json:"blocked_by"`
	ScribeEnabled           bool         `json:"scribe_enabled"`
	CreatedAt               *string      `json:"created_at"`
	UpdatedAt               *string      `json:"updated_at"`
	DequeuedAt              *string      `json:"dequeued_at"`
	StartedAt               *string      `json:"started_at"`
	FinishedAt              *string      `json:"finished_at"`
	LastCheckedAt           *string      `json:"last_checked_at"`
	LastHeartbeatAt         *string      `json:"last_heartbeat_at"`
	ShouldStartAt           *string      `json:"should_start_at"`
	Trigger                 *wireTrigger `json:"trigger"`
	Job                     *wireJob     `json:"job"`
	Environment             any          `json:"environment"`
	RunSteps                []any        `json:"run_steps"`
	StatusHumanized         string       `json:"status_humanized"`
	InProgress              bool         `json:"in_progress"`
	IsComplete              bool         `json:"is_complete"`
	IsSuccess               bool         `json:"is_success"`
	IsError                 bool         `json:"is_error"`
	IsCancelled             bool         `json:"is_cancelled"`
	Href                    string       `json:"href"`
	Duration                string       `json:"duration"`
	QueuedDuration          string       `json:"queued_duration"`
	RunDuration             string       `json:"run_duration"`
	DurationHumanized       string       `json:"duration_humanized"`
	QueuedDurationHumanized string       `json:"queued_duration_humanized"`
	RunDurationHumanized    string       `json:"run_duration_humanized"`
	CreatedAtHumanized      string       `json:"created_at_humanized"`
	FinishedAtHumanized     string       `json:"finished_at_humanized"`
	JobID                   int64        `json:"job_id"`
}

func hms(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// runJSON renders a run as dbt Cloud does, showing status st. Called with
// s.mu held.
func (s *Server) runJSON(h *RunHandle, st dbtcloud.RunStatus, include map[string]bool) wireRun {
	r := h.run
	now := s.now()
	end := now
	if st.Done() && !h.finished.IsZero() {
		end = h.finished
	}
	queuedUntil := end
	if !h.started.IsZero() && st >= dbtcloud.StatusRunning {
		queuedUntil = h.started
	}
	w := wireRun{
		ID: r.ID, TriggerID: r.ID + 500000000, AccountID: r.AccountID, EnvironmentID: r.EnvironmentID,
		ProjectID: r.ProjectID, JobDefinitionID: r.JobID, Status: int(st), DBTVersion: "1.9.0",
		GitBranch: strOrNil(r.GitBranch), GitSHA: strOrNil(r.GitSHA), StatusMessage: strOrNil(r.StatusMessage),
		BlockedBy: []int64{}, ScribeEnabled: true, RunSteps: []any{},
		CreatedAt: runTime(h.created), UpdatedAt: runTime(now),
		StatusHumanized: st.String(), InProgress: st.InProgress(), IsComplete: st.Done(),
		IsSuccess: st == dbtcloud.StatusSuccess, IsError: st == dbtcloud.StatusError, IsCancelled: st == dbtcloud.StatusCancelled,
		Href:           fmt.Sprintf("%s/deploy/%d/projects/%d/runs/%d/", s.URL, r.AccountID, r.ProjectID, r.ID),
		Duration:       hms(end.Sub(h.created)),
		QueuedDuration: hms(queuedUntil.Sub(h.created)),
		JobID:          r.JobID,
	}
	if st >= dbtcloud.StatusRunning && !h.started.IsZero() {
		w.DequeuedAt, w.StartedAt = runTime(h.started), runTime(h.started)
		w.RunDuration = hms(end.Sub(h.started))
		w.ExecutedByThreadID = strOrNil(fmt.Sprintf("dbt-run-%d", r.ID))
	} else {
		w.RunDuration = "00:00:00"
	}
	if st.Done() {
		w.FinishedAt = runTime(h.finished)
		w.NotificationsSent = true
		if st != dbtcloud.StatusCancelled && len(r.Artifacts) > 0 {
			w.ArtifactsSaved = true
			w.ArtifactS3Path = strOrNil(fmt.Sprintf("prod/runs/%d/artifacts/target", r.ID))
		}
	}
	w.DurationHumanized = w.Duration
	w.QueuedDurationHumanized = w.QueuedDuration
	w.RunDurationHumanized = w.RunDuration
	w.CreatedAtHumanized = "just now"
	w.FinishedAtHumanized = "just now"
	j := s.jobs[[2]int64{r.AccountID, r.JobID}]
	if include["trigger"] {
		t := &wireTrigger{
			ID: w.TriggerID, Cause: r.Cause, JobDefinitionID: r.JobID,
			GitBranch: strOrNil(r.GitBranch), GitSHA: strOrNil(r.GitSHA),
			GithubPullRequestID: intOrNil(r.GitHubPR), GitlabMergeRequestID: intOrNil(r.GitLabMR),
			CreatedAt: runTime(h.created), CauseHumanized: r.Cause,
		}
		if pr := max(r.GitHubPR, r.GitLabMR); pr != 0 {
			t.SchemaOverride = strOrNil(fmt.Sprintf("dbt_cloud_pr_%d_%d", r.JobID, pr))
		}
		w.Trigger = t
	}
	if include["job"] && j != nil {
		jj := s.jobJSON(j)
		w.Job = &jj
	}
	return w
}
