package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// Message is implemented by every message type: where it is published and
// the Nats-Msg-Id that makes a redelivery or a replay harmless.
type Message interface {
	Subject() string
	MsgID() string
}

// Subjects. Every subject is under diffgate.>; the streams in
// shared/bus capture them.
const (
	SubjectPREventPrefix     = "diffgate.pr.event." // + provider
	SubjectDBTCloudEvent     = "diffgate.dbtcloud.event"
	SubjectRunRequested      = "diffgate.run.requested"
	SubjectRunCancelled      = "diffgate.run.cancelled"
	SubjectRunFailed         = "diffgate.run.failed"
	SubjectRunStatusPrefix   = "diffgate.run.status." // + provider
	SubjectRunReportPrefix   = "diffgate.run.report." // + provider
	SubjectCICompleted       = "diffgate.ci.completed"
	SubjectManifestsResolved = "diffgate.manifests.resolved"
	SubjectDiffPlanned       = "diffgate.diff.plan"
	SubjectDiffTaskPrefix    = "diffgate.diff.task." // + data source name
	SubjectDiffResult        = "diffgate.diff.result"
	SubjectDeadLetterPrefix  = "diffgate.deadletter." // + consumer name
)

// Headers set on every published message so that logs of every stage join.
const (
	HeaderMsgID      = "Nats-Msg-Id"
	HeaderRunID      = "Diffgate-Run-Id"
	HeaderDeliveryID = "Diffgate-Delivery-Id"
	HeaderRepo       = "Diffgate-Repo"
	HeaderPR         = "Diffgate-Pr"
	HeaderVersion    = "Diffgate-Version"
)

// KV buckets and the object store. Their settings live in shared/bus.
const (
	// BucketPRs: PRKey → PRHead. The current head of every PR; every stage
	// reads it to drop superseded work.
	BucketPRs = "diffgate_prs"
	// BucketRuns: run id → the reporter's fan-in state.
	BucketRuns = "diffgate_runs"
	// BucketCIWait: shared dbt Cloud polls and woken runs.
	BucketCIWait = "diffgate_ciwait"
	// BucketPublished: what an app has shown of each run (run id → the
	// publisher's record), so a late status never reopens a finished
	// check, plus short leases that keep two publisher processes from
	// writing to one pull request at once.
	BucketPublished = "diffgate_published"
	// BucketFailures: how many deliveries of a message ended in an error,
	// for consumers that also wait with RetryAfter (bus Consumer.MaxFailures),
	// whose delivery count mixes waits and failures.
	BucketFailures = "diffgate_failures"
	// ObjectStore holds manifests (by digest), plans, results and reports.
	ObjectStore = "diffgate_objects"
)

// PREvent is a webhook event normalised by an app: the thin webhook path
// publishes it and the app's gate consumer decides what it means.
type PREvent struct {
	Version    int       `json:"version"`
	Provider   Provider  `json:"provider"`
	DeliveryID string    `json:"delivery_id"`
	ReceivedAt time.Time `json:"received_at"`
	// Action, normalised: opened, synchronize, reopened, ready_for_review,
	// converted_to_draft, labeled, unlabeled, closed, rerun, edited.
	Action string   `json:"action"`
	Run    Run      `json:"run"` // HeadSHA/BaseSHA as of the event
	Draft  bool     `json:"draft"`
	Labels []string `json:"labels,omitempty"` // the PR's labels after the event
	Label  string   `json:"label,omitempty"`  // the label added or removed
	Merged bool     `json:"merged,omitempty"`
	Author string   `json:"author,omitempty"`
	// Fork is true when the head lives in another repository.
	Fork            bool  `json:"fork,omitempty"`
	SourceProjectID int64 `json:"source_project_id,omitempty"` // GitLab
	// RequestedBy and RequestedByID name who asked for a re-run with a
	// comment (GitLab's /diffgate run), whose access the gate checks.
	RequestedBy   string `json:"requested_by,omitempty"`
	RequestedByID int64  `json:"requested_by_id,omitempty"`
}

func (e PREvent) Subject() string { return SubjectPREventPrefix + string(e.Provider) }
func (e PREvent) MsgID() string   { return e.Provider.Prefix() + e.DeliveryID }

// RunSettled is false: the event's run is what the webhook saw, and the
// gate settles it (the base commit, a re-run's nonce), so the run's id is
// not known yet and the message carries no Diffgate-Run-Id.
func (PREvent) RunSettled() bool { return false }

// DBTCloudEvent is a verified dbt Cloud webhook (job.run.completed).
type DBTCloudEvent struct {
	Version    int       `json:"version"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	AccountID  int64     `json:"account_id"`
	JobID      int64     `json:"job_id"`
	RunID      int64     `json:"run_id"`
	StatusCode int       `json:"status_code"`
	ReceivedAt time.Time `json:"received_at"`
}

func (e DBTCloudEvent) Subject() string { return SubjectDBTCloudEvent }
func (e DBTCloudEvent) MsgID() string   { return "dbtc:" + e.EventID }

// RunRequested starts the pipeline for one run. Published by an app's gate
// after the PR passed the gates.
type RunRequested struct {
	Version     int       `json:"version"`
	Run         Run       `json:"run"`
	Integration string    `json:"integration"`
	Labels      []string  `json:"labels,omitempty"` // the PR's labels (diff-all-downstream)
	Trigger     string    `json:"trigger"`          // the PR action that started it
	DeliveryID  string    `json:"delivery_id,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

func (m RunRequested) Subject() string { return SubjectRunRequested }
func (m RunRequested) MsgID() string   { return m.Run.ID() }

// Stage names the pipeline stage a status or failure comes from.
type Stage string

const (
	StageGate      Stage = "gate"
	StageCIWait    Stage = "ciwait"
	StageManifests Stage = "manifests"
	StageImpact    Stage = "impact"
	StageDiff      Stage = "diff"
	StageReport    Stage = "report"
)

// RunStatus is progress, for the check run / commit status while a run is
// under way ("waiting for dbt Cloud run #123", "diffing 7/12").
type RunStatus struct {
	Version int       `json:"version"`
	Run     Run       `json:"run"`
	Stage   Stage     `json:"stage"`
	State   string    `json:"state"` // queued, waiting, running
	Message string    `json:"message"`
	Link    string    `json:"link,omitempty"` // e.g. the dbt Cloud run
	Done    int       `json:"done,omitempty"`
	Total   int       `json:"total,omitempty"`
	At      time.Time `json:"at"`
}

func (m RunStatus) Subject() string { return SubjectRunStatusPrefix + string(m.Run.Provider) }

// MsgID dedupes identical progress of one run; different progress gets a
// different id.
func (m RunStatus) MsgID() string {
	return m.Run.ID() + ":status:" + shortHash(string(m.Stage), m.State, m.Message, fmt.Sprint(m.Done, "/", m.Total))
}

// Cancellation reasons.
const (
	CancelSuperseded = "superseded"   // a newer head of the same PR
	CancelClosed     = "closed"       // the PR was closed or merged
	CancelCI         = "ci_cancelled" // the dbt Cloud CI run was cancelled
)

// RunCancelled ends a run as cancelled.
type RunCancelled struct {
	Version int    `json:"version"`
	Run     Run    `json:"run"`
	Reason  string `json:"reason"`
	// By is the head SHA that superseded the run, when Reason is superseded.
	By      string    `json:"by,omitempty"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

func (m RunCancelled) Subject() string { return SubjectRunCancelled }
func (m RunCancelled) MsgID() string   { return m.Run.ID() + ":cancelled" }

// Failure codes of RunFailed.
const (
	FailCIError      = "ci_error"      // the dbt Cloud CI run failed
	FailCITimeout    = "ci_timeout"    // no CI run finished in time
	FailNoManifest   = "no_manifest"   // a manifest could not be fetched
	FailConfig       = "config"        // the integration is misconfigured
	FailDBTCloud     = "dbt_cloud"     // the dbt Cloud API refused or failed
	FailHightouch    = "hightouch"     // the Hightouch API refused or failed
	FailInternal     = "internal"      // a stage failed for good (e.g. dead letter)
	FailManifestSize = "manifest_size" // a manifest is over the size limit
)

// RunFailed ends a run with an error a person can act on.
type RunFailed struct {
	Version int          `json:"version"`
	Run     Run          `json:"run"`
	Stage   Stage        `json:"stage"`
	Code    string       `json:"code"`
	Message string       `json:"message"`        // what happened
	Hint    string       `json:"hint,omitempty"` // what to do
	Link    string       `json:"link,omitempty"` // e.g. the failed dbt Cloud run
	CIRun   *DBTCloudRun `json:"ci_run,omitempty"`
	At      time.Time    `json:"at"`
}

func (m RunFailed) Subject() string { return SubjectRunFailed }
func (m RunFailed) MsgID() string   { return m.Run.ID() + ":failed" }

// CICompleted says the PR's dbt Cloud CI run succeeded.
type CICompleted struct {
	Version     int         `json:"version"`
	Run         Run         `json:"run"`
	Integration string      `json:"integration"`
	Labels      []string    `json:"labels,omitempty"`
	CIRun       DBTCloudRun `json:"ci_run"`
	At          time.Time   `json:"at"`
}

func (m CICompleted) Subject() string { return SubjectCICompleted }
func (m CICompleted) MsgID() string   { return m.Run.ID() + ":ci" }

// ObjectRef names an object in the object store.
type ObjectRef struct {
	Name   string `json:"name"`
	Digest string `json:"digest,omitempty"` // SHA-256=<base64url>, as the object store reports it
	Size   int64  `json:"size,omitempty"`
}

// ManifestsResolved says both manifests are in the object store.
type ManifestsResolved struct {
	Version      int         `json:"version"`
	Run          Run         `json:"run"`
	Integration  string      `json:"integration"`
	Labels       []string    `json:"labels,omitempty"`
	AccountName  string      `json:"account_name,omitempty"`
	CIRun        DBTCloudRun `json:"ci_run"`
	ProdRun      DBTCloudRun `json:"prod_run"`
	ProdChoice   string      `json:"prod_choice"` // why that production run was used
	PRManifest   ObjectRef   `json:"pr_manifest"`
	ProdManifest ObjectRef   `json:"prod_manifest"`
	At           time.Time   `json:"at"`
}

func (m ManifestsResolved) Subject() string { return SubjectManifestsResolved }
func (m ManifestsResolved) MsgID() string   { return m.Run.ID() + ":manifests" }

// DiffPlanned announces the plan of a run; the plan itself (events.Plan)
// is in the object store. Tasks is the number of DiffTasks published.
type DiffPlanned struct {
	Version     int       `json:"version"`
	Run         Run       `json:"run"`
	Integration string    `json:"integration"`
	Plan        ObjectRef `json:"plan"`
	Tasks       int       `json:"tasks"`
	At          time.Time `json:"at"`
}

func (m DiffPlanned) Subject() string { return SubjectDiffPlanned }
func (m DiffPlanned) MsgID() string   { return m.Run.ID() + ":plan" }

// DiffSide is one side of a diff: a relation or a query.
type DiffSide struct {
	Relation *Relation `json:"relation,omitempty"`
	Query    string    `json:"query,omitempty"`
}

// DiffTask asks a differ to diff one model.
type DiffTask struct {
	Version     int         `json:"version"`
	Run         Run         `json:"run"`
	Integration string      `json:"integration"`
	DataSource  string      `json:"data_source"`
	ModelID     string      `json:"model_id"`
	ModelName   string      `json:"model_name"`
	Kind        Kind        `json:"kind"`
	Prod        *DiffSide   `json:"prod,omitempty"` // nil: the model is new in the PR
	PR          DiffSide    `json:"pr"`
	Key         []string    `json:"key"`
	Options     DiffOptions `json:"options"`
}

func (m DiffTask) Subject() string { return SubjectDiffTaskPrefix + m.DataSource }
func (m DiffTask) MsgID() string   { return m.Run.ID() + ":task:" + shortHash(m.ModelID) }

// Error is a failure a person can act on.
type Error struct {
	Code    string `json:"code"` // permission_denied, relation_missing, timeout, bad_filter, internal, ...
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (e *Error) Error() string {
	if e.Hint != "" {
		return e.Message + ": " + e.Hint
	}
	return e.Message
}

// DiffResult is the outcome of one DiffTask. Errors are results too.
type DiffResult struct {
	Version   int    `json:"version"`
	Run       Run    `json:"run"`
	ModelID   string `json:"model_id"`
	ModelName string `json:"model_name"`
	// Result is the diff without its samples (nil on error); the full
	// result with samples is the object Full.
	Result *datadiff.Result `json:"result,omitempty"`
	Full   *ObjectRef       `json:"full,omitempty"`
	Error  *Error           `json:"error,omitempty"`
	At     time.Time        `json:"at"`
}

func (m DiffResult) Subject() string { return SubjectDiffResult }
func (m DiffResult) MsgID() string   { return m.Run.ID() + ":result:" + shortHash(m.ModelID) }

// Conclusion of a finished run, in GitHub's words; GitLab maps them.
type Conclusion string

const (
	ConclusionSuccess   Conclusion = "success"
	ConclusionFailure   Conclusion = "failure"
	ConclusionNeutral   Conclusion = "neutral"   // skipped by a gate
	ConclusionCancelled Conclusion = "cancelled" // superseded or closed
)

// RunReport is the end of every run. The full report (shared/report) is
// the object Report; Title and Summary are enough for a status line.
type RunReport struct {
	Version    int        `json:"version"`
	Run        Run        `json:"run"`
	Conclusion Conclusion `json:"conclusion"`
	Title      string     `json:"title"`
	Summary    string     `json:"summary"`
	Report     ObjectRef  `json:"report"`
	// Superseded is true for a run cancelled by a newer head: the app
	// closes its check but leaves the sticky comment to the newer run.
	Superseded bool      `json:"superseded,omitempty"`
	At         time.Time `json:"at"`
}

func (m RunReport) Subject() string { return SubjectRunReportPrefix + string(m.Run.Provider) }
func (m RunReport) MsgID() string   { return m.Run.ID() + ":report" }

// DeadLetter is published when a message exhausted its deliveries. It
// carries the original message so that the reporter can end the run it
// belongs to with an error report, and so an operator can replay it.
type DeadLetter struct {
	Version     int               `json:"version"`
	Stream      string            `json:"stream"`
	Consumer    string            `json:"consumer"`
	OrigSubject string            `json:"subject"`
	StreamSeq   uint64            `json:"stream_seq"`
	Deliveries  uint64            `json:"deliveries"`
	Error       string            `json:"error"`
	Headers     map[string]string `json:"headers,omitempty"`
	Data        json.RawMessage   `json:"data"`
	// Raw is the original body when it is not JSON (Data is then null),
	// kept byte for byte so that nothing is lost.
	Raw []byte    `json:"raw,omitempty"`
	At  time.Time `json:"at"`
}

func (m DeadLetter) Subject() string { return SubjectDeadLetterPrefix + m.Consumer }
func (m DeadLetter) MsgID() string {
	// The consumer is part of the id: two consumers can each give up on the
	// same stream message, and each dead letter must be kept.
	return fmt.Sprintf("dead:%s:%s:%d", m.Consumer, m.Stream, m.StreamSeq)
}

// PRHead is the value of a PR's entry in BucketPRs: its current run.
type PRHead struct {
	RunID  string `json:"run_id"`
	Run    Run    `json:"run"`
	Closed bool   `json:"closed,omitempty"`
	// Skipped is set when a gate skipped the head: its run ended with a
	// neutral report, so the next run of the same head gets a new id.
	Skipped bool `json:"skipped,omitempty"`
	// Supersedes is the run this entry replaced, kept so that a
	// redelivered event can publish that run's cancellation again.
	Supersedes *Run      `json:"supersedes,omitempty"`
	Seq        uint64    `json:"seq"` // stream sequence of the event that set it; older events never overwrite
	Updated    time.Time `json:"updated"`
}

// RunOf extracts the run identity from any message of this package that
// carries one (every pipeline message does). Used for dead letters.
func RunOf(data []byte) (*Run, error) {
	var probe struct {
		Run *Run `json:"run"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("events: decode run: %w", err)
	}
	if probe.Run == nil {
		return nil, fmt.Errorf("events: message carries no run")
	}
	return probe.Run, nil
}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Object names in ObjectStore. Manifests are shared between runs (keyed by
// content); everything else belongs to one run.
func ManifestObject(sha256hex string) string { return "manifests/" + sha256hex }

// PlanObject is where impact stores a run's Plan.
func PlanObject(runID string) string { return "plans/" + runID }

// ResultObject is where a differ stores one model's full datadiff.Result
// (with samples).
func ResultObject(runID, modelID string) string {
	return "results/" + runID + "/" + shortHash(modelID)
}

// ReportObject is where the reporter stores a run's report.Report.
func ReportObject(runID string) string { return "reports/" + runID }
