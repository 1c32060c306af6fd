package ciwait_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/testenv"
	"github.com/diffgate/diffgate/workers/ciwait"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

func post(t *testing.T, url string, body []byte, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+ciwait.HookPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestADBTCloudWebhookWakesTheWaitingRun(t *testing.T) {
	// Polls are an hour apart: only the webhook can end this wait.
	w := newWorld(t, time.Hour, 2*time.Hour)
	w.logs = &testenv.Buffer{}
	ci := w.ciRun(60, workertest.SHA(60), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning})
	other := w.ciRun(61, workertest.SHA(61), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning})
	wk := w.start()
	srv := httptest.NewServer(wk.mux)
	t.Cleanup(srv.Close)
	req := w.request(60, workertest.SHA(60), time.Now())
	otherReq := w.request(61, workertest.SHA(61), time.Now())
	bustest.WaitFor(t, wait, func() error {
		for _, r := range []events.RunRequested{req, otherReq} {
			if len(statuses(t, w.bus, r.Run)) == 0 {
				return errNotYet
			}
		}
		return nil
	})
	if n := w.dbt.ListRunsCount(ciJob); n != 1 {
		t.Fatalf("%d list-runs requests before the webhook, want the first poll only", n)
	}

	ci.SetStatus(dbtcloud.StatusSuccess)
	body := w.dbt.Webhook(ci.ID(), dbtcloud.EventRunCompleted)
	for _, auth := range []string{"", dbtcloud.SignWebhook([]byte("not-the-secret"), body), "sha256=" + dbtcloud.SignWebhook([]byte(hookSecret), body)} {
		code, text := post(t, srv.URL, body, auth)
		if code != http.StatusUnauthorized || strings.Contains(text, hookSecret) {
			t.Errorf("Authorization %q: %d %q, want 401 without the secret", auth, code, text)
		}
	}
	// A valid signature over another body is refused too.
	code, _ := post(t, srv.URL, bytes.Replace(body, []byte(fmt.Sprint(ci.ID())), []byte(fmt.Sprint(other.ID())), -1), dbtcloud.SignWebhook([]byte(hookSecret), body))
	if code != http.StatusUnauthorized {
		t.Errorf("tampered body: %d, want 401", code)
	}
	if got := bustest.Stored[events.DBTCloudEvent](t, w.bus, events.SubjectDBTCloudEvent); len(got) != 0 {
		t.Fatalf("refused webhooks stored %d events", len(got))
	}
	if o := outcomes(t, w.bus, req.Run); o.count() != 0 {
		t.Fatalf("a refused webhook ended the run: %+v", o)
	}

	for range 2 { // dbt Cloud retries a delivery it thinks failed
		if code, text := post(t, srv.URL, body, dbtcloud.SignWebhook([]byte(hookSecret), body)); code != http.StatusOK {
			t.Fatalf("signed webhook: %d %q, want 200", code, text)
		}
	}
	o := ended(t, w.bus, req.Run)
	if len(o.completed) != 1 || o.completed[0].CIRun.RunID != ci.ID() || o.count() != 1 {
		t.Fatalf("outcome %+v, want CICompleted for run #%d", o, ci.ID())
	}
	if got := bustest.Stored[events.DBTCloudEvent](t, w.bus, events.SubjectDBTCloudEvent); len(got) != 1 {
		t.Errorf("%d dbt Cloud events stored, want 1 (the retry is the same event)", len(got))
	}
	if n := w.dbt.ListRunsCount(ciJob); n != 1 {
		t.Errorf("%d list-runs requests, want still 1: the webhook, not a poll, ended the wait", n)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "webhook refused") || strings.Contains(logs, hookSecret) || strings.Contains(logs, dbtcloud.SignWebhook([]byte(hookSecret), body)) {
		t.Errorf("the logs should say that webhooks were refused, and show neither the secret nor a valid signature:\n%s", logs)
	}
	// The other PR's run is not woken by this webhook.
	if o := outcomes(t, w.bus, otherReq.Run); o.count() != 0 {
		t.Errorf("another PR's run ended: %+v", o)
	}
}

func TestAWaitEndedByAWebhookIsNotEndedAgainByThePoll(t *testing.T) {
	w := newWorld(t, time.Second, time.Hour)
	ci := w.ciRun(62, workertest.SHA(62), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning})
	wk := w.start()
	srv := httptest.NewServer(wk.mux)
	t.Cleanup(srv.Close)
	req := w.request(62, workertest.SHA(62), time.Now())
	bustest.WaitFor(t, wait, func() error {
		if len(statuses(t, w.bus, req.Run)) == 0 {
			return errNotYet
		}
		return nil
	})
	ci.SetStatus(dbtcloud.StatusError)
	body := w.dbt.Webhook(ci.ID(), dbtcloud.EventRunErrored)
	if code, text := post(t, srv.URL, body, dbtcloud.SignWebhook([]byte(hookSecret), body)); code != http.StatusOK {
		t.Fatalf("signed webhook: %d %q", code, text)
	}
	ended(t, w.bus, req.Run)
	// The waiting message comes back at the next poll and is acknowledged.
	bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
	if o := outcomes(t, w.bus, req.Run); len(o.failed) != 1 || o.count() != 1 || o.failed[0].Code != events.FailCIError {
		t.Errorf("outcome %+v, want one ci_error failure", o)
	}
}

func TestAWebhookThatCannotBeStoredAsksDBTCloudToRetry(t *testing.T) {
	w := newWorld(t, time.Hour, 2*time.Hour)
	ci := w.ciRun(63, workertest.SHA(63), dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})
	srv := httptest.NewServer(w.handler())
	t.Cleanup(srv.Close)
	body := w.dbt.Webhook(ci.ID(), dbtcloud.EventRunCompleted)
	// The events stream is gone (NATS lost it): the publish fails.
	if err := w.bus.JetStream().DeleteStream(bustest.Context(t), w.bus.Name(bus.StreamEvents)); err != nil {
		t.Fatal(err)
	}
	if code, _ := post(t, srv.URL, body, dbtcloud.SignWebhook([]byte(hookSecret), body)); code < 500 {
		t.Errorf("webhook not stored answered %d, want a 5xx so that dbt Cloud retries", code)
	}
}
