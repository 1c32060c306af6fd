package ciwait_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/testenv"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

func TestRateLimitsAreWaitedOutAsDBTCloudAsks(t *testing.T) {
	w := newWorld(t, 100*time.Millisecond, time.Hour)
	w.ciRun(70, workertest.SHA(70), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning, Polls: 1}, dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})
	w.dbt.Fail(dbtcloudtest.EndpointListRuns, dbtcloudtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "7", Times: 2})
	w.dbt.Fail(dbtcloudtest.EndpointListRuns, dbtcloudtest.Fault{Status: http.StatusBadGateway})
	w.start()
	req := w.request(70, workertest.SHA(70), time.Now())
	if o := ended(t, w.bus, req.Run); len(o.completed) != 1 || o.count() != 1 {
		t.Fatalf("outcome %+v, want CICompleted once dbt Cloud answered", o)
	}
	waits := w.sleep.All()
	if len(waits) < 3 || waits[0] != 7*time.Second || waits[1] != 7*time.Second {
		t.Errorf("the client waited %v between tries, want 7s twice (Retry-After), then a backoff", waits)
	}
}

func TestADBTCloudOutageIsReportedWhenTheWaitTimesOut(t *testing.T) {
	w := newWorld(t, 100*time.Millisecond, time.Hour)
	w.ciRun(71, workertest.SHA(71), dbtcloudtest.Phase{Status: dbtcloud.StatusRunning})
	w.dbt.Fail(dbtcloudtest.EndpointListRuns, dbtcloudtest.Fault{Status: http.StatusServiceUnavailable, Times: 1 << 20})
	w.start()
	// It has a second of its hour left.
	req := w.request(71, workertest.SHA(71), time.Now().Add(-time.Hour+time.Second))
	o := ended(t, w.bus, req.Run)
	if len(o.failed) != 1 || o.count() != 1 {
		t.Fatalf("outcome %+v, want one RunFailed", o)
	}
	f := o.failed[0]
	if f.Code != events.FailCITimeout || !strings.Contains(f.Message, "the last attempt to reach dbt Cloud failed") || !strings.Contains(f.Message, "503") {
		t.Errorf("RunFailed %+v, want a timeout that says dbt Cloud answered 503", f)
	}
	var told bool
	for _, s := range statuses(t, w.bus, req.Run) {
		told = told || strings.Contains(s.Message, "dbt Cloud is not answering")
	}
	if !told {
		t.Error("no progress said that dbt Cloud is not answering")
	}
	// Each refresh tries a bounded number of times, once per poll interval.
	attempts, lists := 5, w.dbt.ListRunsCount(ciJob)
	if lists%attempts != 0 {
		t.Errorf("%d list-runs requests, not a whole number of %d-attempt refreshes", lists, attempts)
	}
	if len(w.sleep.All()) != lists-lists/attempts {
		t.Errorf("%d waits for %d requests", len(w.sleep.All()), lists)
	}
}

func TestARejectedTokenEndsTheRunWithWhatToFix(t *testing.T) {
	w := newWorld(t, 100*time.Millisecond, time.Hour, dbtcloudtest.AllowBadAuth())
	w.logs = &testenv.Buffer{}
	const wrong = "dbtc_wrong_token_value"
	w.cfg.Integrations[0].DBTCloud.Token = config.NewSecret(wrong)
	w.start()
	req := w.request(72, workertest.SHA(72), time.Now())
	o := ended(t, w.bus, req.Run)
	if len(o.failed) != 1 || o.count() != 1 {
		t.Fatalf("outcome %+v, want one RunFailed", o)
	}
	f := o.failed[0]
	if f.Code != events.FailDBTCloud || !strings.Contains(f.Message, "token") || !strings.Contains(f.Hint, "dbt_cloud.token") {
		t.Errorf("RunFailed %+v, want a dbt Cloud failure about the token", f)
	}
	if strings.Contains(fmt.Sprintf("%+v", f), wrong) {
		t.Errorf("RunFailed %+v contains the token", f)
	}
	if n := w.dbt.ListRunsCount(ciJob); n != 1 {
		t.Errorf("%d list-runs requests, want 1: a rejected token is not retried", n)
	}
	if logs := w.logs.String(); !strings.Contains(logs, "run failed") || strings.Contains(logs, wrong) {
		t.Errorf("the logs should report the failure without the token:\n%s", logs)
	}
	bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
}
