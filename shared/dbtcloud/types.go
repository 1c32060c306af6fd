package dbtcloud

import "strings"

// Account is the part of a dbt Cloud account diffgate uses.
type Account struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	State      int    `json:"state"` // 1 active, 2 deleted
	Plan       string `json:"plan"`
	Identifier string `json:"identifier"`
	CreatedAt  Time   `json:"created_at"`
	UpdatedAt  Time   `json:"updated_at"`
}

// Job types dbt Cloud reports in job_type.
const (
	JobTypeCI        = "ci"
	JobTypeMerge     = "merge"
	JobTypeScheduled = "scheduled"
	JobTypeOther     = "other"
)

// Job is a dbt Cloud job definition.
type Job struct {
	ID                       int64    `json:"id"`
	AccountID                int64    `json:"account_id"`
	ProjectID                int64    `json:"project_id"`
	EnvironmentID            int64    `json:"environment_id"`
	Name                     string   `json:"name"`
	State                    int      `json:"state"` // 1 active, 2 deleted
	JobType                  string   `json:"job_type"`
	Triggers                 Triggers `json:"triggers"`
	TriggersOnDraftPR        bool     `json:"triggers_on_draft_pr"`
	ExecuteSteps             []string `json:"execute_steps"`
	GenerateDocs             bool     `json:"generate_docs"`
	DeferringJobDefinitionID *int64   `json:"deferring_job_definition_id"`
	DeferringEnvironmentID   *int64   `json:"deferring_environment_id"`
	Settings                 struct {
		Threads    int    `json:"threads"`
		TargetName string `json:"target_name"`
	} `json:"settings"`
	CreatedAt Time `json:"created_at"`
	UpdatedAt Time `json:"updated_at"`
}

// Triggers say what starts a job.
type Triggers struct {
	GithubWebhook      bool `json:"github_webhook"`
	GitProviderWebhook bool `json:"git_provider_webhook"`
	Schedule           bool `json:"schedule"`
	OnMerge            bool `json:"on_merge"`
	CustomBranchOnly   bool `json:"custom_branch_only"`
}

// IsCI reports whether the job runs on pull requests: job_type "ci", or,
// on accounts that do not report job_type, a git provider webhook trigger.
func (j *Job) IsCI() bool {
	if j.JobType != "" {
		return j.JobType == JobTypeCI
	}
	return j.Triggers.GithubWebhook || j.Triggers.GitProviderWebhook
}

// Active reports whether the job is not deleted.
func (j *Job) Active() bool { return j.State == 0 || j.State == 1 }

// Run is a dbt Cloud run (API v2).
type Run struct {
	ID              int64     `json:"id"`
	TriggerID       int64     `json:"trigger_id"`
	AccountID       int64     `json:"account_id"`
	ProjectID       int64     `json:"project_id"`
	EnvironmentID   int64     `json:"environment_id"`
	JobDefinitionID int64     `json:"job_definition_id"`
	Status          RunStatus `json:"status"`
	StatusHumanized string    `json:"status_humanized"`
	StatusMessage   string    `json:"status_message"`
	DBTVersion      string    `json:"dbt_version"`
	GitBranch       string    `json:"git_branch"`
	GitSHA          string    `json:"git_sha"`
	// Href is the run's page in dbt Cloud; redacted or empty in some
	// payloads, so prefer Client.RunURL.
	Href             string `json:"href"`
	ArtifactsSaved   bool   `json:"artifacts_saved"`
	HasDocsGenerated bool   `json:"has_docs_generated"`
	InProgress       bool   `json:"in_progress"`
	IsComplete       bool   `json:"is_complete"`
	IsSuccess        bool   `json:"is_success"`
	IsError          bool   `json:"is_error"`
	IsCancelled      bool   `json:"is_cancelled"`
	Duration         string `json:"duration"` // HH:MM:SS
	CreatedAt        Time   `json:"created_at"`
	UpdatedAt        Time   `json:"updated_at"`
	DequeuedAt       Time   `json:"dequeued_at"`
	StartedAt        Time   `json:"started_at"`
	FinishedAt       Time   `json:"finished_at"`
	// Trigger and Job are present only when asked for with include_related.
	Trigger *Trigger `json:"trigger"`
	Job     *Job     `json:"job"`
}

// Trigger says why a run started; for CI runs it carries the pull request.
type Trigger struct {
	ID                     int64  `json:"id"`
	Cause                  string `json:"cause"`
	CauseCategory          string `json:"cause_category"`
	JobDefinitionID        int64  `json:"job_definition_id"`
	GitBranch              string `json:"git_branch"`
	GitSHA                 string `json:"git_sha"`
	GithubPullRequestID    int64  `json:"github_pull_request_id"`
	GitlabMergeRequestID   int64  `json:"gitlab_merge_request_id"`
	AzurePullRequestID     int64  `json:"azure_pull_request_id"`
	NonNativePullRequestID int64  `json:"non_native_pull_request_id"`
	SchemaOverride         string `json:"schema_override"`
	CreatedAt              Time   `json:"created_at"`
}

// PullRequest returns the pull request (GitHub) or merge request IID
// (GitLab, Azure DevOps, other) that triggered the run, or 0.
func (t *Trigger) PullRequest() int64 {
	if t == nil {
		return 0
	}
	for _, id := range []int64{t.GithubPullRequestID, t.GitlabMergeRequestID, t.AzurePullRequestID, t.NonNativePullRequestID} {
		if id != 0 {
			return id
		}
	}
	return 0
}

// PullRequest is the run's pull request number, 0 when the run was not
// triggered by one or the trigger was not included.
func (r *Run) PullRequest() int64 { return r.Trigger.PullRequest() }

// SHA is the commit the run built: the run's git_sha, else the trigger's.
func (r *Run) SHA() string {
	if r.GitSHA != "" {
		return r.GitSHA
	}
	if r.Trigger != nil {
		return r.Trigger.GitSHA
	}
	return ""
}

// SameSHA reports whether two commit SHAs name the same commit: equal
// ignoring case, or one a prefix (of at least 7 characters) of the other.
func SameSHA(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if len(a) > len(b) {
		a, b = b, a
	}
	if a == "" || (len(a) < 7 && a != b) {
		return false
	}
	return strings.HasPrefix(b, a)
}

// envelope is dbt Cloud's response wrapper.
type envelope[T any] struct {
	Status struct {
		Code             int    `json:"code"`
		IsSuccess        bool   `json:"is_success"`
		UserMessage      string `json:"user_message"`
		DeveloperMessage string `json:"developer_message"`
	} `json:"status"`
	Data  T `json:"data"`
	Extra struct {
		Pagination *struct {
			Count      int `json:"count"`
			TotalCount int `json:"total_count"`
		} `json:"pagination"`
	} `json:"extra"`
}
