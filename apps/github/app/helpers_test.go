package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/apps/github/app"
	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/fixtures"
	"github.com/diffgate/diffgate/shared/publish/publishtest"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/service"
)

const (
	hookSecret = "webhook-secret-for-tests"
	repoName   = "acme/analytics"
	installID  = 31
	headA      = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	headB      = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	baseSHA    = "cccccccccccccccccccccccccccccccccccccccc"
	publicURL  = "https://diffgate.example.com"
)

// harness is the App built on a real JetStream namespace and a stand-in
// GitHub, with its routes served by an httptest server.
type harness struct {
	t     testing.TB
	ctx   context.Context
	b     *bus.Bus
	gh    *githubtest.Server
	env   *service.Env
	srv   *httptest.Server
	hook  githubtest.Webhook
	repo  string // as diffgate names it: host/owner/name
	comps []service.Component
	n     int
}

func newHarness(t testing.TB, ci func(*config.CI)) *harness {
	t.Helper()
	gh := githubtest.New(t, githubtest.WithRateLimitWindow(time.Second))
	gh.AddInstallation(installID)
	cfg := config.Default()
	cfg.GitHub = &config.GitHub{AppID: gh.AppID(), PrivateKey: config.NewSecret(string(gh.PrivateKeyPEM())),
		WebhookSecret: config.NewSecret(hookSecret), WebURL: gh.WebURL(), APIURL: gh.APIURL()}
	cfg.Server.DetailsSecret = config.NewSecret("0123456789abcdef0123456789abcdef")
	repo := gh.Host() + "/" + repoName
	in := config.Integration{Name: "analytics", Repository: repo, Provider: events.GitHub}
	in.CI.DiffAllDownstreamLabel = config.DefaultDiffAllDownstreamLabel
	if ci != nil {
		ci(&in.CI)
	}
	cfg.Integrations = []config.Integration{in}
	b := bustest.New(t)
	env := &service.Env{Config: cfg, Bus: b, Mux: http.NewServeMux(), PublicURL: publicURL}
	h := &harness{t: t, ctx: bustest.Context(t), b: b, gh: gh, env: env, repo: repo}
	comps, err := app.Build(h.ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 2 {
		t.Fatalf("%d components; want the gate and the publisher", len(comps))
	}
	h.comps = comps
	h.srv = httptest.NewServer(env.Mux)
	t.Cleanup(h.srv.Close)
	h.hook = githubtest.Webhook{URL: h.srv.URL + "/api/github/hook", Secret: hookSecret}
	return h
}

// start runs the App's components until the test ends.
func (h *harness) start() { h.run(h.comps...) }

// another builds the App again on a connection of its own: a second
// process of the same deployment.
func (h *harness) another() []service.Component {
	h.t.Helper()
	comps, err := app.Build(h.ctx, &service.Env{Config: h.env.Config, Bus: bustest.Another(h.t, h.b), Mux: http.NewServeMux(), PublicURL: publicURL})
	if err != nil {
		h.t.Fatal(err)
	}
	return comps
}

func (h *harness) run(comps ...service.Component) {
	ctx, cancel := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				h.t.Errorf("%s: %v", c.Name(), err)
			}
		}()
	}
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

// pr is the pull request of the tests, also known to the stand-in.
func (h *harness) pr(action, head string, mod func(*githubtest.PullRequest)) githubtest.PullRequest {
	p := githubtest.PullRequest{Action: action, Repo: repoName, Number: 12, Title: "Change orders", HeadSHA: head,
		HeadRef: "feature", BaseSHA: baseSHA, BaseRef: "main", Installation: installID, WebURL: h.gh.WebURL()}
	if mod != nil {
		mod(&p)
	}
	h.gh.AddPR(repoName, p.PR())
	return p
}

// send delivers a signed event and returns the answer's status code.
func (h *harness) send(event string, body []byte) (int, string) {
	h.t.Helper()
	h.n++
	return h.sendAs(event, fmt.Sprintf("delivery-%d", h.n), body, "")
}

func (h *harness) sendAs(event, id string, body []byte, signature string) (int, string) {
	h.t.Helper()
	code, answer, err := h.hook.Send(h.ctx, githubtest.Delivery{Event: event, ID: id, Body: body, Signature: signature})
	if err != nil {
		h.t.Fatal(err)
	}
	return code, answer
}

func (h *harness) prEvents() []events.PREvent {
	return bustest.Stored[events.PREvent](h.t, h.b, events.SubjectPREventPrefix+"github")
}

// finish publishes a run's final report as the reporter would.
func (h *harness) finish(in report.Input, run events.Run, superseded bool) events.RunReport {
	h.t.Helper()
	return publishtest.Finish(h.t, h.b, in, run, superseded)
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	bustest.WaitFor(h.t, 20*time.Second, func() error {
		if cond() {
			return nil
		}
		return errors.New(what)
	})
}

// checkRuns returns the stand-in's check runs of the repository.
func (h *harness) checkRuns() []githubtest.CheckRun { return h.gh.CheckRuns(repoName) }

func (h *harness) comments() []githubtest.Comment { return h.gh.Comments(repoName, 12) }

// fixture reads one of the octokit/webhooks payload examples.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	return fixtures.Read(t, "github", "octokit_webhooks", "payload-examples", "api.github.com", name)
}
