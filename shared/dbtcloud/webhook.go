package dbtcloud

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/events"
)

// Webhook event types.
const (
	EventRunStarted   = "job.run.started"
	EventRunCompleted = "job.run.completed"
	EventRunErrored   = "job.run.errored"
)

// Webhook errors.
var (
	// ErrBadSignature: the Authorization header is not the HMAC of the body.
	ErrBadSignature = errors.New("dbt Cloud webhook signature does not match")
	// ErrNoWebhookSecret: no secret is configured, so nothing can verify.
	ErrNoWebhookSecret = errors.New("no dbt Cloud webhook secret configured")
	// ErrBadWebhook: the body is not a dbt Cloud webhook payload.
	ErrBadWebhook = errors.New("invalid dbt Cloud webhook payload")
)

// VerifyWebhook checks a dbt Cloud webhook: the Authorization header must
// be the hex HMAC-SHA256 of the raw body keyed with the webhook's secret
// (no "sha256=" prefix). The comparison takes constant time.
func VerifyWebhook(secret, body []byte, authorizationHeader string) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: set dbt_cloud.webhook_secret to the webhook's secret token", ErrNoWebhookSecret)
	}
	got, err := hex.DecodeString(strings.TrimSpace(authorizationHeader))
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: the Authorization header is not a hex SHA-256 HMAC", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: check that dbt_cloud.webhook_secret is the secret of this webhook", ErrBadSignature)
	}
	return nil
}

// SignWebhook returns the Authorization value dbt Cloud sends for body.
func SignWebhook(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Webhook is a dbt Cloud webhook payload.
type Webhook struct {
	AccountID   int64       `json:"accountId"`
	WebhookID   string      `json:"webhookId"`
	EventID     string      `json:"eventId"`
	Timestamp   time.Time   `json:"timestamp"`
	EventType   string      `json:"eventType"`
	WebhookName string      `json:"webhookName"`
	Data        WebhookData `json:"data"`
}

// WebhookData is the run a webhook is about. dbt Cloud sends its ids as
// strings; they are decoded to numbers.
type WebhookData struct {
	JobID            int64     `json:"jobId"`
	JobName          string    `json:"jobName"`
	RunID            int64     `json:"runId"`
	EnvironmentID    int64     `json:"environmentId"`
	EnvironmentName  string    `json:"environmentName"`
	ProjectID        int64     `json:"projectId"`
	ProjectName      string    `json:"projectName"`
	DBTVersion       string    `json:"dbtVersion"`
	RunStatus        string    `json:"runStatus"`
	RunStatusCode    RunStatus `json:"runStatusCode"`
	RunStatusMessage string    `json:"runStatusMessage"`
	RunReason        string    `json:"runReason"`
	RunStartedAt     time.Time `json:"runStartedAt"`
	RunFinishedAt    time.Time `json:"runFinishedAt"`
	RunErroredAt     time.Time `json:"runErroredAt"`
}

// UnmarshalJSON accepts ids as strings (as dbt Cloud sends them) or numbers.
func (d *WebhookData) UnmarshalJSON(b []byte) error {
	type plain WebhookData
	var aux struct {
		plain
		JobID         flexInt `json:"jobId"`
		RunID         flexInt `json:"runId"`
		EnvironmentID flexInt `json:"environmentId"`
		ProjectID     flexInt `json:"projectId"`
		RunStartedAt  Time    `json:"runStartedAt"`
		RunFinishedAt Time    `json:"runFinishedAt"`
		RunErroredAt  Time    `json:"runErroredAt"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*d = WebhookData(aux.plain)
	d.JobID, d.RunID = int64(aux.JobID), int64(aux.RunID)
	d.EnvironmentID, d.ProjectID = int64(aux.EnvironmentID), int64(aux.ProjectID)
	d.RunStartedAt, d.RunFinishedAt, d.RunErroredAt = aux.RunStartedAt.Time, aux.RunFinishedAt.Time, aux.RunErroredAt.Time
	return nil
}

// DecodeWebhook parses a webhook body. Payloads from before runStatusCode
// get the code from runStatus.
func DecodeWebhook(body []byte) (*Webhook, error) {
	var w Webhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadWebhook, err)
	}
	if w.EventType == "" || w.Data.RunID == 0 || w.Data.JobID == 0 {
		return nil, fmt.Errorf("%w: eventType, data.jobId and data.runId are required", ErrBadWebhook)
	}
	if w.Data.RunStatusCode == 0 {
		w.Data.RunStatusCode = statusFromText(w.Data.RunStatus)
		if w.Data.RunStatusCode == 0 && w.EventType == EventRunErrored {
			w.Data.RunStatusCode = StatusError
		}
	}
	return &w, nil
}

// ToEvent converts the webhook for the bus. The event id falls back to the
// run and event type when the payload has none, so redelivery stays harmless.
func (w *Webhook) ToEvent(received time.Time) events.DBTCloudEvent {
	id := w.EventID
	if id == "" {
		id = fmt.Sprintf("%d:%d:%s", w.AccountID, w.Data.RunID, w.EventType)
	}
	return events.DBTCloudEvent{
		Version:    events.Version,
		EventID:    id,
		EventType:  w.EventType,
		AccountID:  w.AccountID,
		JobID:      w.Data.JobID,
		RunID:      w.Data.RunID,
		StatusCode: int(w.Data.RunStatusCode),
		ReceivedAt: received,
	}
}

// flexInt decodes a number or a string holding one; null and "" are 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("id %s is not an integer", b)
	}
	*f = flexInt(n)
	return nil
}
