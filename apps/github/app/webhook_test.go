package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
)

func TestSignedOpenedIsStoredBeforeTheAnswer(t *testing.T) {
	h := newHarness(t, nil)
	p := h.pr("opened", headA, func(p *githubtest.PullRequest) { p.Labels = []string{"bug"} })
	code, _ := h.sendAs("pull_request", "d-opened", p.Payload(), "")
	if code != http.StatusOK {
		t.Fatalf("answer %d; want 200", code)
	}
	// Stored by the time the answer came: no waiting.
	got := h.prEvents()
	want := []events.PREvent{{Version: events.Version, Provider: events.GitHub, DeliveryID: "d-opened", Action: "opened",
		Run: events.Run{Provider: events.GitHub, Repository: h.repo, PR: 12, HeadSHA: headA, BaseSHA: baseSHA,
			Installation: installID, BaseRef: "main", HeadRef: "feature", URL: h.gh.WebURL() + "/" + repoName + "/pull/12", Title: "Change orders"},
		Labels: []string{"bug"}, Author: "octocat"}}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(events.PREvent{}, "ReceivedAt")); d != "" {
		t.Errorf("stored events (-want +got):\n%s", d)
	}

	// The same delivery again: 200, nothing new.
	if code, _ := h.sendAs("pull_request", "d-opened", p.Payload(), ""); code != http.StatusOK {
		t.Errorf("redelivery answered %d", code)
	}
	if n := len(h.prEvents()); n != 1 {
		t.Errorf("%d events stored after a redelivery; want 1", n)
	}
}

func TestBadSignaturesAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	body := h.pr("opened", headA, nil).Payload()
	tests := map[string]string{
		"unsigned":           "-",
		"wrong secret":       githubtest.Sign("another-secret", body),
		"other body":         githubtest.Sign(hookSecret, append([]byte(" "), body...)),
		"sha1 only":          "sha1=" + strings.Repeat("0", 40),
		"not hex":            "sha256=zz",
		"empty after prefix": "sha256=",
	}
	for name, sig := range tests {
		t.Run(name, func(t *testing.T) {
			code, answer := h.sendAs("pull_request", "d-"+name, body, sig)
			if code != http.StatusUnauthorized {
				t.Errorf("answer %d %q; want 401", code, answer)
			}
			if strings.Contains(answer, hookSecret) {
				t.Errorf("the answer shows the secret")
			}
		})
	}
	if n := len(h.prEvents()); n != 0 {
		t.Errorf("%d events stored from badly signed deliveries", n)
	}
}

func TestWebhookAnswers(t *testing.T) {
	h := newHarness(t, nil)
	tests := map[string]struct {
		event string
		body  []byte
		code  int
	}{
		"installation created":         {"installation", githubtest.Installation("created", installID, "acme"), http.StatusOK},
		"repositories added":           {"installation_repositories", githubtest.InstallationRepositories("added", installID, "acme", repoName), http.StatusOK},
		"ping":                         {"ping", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`), http.StatusOK},
		"an event nobody handles":      {"push", []byte(`{"ref":"refs/heads/main"}`), http.StatusAccepted},
		"a pull_request action unread": {"pull_request", h.pr("assigned", headA, nil).Payload(), http.StatusOK},
		"malformed JSON":               {"pull_request", []byte(`{"action":`), http.StatusBadRequest},
		"pull_request without a head":  {"pull_request", []byte(`{"action":"opened","number":1,"repository":{"full_name":"acme/analytics"}}`), http.StatusBadRequest},
		"someone else's check run":     {"check_run", githubtest.CheckRunRerequested{Repo: repoName, CheckRunID: 5, Name: "lint", HeadSHA: headA, AppID: 99, Installation: installID}.Payload(), http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if code, answer := h.send(tc.event, tc.body); code != tc.code {
				t.Errorf("answer %d %q; want %d", code, answer, tc.code)
			}
		})
	}
	if n := len(h.prEvents()); n != 0 {
		t.Errorf("%d events stored; none of these is a pull request event diffgate reads", n)
	}
	// No delivery id: nothing to deduplicate on.
	if code, _ := h.sendAs("pull_request", "", h.pr("opened", headA, nil).Payload(), ""); code != http.StatusBadRequest {
		t.Errorf("delivery without an id answered %d; want 400", code)
	}
}

func TestPublishFailureAnswers500(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.b.JetStream().DeleteStream(h.ctx, h.b.Name(bus.StreamEvents)); err != nil {
		t.Fatal(err)
	}
	code, _ := h.send("pull_request", h.pr("opened", headA, nil).Payload())
	if code < 500 {
		t.Errorf("answer %d with no stream to store the event; want 5xx so GitHub shows it failed", code)
	}
}

func TestRerunButton(t *testing.T) {
	h := newHarness(t, nil)
	run := events.Run{Provider: events.GitHub, Repository: h.repo, PR: 12, HeadSHA: headA}
	other := run
	other.PR = 40
	code, _ := h.sendAs("check_run", "d-rerun", githubtest.CheckRunRerequested{Repo: repoName, CheckRunID: 77, Name: "diffgate",
		HeadSHA: headA, HeadRef: "feature", ExternalID: run.HeadKey(), AppID: h.gh.AppID(), Installation: installID,
		PRs: []githubtest.CheckRunPR{
			{Number: 40, HeadSHA: headA, HeadRef: "feature", BaseSHA: baseSHA, BaseRef: "release"},
			{Number: 12, HeadSHA: headA, HeadRef: "feature", BaseSHA: baseSHA, BaseRef: "main"},
		}}.Payload(), "")
	if code != http.StatusOK {
		t.Fatalf("answer %d", code)
	}
	// A fork: GitHub lists no pull request.
	code, _ = h.sendAs("check_run", "d-rerun-fork", githubtest.CheckRunRerequested{Repo: repoName, CheckRunID: 78, Name: "diffgate",
		HeadSHA: headB, ExternalID: "hx", AppID: h.gh.AppID(), Installation: installID}.Payload(), "")
	if code != http.StatusOK {
		t.Fatalf("answer %d", code)
	}
	got := h.prEvents()
	if len(got) != 2 {
		t.Fatalf("%d events; want 2", len(got))
	}
	if e := got[0]; e.Action != "rerun" || e.Run.PR != 12 || e.Run.BaseRef != "main" || e.Run.HeadKey() != run.HeadKey() || e.MsgID() != "gh:d-rerun" {
		t.Errorf("rerun event %+v; want PR 12, the one the check belongs to", e)
	}
	if e := got[1]; e.Action != "rerun" || e.Run.PR != 0 || e.Run.HeadSHA != headB || e.Run.Installation != installID {
		t.Errorf("fork rerun event %+v; want no PR (the gate looks it up)", e)
	}
}

// TestGitHubsOwnPayloads normalises GitHub's documented examples.
func TestGitHubsOwnPayloads(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		file, event string
		check       func(events.PREvent) bool
	}{
		{"pull_request/opened.payload.json", "pull_request", func(e events.PREvent) bool {
			return e.Action == "opened" && e.Run.PR == 2 && e.Run.HeadSHA == "ec26c3e57ca3a959ca5aad62de7213c562f8c821" &&
				strings.HasSuffix(e.Run.Repository, "/Codertocat/Hello-World") && e.Run.BaseRef == "master" && e.Run.Installation != 0
		}},
		{"pull_request/labeled.payload.json", "pull_request", func(e events.PREvent) bool {
			return e.Action == "labeled" && e.Label == "bug" && len(e.Labels) > 0
		}},
		{"pull_request/synchronize.payload.json", "pull_request", func(e events.PREvent) bool {
			return e.Action == "synchronize" && e.Run.HeadSHA == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
		}},
		{"pull_request/closed.payload.json", "pull_request", func(e events.PREvent) bool { return e.Action == "closed" && !e.Merged }},
		{"pull_request/converted_to_draft.with-installation.payload.json", "pull_request", func(e events.PREvent) bool {
			return e.Action == "converted_to_draft" && e.Draft
		}},
		{"check_run/rerequested.payload.json", "check_run", nil}, // another App's check ("randscape"): not stored
	}
	for _, tc := range tests {
		before := len(h.prEvents())
		if code, _ := h.send(tc.event, fixture(t, tc.file)); code != http.StatusOK {
			t.Errorf("%s: answer %d", tc.file, code)
			continue
		}
		got := h.prEvents()
		switch {
		case tc.check == nil && len(got) != before:
			t.Errorf("%s: stored %+v", tc.file, got[before:])
		case tc.check != nil && (len(got) != before+1 || !tc.check(got[before])):
			t.Errorf("%s: stored %+v", tc.file, got[before:])
		}
	}
}

// BenchmarkWebhookIntake measures the thin path: signature, normalise,
// JetStream PubAck, answer. It prints requests per second and the 99th
// percentile latency.
func BenchmarkWebhookIntake(b *testing.B) {
	h := newHarness(b, nil)
	body := h.pr("synchronize", headA, nil).Payload()
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			code, _, err := h.hook.Send(h.ctx, githubtest.Delivery{Event: "pull_request", ID: fmt.Sprintf("bench-%d", n.Add(1)), Body: body})
			mine = append(mine, time.Since(t0))
			if err != nil || code != http.StatusOK {
				b.Errorf("answer %d %v", code, err)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// TestDeliveryStoredAfterTheSenderHungUp: GitHub does not send a failed
// delivery again by itself, so the event is stored even when the request's
// context ended before the publish.
func TestDeliveryStoredAfterTheSenderHungUp(t *testing.T) {
	h := newHarness(t, nil)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		cancel() // the sender hung up
		h.env.Mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	defer gone.Close()
	hook := githubtest.Webhook{URL: gone.URL + "/api/github/hook", Secret: hookSecret}
	if _, _, err := hook.Send(h.ctx, githubtest.Delivery{Event: "pull_request", ID: "d-hung-up", Body: h.pr("opened", headA, nil).Payload()}); err != nil {
		t.Fatal(err)
	}
	if evs := h.prEvents(); len(evs) != 1 || evs[0].DeliveryID != "d-hung-up" {
		t.Errorf("events %+v; want the delivery stored", evs)
	}
}
