package dbtcloud_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/fixtures"
)

func TestVerifyWebhook(t *testing.T) {
	secret := []byte("whsec_0123456789abcdef")
	body := fixtures.Read(t, "dbt_cloud", "webhooks", "zulip_zulip", "job_run_completed_success.json")
	// Computed independently of SignWebhook.
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	good := hex.EncodeToString(mac.Sum(nil))

	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   error
	}{
		{"good", secret, body, good, nil},
		{"good upper-case hex", secret, body, strings.ToUpper(good), nil},
		{"good with spaces", secret, body, " " + good + "\n", nil},
		{"body changed", secret, append([]byte(" "), body...), good, dbtcloud.ErrBadSignature},
		{"other secret", []byte("whsec_other"), body, good, dbtcloud.ErrBadSignature},
		{"sha256= prefix", secret, body, "sha256=" + good, dbtcloud.ErrBadSignature},
		{"empty header", secret, body, "", dbtcloud.ErrBadSignature},
		{"truncated", secret, body, good[:40], dbtcloud.ErrBadSignature},
		{"no secret configured", nil, body, good, dbtcloud.ErrNoWebhookSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dbtcloud.VerifyWebhook(tt.secret, tt.body, tt.header)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), string(secret)) {
				t.Errorf("error contains the secret: %v", err)
			}
		})
	}
	if got := dbtcloud.SignWebhook(secret, body); got != good {
		t.Errorf("SignWebhook = %s, want %s", got, good)
	}
}

func TestDecodeWebhookRejectsGarbage(t *testing.T) {
	for _, body := range []string{``, `[]`, `{"eventType":"job.run.completed","data":{"jobId":"x","runId":"1"}}`,
		`{"eventType":"job.run.completed","data":{}}`} {
		if _, err := dbtcloud.DecodeWebhook([]byte(body)); !errors.Is(err, dbtcloud.ErrBadWebhook) {
			t.Errorf("%q: err = %v, want ErrBadWebhook", body, err)
		}
	}
	// Numbers where strings are expected are accepted too.
	w, err := dbtcloud.DecodeWebhook([]byte(`{"accountId":1,"eventId":"e","eventType":"job.run.completed",
		"data":{"jobId":22,"runId":5,"runStatus":"Cancelled"}}`))
	if err != nil || w.Data.JobID != 22 || w.Data.RunStatusCode != dbtcloud.StatusCancelled {
		t.Errorf("numeric ids: %+v %v", w, err)
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2021, 12, 7, 10, 34, 14, 435474000, time.UTC)
	for _, s := range []string{"2021-12-07 10:34:14.435474+00:00", "2021-12-07T10:34:14.435474Z",
		"2021-12-07T10:34:14.435474+00:00", "2021-12-07T11:34:14.435474+01:00", "2021-12-07 10:34:14.435474"} {
		got, err := dbtcloud.ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := dbtcloud.ParseTime("07/12/2021"); err == nil {
		t.Error("bad format accepted")
	}
	var tm dbtcloud.Time
	for _, b := range []string{`null`, `""`} {
		if err := tm.UnmarshalJSON([]byte(b)); err != nil || !tm.IsZero() {
			t.Errorf("%s: %v %v", b, tm, err)
		}
	}
}

func TestStatusHelpers(t *testing.T) {
	for _, tt := range []struct {
		s                       dbtcloud.RunStatus
		done, inProgress, valid bool
		text                    string
	}{
		{dbtcloud.StatusQueued, false, true, true, "Queued"},
		{dbtcloud.StatusStarting, false, true, true, "Starting"},
		{dbtcloud.StatusRunning, false, true, true, "Running"},
		{dbtcloud.StatusSuccess, true, false, true, "Success"},
		{dbtcloud.StatusError, true, false, true, "Error"},
		{dbtcloud.StatusCancelled, true, false, true, "Cancelled"},
		{4, false, false, false, "Unknown (4)"},
	} {
		if tt.s.Done() != tt.done || tt.s.InProgress() != tt.inProgress || tt.s.Valid() != tt.valid || tt.s.String() != tt.text {
			t.Errorf("%d: done %v inProgress %v valid %v text %q", tt.s, tt.s.Done(), tt.s.InProgress(), tt.s.Valid(), tt.s.String())
		}
	}
}
