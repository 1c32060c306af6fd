package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/testenv"
)

// patience bounds every wait of the end-to-end tests: a run waits a
// second or two for dbt Cloud (the shortest poll interval diffgate
// accepts), then diffs small tables.
const patience = 60 * time.Second

// pgServer is the shared PostgreSQL server's URL, as its superuser.
func pgServer() string { return pgURL("postgres", "") }

// newWarehouse makes a PostgreSQL database of the test's own, dropped
// when it ends. Without PostgreSQL the test is skipped, except under
// CI=true, where that fails it.
func newWarehouse(t testing.TB, prefix string) *sandbox.Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg, err := sandbox.NewPostgres(ctx, pgServer(), prefix)
	if err != nil {
		testenv.SkipOrFail(t, "PostgreSQL not reachable: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Close(); err != nil {
			t.Errorf("drop the test database: %v", err)
		}
	})
	return pg
}

// testLog is where the processes log: the test's output (shown when it
// fails, or with -v), closed when the test ends so late lines are dropped.
// A line that names a field twice fails the test: a log query would see
// one value or the other.
type testLog struct {
	mu    sync.Mutex
	w     io.Writer
	done  bool
	twice []string // lines with a field twice
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{w: t.Output()}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.done = true
		for _, line := range l.twice {
			t.Errorf("a log line names a field twice: %s", line)
		}
	})
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	if k := repeatedKey(p); k != "" && len(l.twice) < 5 {
		l.twice = append(l.twice, fmt.Sprintf("%q in %s", k, bytes.TrimSpace(p)))
	}
	return l.w.Write(p)
}

// repeatedKey is a top-level key that a JSON log line has more than once.
func repeatedKey(line []byte) string {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// pipeline is diffgate end to end: the stand-ins, a PostgreSQL warehouse
// of the test's own with the sample project's production build, a NATS
// server, and one diffgate process running every builder of serve.
type pipeline struct {
	t    testing.TB
	ctx  context.Context
	st   *sandbox.Stack
	bus  *bus.Bus // the test's own connection, to look at the streams
	proc *sandbox.Process
	nats string
	seq  atomic.Int64
}

// newStack sets everything up on the sample project and a database of the
// test's own, but starts no diffgate process.
func newStack(t testing.TB, ins []sandbox.Integration) *pipeline {
	t.Helper()
	return newStackWith(t, newWarehouse(t, "diffgate_e2e"), sandbox.Sample(), ins, nil)
}

// newStackWith is newStack on a warehouse and project of the caller's,
// with the processes logging to logs (default: the test's output).
func newStackWith(t testing.TB, wh sandbox.Warehouse, project sandbox.DBTProject, ins []sandbox.Integration, logs io.Writer) *pipeline {
	t.Helper()
	if logs == nil {
		logs = newTestLog(t)
	}
	ctx := bustest.Context(t)
	// A NATS server of the test's own, logging with the processes at info
	// (its own lines are debug).
	nctx, cancel := context.WithTimeout(zerolog.New(logs).Level(zerolog.InfoLevel).WithContext(ctx), 30*time.Second)
	defer cancel()
	nats, err := bus.StartEmbedded(nctx, bus.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	st, err := sandbox.New(ctx, sandbox.Options{Project: project, Warehouse: wh, Integrations: ins,
		NATSURL: nats.URL(), Dir: t.TempDir(), TB: t, Log: logs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &pipeline{t: t, ctx: ctx, st: st, nats: nats.URL(), bus: bustest.ConnectTo(t, nats.URL())}
}

// newPipeline is newStack with a diffgate process running every builder.
func newPipeline(t testing.TB, ins []sandbox.Integration) *pipeline {
	t.Helper()
	p := newStack(t, ins)
	p.proc = p.start("diffgate", buildAll, nil)
	return p
}

// start runs a diffgate process; it is stopped when the test ends.
func (p *pipeline) start(name string, build service.Builder, o *sandbox.ProcessOptions) *sandbox.Process {
	p.t.Helper()
	opts := sandbox.ProcessOptions{Name: name, Build: build}
	if o != nil {
		opts.Listener, opts.DrainTimeout = o.Listener, o.DrainTimeout
	}
	proc, err := p.st.Run(p.ctx, opts)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() {
		if err := proc.Stop(); err != nil {
			p.t.Errorf("diffgate process %s: %v", name, err)
		}
	})
	return proc
}

// repo is a repository as diffgate names it: host/path.
func (p *pipeline) repo(provider events.Provider, path string) string {
	return p.st.Repository(sandbox.Integration{Provider: provider, Path: path})
}

// head is a commit SHA of pull request n: the k-th push. Its short form
// (7 characters) names both.
func head(n, k int) string { return fmt.Sprintf("%04x%03x%033x", n, k, n*1000+k) }

// ci records the dbt Cloud CI run of a head; by default it succeeds at
// once.
func (p *pipeline) ci(t testing.TB, provider events.Provider, n int, sha string, script ...dbtcloudtest.Phase) *dbtcloudtest.RunHandle {
	t.Helper()
	h, err := p.st.CIRun(p.ctx, provider, n, sha, script...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// waiting is a CI run that stays queued until the test says otherwise.
var waiting = dbtcloudtest.Phase{Status: dbtcloud.StatusQueued}

func (p *pipeline) delivery() string { return fmt.Sprintf("e2e-%d", p.seq.Add(1)) }

// sendGH delivers a GitHub event with a fresh delivery id and returns the
// answer's status and the id.
func (p *pipeline) sendGH(t testing.TB, event string, body []byte) (int, string) {
	t.Helper()
	id := p.delivery()
	return p.deliverGH(t, githubtest.Delivery{Event: event, ID: id, Body: body}), id
}

func (p *pipeline) deliverGH(t testing.TB, d githubtest.Delivery) int {
	t.Helper()
	code, _, err := p.st.GitHubHook(p.proc).Send(p.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// sendGL delivers a GitLab hook with a fresh Idempotency-Key.
func (p *pipeline) sendGL(t testing.TB, event string, body []byte) (int, string) {
	t.Helper()
	key := p.delivery()
	return p.deliverGL(t, gitlabtest.Delivery{Event: event, Body: body, IdempotencyKey: key}), key
}

func (p *pipeline) deliverGL(t testing.TB, d gitlabtest.Delivery) int {
	t.Helper()
	code, _, err := p.st.GitLabHook(p.proc).Send(p.ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// mr is a merge request of project at head, known to the stand-in GitLab,
// as a hook of action describes it; mod changes it first.
func (p *pipeline) mr(proj gitlabtest.Project, iid int, action, sha string, mod func(*gitlabtest.MergeRequestEvent)) gitlabtest.MergeRequestEvent {
	e := gitlabtest.MergeRequestEvent{Action: action, MergeRequest: gitlabtest.MergeRequest{WebURL: p.st.GitLab.URL, Target: proj,
		IID: iid, Title: "Apply coupon discounts", HeadSHA: sha, SourceBranch: fmt.Sprintf("coupons-%d", iid), TargetBranch: "main"}}
	switch action {
	case "close":
		e.State = "closed"
	case "merge":
		e.State = "merged"
	}
	if mod != nil {
		mod(&e)
	}
	p.st.GitLab.SetMR(proj, gitlabtest.MR{IID: iid, Title: e.Title, State: e.State, Draft: e.Draft, Labels: e.Labels,
		HeadSHA: sha, BaseSHA: sandbox.BaseSHA, SourceBranch: e.SourceBranch, TargetBranch: e.TargetBranch, Source: e.Source})
	return e
}

// waitGLStatus waits until the newest diffgate status of a commit
// satisfies ok.
func (p *pipeline) waitGLStatus(t testing.TB, proj gitlabtest.Project, sha, what string, ok func(gitlabtest.Status) bool) gitlabtest.Status {
	t.Helper()
	var got gitlabtest.Status
	bustest.WaitFor(t, patience, func() error {
		st, found := p.st.GitLab.Latest(proj.ID, sha, "diffgate")
		if got = st; !found || !ok(st) {
			return fmt.Errorf("status of %.7s is %s %q; want %s", sha, st.State, st.Description, what)
		}
		return nil
	})
	return got
}

// waitGLRun waits until a run of the head has started and shows on
// GitLab as under way (GitLab keeps a status's first words while its
// state does not change, so the words do not tell the stage).
func (p *pipeline) waitGLRun(t testing.TB, proj gitlabtest.Project, iid int, sha string) {
	t.Helper()
	bustest.WaitFor(t, patience, func() error {
		started := false
		for _, r := range stored[events.RunRequested](t, p, events.SubjectRunRequested, p.repo(events.GitLab, proj.Path), iid) {
			started = started || r.Run.HeadSHA == sha
		}
		st, _ := p.st.GitLab.Latest(proj.ID, sha, "diffgate")
		if !started || (st.State != "pending" && st.State != "running") {
			return fmt.Errorf("run of %.7s started: %v; status %s", sha, started, st.State)
		}
		return nil
	})
}

// checks are the check runs of a head, oldest first.
func (p *pipeline) checks(repo, sha string) []githubtest.CheckRun {
	var out []githubtest.CheckRun
	for _, c := range p.st.GitHub.CheckRuns(repo) {
		if c.HeadSHA == sha {
			out = append(out, c)
		}
	}
	return out
}

// waitCheck waits until the head has exactly one check run and it
// satisfies ok.
func (p *pipeline) waitCheck(t testing.TB, repo, sha, what string, ok func(githubtest.CheckRun) bool) githubtest.CheckRun {
	t.Helper()
	var got githubtest.CheckRun
	bustest.WaitFor(t, patience, func() error {
		cs := p.checks(repo, sha)
		if len(cs) != 1 {
			return fmt.Errorf("%d check runs on %.7s, want one that is %s", len(cs), sha, what)
		}
		if got = cs[0]; !ok(got) {
			return fmt.Errorf("check run on %.7s is %s %s %q, want %s", sha, got.Status, got.Conclusion, got.Title, what)
		}
		return nil
	})
	return got
}

// waitConclusion waits for the head's check run to complete with
// conclusion.
func (p *pipeline) waitConclusion(t testing.TB, repo, sha, conclusion string) githubtest.CheckRun {
	t.Helper()
	return p.waitCheck(t, repo, sha, "completed "+conclusion, func(c githubtest.CheckRun) bool {
		return c.Status == "completed" && c.Conclusion == conclusion
	})
}

// waitComments waits until the pull request's comments satisfy ok.
func (p *pipeline) waitComments(t testing.TB, repo string, n int, what string, ok func([]githubtest.Comment) bool) []githubtest.Comment {
	t.Helper()
	var got []githubtest.Comment
	bustest.WaitFor(t, patience, func() error {
		if got = p.st.GitHub.Comments(repo, n); ok(got) {
			return nil
		}
		return fmt.Errorf("comments on #%d: want %s; have %d", n, what, len(got))
	})
	return got
}

// writes are the check run writes GitHub accepted for one check run.
func (p *pipeline) writes(id int64) []sandbox.Write {
	var out []sandbox.Write
	for _, w := range p.st.Recorder.Writes() {
		if w.Kind == "check_run" && w.CheckRunID == id {
			out = append(out, w)
		}
	}
	return out
}

// stored returns the messages on subject whose run is of pull request n
// of repository (host/path, as diffgate names it).
func stored[T any](t testing.TB, p *pipeline, subject, repository string, n int) []T {
	t.Helper()
	var out []T
	for _, raw := range bustest.Stored[json.RawMessage](t, p.bus, subject) {
		run, err := events.RunOf(raw)
		if err != nil {
			t.Fatal(err)
		}
		if run.Repository != repository || run.PR != n {
			continue
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// msgIDs counts the messages of a subject by message id.
func (p *pipeline) msgIDs(t testing.TB, subject string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	cons, err := p.bus.JetStream().OrderedConsumer(ctx, p.bus.Name(bus.StreamOf(subject)),
		jetstream.OrderedConsumerConfig{FilterSubjects: []string{p.bus.Subject(subject)}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for left := int(info.NumPending); left > 0; {
		batch, err := cons.Fetch(left, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			out[m.Headers().Get(events.HeaderMsgID)]++
			left--
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			t.Fatal(err)
		}
	}
	return out
}

// settled waits until a durable consumer has handled everything stored
// before the call: then "nothing else happened" can be asserted.
func (p *pipeline) settled(t testing.TB, consumer, subject string) {
	t.Helper()
	bustest.WaitFor(t, patience, func() error { return bustest.Idle(t, p.bus, bus.StreamOf(subject), consumer) })
}

// get fetches a URL and returns the status and body.
func get(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// errNotYet is what a polled condition returns while it does not hold.
var errNotYet = errors.New("not yet")
