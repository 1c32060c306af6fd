package gitlab_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/apps/gitlab"
	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/testenv"
)

const (
	secret    = "hook-secret-for-tests"
	publicURL = "https://diffgate.example.com"
	iid       = 12
	headA     = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
	headB     = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
	headC     = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
	baseSHA   = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e"
)

// The target project is in a nested group; forks come from another.
var (
	target = gitlabtest.Project{ID: 42, Path: "data/platform/marts"}
	fork   = gitlabtest.Project{ID: 77, Path: "contributor/marts"}
)

// bot is the GitLab bot built on a real JetStream namespace and a
// stand-in GitLab, its routes served by an httptest server.
type bot struct {
	t     testing.TB
	ctx   context.Context
	b     *bus.Bus
	gl    *gitlabtest.Server
	hook  gitlabtest.Hook
	mux   http.Handler // the bot's routes
	repo  string
	comps []service.Component
	logs  *testenv.Buffer
	n     int
	// source is where the merge request's commits come from (fork tests
	// set it).
	source gitlabtest.Project
}

func newBot(t testing.TB, ci func(*config.CI)) *bot {
	t.Helper()
	gl := gitlabtest.New(t, gitlabtest.WithRateLimitWindow(time.Second))
	gl.AddProject(target)
	cfg := config.Default()
	cfg.GitLab = gl.Config(secret)
	cfg.Server.DetailsSecret = config.NewSecret("0123456789abcdef0123456789abcdef")
	in := config.Integration{Name: "marts", Repository: gl.Repository(target.Path), Provider: events.GitLab}
	in.CI.DiffAllDownstreamLabel = config.DefaultDiffAllDownstreamLabel
	if ci != nil {
		ci(&in.CI)
	}
	cfg.Integrations = []config.Integration{in}
	b := bustest.New(t)
	logs := &testenv.Buffer{}
	log := zerolog.New(logs)
	ctx := log.WithContext(bustest.Context(t))
	env := &service.Env{Config: cfg, Bus: b, Mux: http.NewServeMux(), PublicURL: publicURL}
	comps, err := gitlab.Build(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 2 {
		t.Fatalf("%d components; want the gate and the publisher", len(comps))
	}
	srv := httptest.NewServer(env.Mux)
	t.Cleanup(srv.Close)
	return &bot{t: t, ctx: ctx, b: b, gl: gl, comps: comps, logs: logs, source: target, mux: env.Mux,
		hook: gitlabtest.Hook{URL: srv.URL + gitlab.HookRoute, Secret: secret}, repo: gl.Repository(target.Path)}
}

// start runs the bot's components until the test ends.
func (h *bot) start() {
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	for _, c := range h.comps {
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				h.t.Errorf("%s: %v", c.Name(), err)
			}
		})
	}
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

// mr is the merge request of the tests at head, as a hook of action
// shows it; the stand-in learns its state.
func (h *bot) mr(action, head string, mod func(*gitlabtest.MergeRequestEvent)) gitlabtest.MergeRequestEvent {
	e := gitlabtest.MergeRequestEvent{Action: action, MergeRequest: gitlabtest.MergeRequest{
		WebURL: h.gl.URL, Target: target, IID: iid, Title: "Change orders", HeadSHA: head,
		SourceBranch: "feature/orders", TargetBranch: "main"}}
	if h.source != target {
		e.Source = h.source
	}
	if mod != nil {
		mod(&e)
	}
	h.gl.SetMR(target, e.MR(baseSHA))
	return e
}

// send delivers a hook with a fresh Idempotency-Key and returns the
// answer's status code.
func (h *bot) send(event string, body []byte) int {
	h.t.Helper()
	h.n++
	return h.deliver(gitlabtest.Delivery{Event: event, Body: body, IdempotencyKey: fmt.Sprintf("key-%d", h.n)})
}

func (h *bot) deliver(d gitlabtest.Delivery) int {
	h.t.Helper()
	code, _, err := h.hook.Send(h.ctx, d)
	if err != nil {
		h.t.Fatal(err)
	}
	return code
}

func (h *bot) prEvents() []events.PREvent {
	return bustest.Stored[events.PREvent](h.t, h.b, events.SubjectPREventPrefix+string(events.GitLab))
}

func (h *bot) requested() []events.RunRequested {
	return bustest.Stored[events.RunRequested](h.t, h.b, events.SubjectRunRequested)
}

func (h *bot) cancelled() []events.RunCancelled {
	return bustest.Stored[events.RunCancelled](h.t, h.b, events.SubjectRunCancelled)
}

// runOf waits for the newest run the gate requested for a head.
func (h *bot) runOf(head string) events.Run {
	h.t.Helper()
	var run events.Run
	bustest.WaitFor(h.t, gitlabtest.Patience, func() error {
		for _, r := range h.requested() {
			if r.Run.HeadSHA == head {
				run = r.Run
			}
		}
		if run.HeadSHA == "" {
			return fmt.Errorf("no run of %.7s requested", head)
		}
		return nil
	})
	return run
}

// nthRun waits until the gate requested n runs and returns the n-th.
func (h *bot) nthRun(n int) events.Run {
	h.t.Helper()
	var runs []events.RunRequested
	bustest.WaitFor(h.t, gitlabtest.Patience, func() error {
		if runs = h.requested(); len(runs) < n {
			return fmt.Errorf("%d runs requested; waiting for %d", len(runs), n)
		}
		return nil
	})
	return runs[n-1].Run
}

// waitState waits for the head's diffgate status in target.
func (h *bot) waitState(head, state string) gitlabtest.Status {
	h.t.Helper()
	return h.gl.WaitStatus(h.t, target.ID, head, state)
}

func (h *bot) notes() []gitlabtest.Note { return h.gl.BotNotes(target.ID, iid) }

// settled waits until a consumer of the bot has handled all it was given:
// then "nothing else happened" can be asserted.
func (h *bot) settled(consumer, subject string) {
	h.t.Helper()
	bustest.WaitFor(h.t, gitlabtest.Patience, func() error {
		return bustest.Idle(h.t, h.b, bus.StreamOf(subject), consumer)
	})
}

func (h *bot) gateSettled() {
	h.settled("gate-gitlab", events.SubjectPREventPrefix+"gitlab")
}

func (h *bot) publisherSettled() {
	h.settled("publish-status-gitlab", events.SubjectRunStatusPrefix+"gitlab")
	h.settled("publish-report-gitlab", events.SubjectRunReportPrefix+"gitlab")
}

// waitFor waits until cond holds.
func (h *bot) waitFor(what string, cond func() bool) {
	h.t.Helper()
	bustest.WaitFor(h.t, gitlabtest.Patience, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("waiting for %s", what)
	})
}
