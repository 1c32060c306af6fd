package main

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
	githubapp "github.com/diffgate/diffgate/apps/github/app"
	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
)

// heldListener accepts connections whose writes never leave: a process
// serving on it stores what it is sent but cannot answer, as one killed
// between the two would.
type heldListener struct{ net.Listener }

func (l heldListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: c, closed: make(chan struct{})}, nil
}

type heldConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

// Write blocks until the connection is closed, and writes nothing.
func (c *heldConn) Write([]byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}

func (c *heldConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestEndToEndTheAppKilledBeforeItAnswers: the GitHub App's process
// stores a delivery in JetStream and is killed before its answer leaves.
// GitHub saw no 2xx and does not deliver again by itself; nothing is lost
// all the same: a fresh process, with every component, finishes the run
// from what the stream holds. The App that dies is the whole App (webhook,
// gate and publisher, as diffgate-github runs them; its gate may get to
// the event before it dies), or its webhook alone (nothing but the stream
// ever saw the event).
func TestEndToEndTheAppKilledBeforeItAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	webhookOnly := func(ctx context.Context, env *service.Env) ([]service.Component, error) {
		_, err := githubapp.Build(ctx, env)
		return nil, err
	}
	for name, build := range map[string]service.Builder{"the whole App": githubapp.Build, "its webhook alone": webhookOnly} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			killed(t, build)
		})
	}
}

func killed(t *testing.T, build service.Builder) {
	p := newStack(t, []sandbox.Integration{{Name: "analytics", Provider: events.GitHub, Path: ghPlain}})
	const n = 301
	sha := head(n, 1)
	p.ci(t, events.GitHub, n, sha, dbtcloudtest.Phase{Status: dbtcloud.StatusQueued, Polls: 2},
		dbtcloudtest.Phase{Status: dbtcloud.StatusRunning, Polls: 2}, dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app, err := p.st.Run(p.ctx, sandbox.ProcessOptions{Name: "github-app", Build: build,
		Listener: heldListener{ln}, DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Stop() })

	id := p.delivery()
	answered := make(chan int, 1)
	go func() {
		code, _, err := p.st.GitHubHook(app).Send(p.ctx, githubtest.Delivery{Event: "pull_request", ID: id,
			Body: p.st.PullRequest("opened", ghPlain, n, sha, nil).Payload()})
		if err != nil {
			code = 0
		}
		answered <- code
	}()
	bustest.WaitFor(t, patience, func() error {
		if p.msgIDs(t, events.SubjectPREventPrefix+"github")["gh:"+id] != 1 {
			return errNotYet
		}
		return nil
	})
	_ = app.Stop() // killed: it cannot drain the answer it holds
	if code := <-answered; code/100 == 2 {
		t.Fatalf("the delivery was answered %d; the test wants the App gone before it answers", code)
	}

	p.proc = p.start("diffgate", buildAll, nil)
	p.waitConclusion(t, ghPlain, sha, "success")
	if n := len(p.st.GitHub.CheckRuns(ghPlain)); n != 1 {
		t.Errorf("%d check runs; want one", n)
	}
	cs := p.waitComments(t, ghPlain, n, "one", func(c []githubtest.Comment) bool { return len(c) == 1 })
	checkComment(t, cs[0].Body, sandbox.Sample().Expect())
	if rs := stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitHub, ghPlain), n); len(rs) != 1 {
		t.Errorf("%d runs requested; want one", len(rs))
	}
}
