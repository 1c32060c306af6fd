// Package sandbox runs the whole of diffgate on one machine with nothing
// configured: the sample dbt project's production and PR builds in a
// warehouse, stand-ins for GitHub, GitLab, dbt Cloud and Hightouch, a
// diffgate.yaml written for them and loaded the way `diffgate serve`
// loads it, and diffgate processes running every component on it. The
// demo and the end-to-end tests both use it.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/apps/gitlab"
	"github.com/diffgate/diffgate/apps/gitlab/gitlabtest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/shared/standin"
)

// TB is what the stand-ins report a request they refuse to: a
// *testing.T, or a standin.Recorder for the demo.
type TB = standin.TB

// dbt Cloud and Hightouch as the sandbox sets them up.
const (
	AccountID      = 1
	AccountName    = "Acme Shop"
	ArtifactsJobID = 11 // production: its runs hold the production manifest
	GitHubJobID    = 22 // the CI job of the GitHub repositories
	GitLabJobID    = 33 // the CI job of the GitLab projects
	HightouchSrc   = 42
	Installation   = 31 // the GitHub App's installation
	DataSource     = "warehouse"
)

// The dbt Cloud settings of every integration: the shortest poll interval
// diffgate accepts, and a wait for the CI run no test reaches.
const (
	pollInterval = time.Second
	ciTimeout    = 10 * time.Minute
)

// BaseSHA is the commit production was built from and every pull request
// starts at.
const BaseSHA = "ba5eba5eba5eba5eba5eba5eba5eba5eba5eba5e"

// CI are an integration's ci settings the sandbox can set.
type CI struct {
	PRLabel                string
	FilesToIgnore          []string
	FailOnPrimaryKeyIssues bool
	RunOnDraft             bool
}

// Integration is one repository connected to diffgate.
type Integration struct {
	Name     string
	Provider events.Provider
	// Path is owner/name on GitHub, group/…/project on GitLab.
	Path string
	CI   CI
}

// DBTProject is a dbt project as the sandbox runs it: its manifests, its
// builds in a warehouse, and the Hightouch models that read it.
type DBTProject interface {
	// Manifest is a side's manifest.json with relations in database and
	// schema.
	Manifest(side Side, database, schema string) []byte
	// Build builds a side in schema: production builds every model, a
	// pull request's CI run those it changes and what is downstream.
	Build(ctx context.Context, wh Warehouse, side Side, schema string) error
	// HightouchModels read the production relations.
	HightouchModels() []HightouchModel
}

// Options of New.
type Options struct {
	Project   DBTProject
	Warehouse Warehouse
	// Integrations default to one GitHub repository, acme/shop.
	Integrations []Integration
	// NATSURL is an external NATS server; empty runs an embedded one in
	// the (single) process, storing under Dir.
	NATSURL string
	// Dir holds diffgate.yaml and the embedded NATS's store.
	Dir string
	// TB gets what the stand-ins refuse.
	TB TB
	// Log receives the processes' logs (at info); nil discards them.
	Log io.Writer
	// MaxConcurrency is the data source's max_concurrency; default 4.
	MaxConcurrency int
}

// Stack is the stand-ins, the warehouse and the configuration, ready for
// diffgate processes (Run).
type Stack struct {
	GitHub    *githubtest.Server
	GitLab    *gitlabtest.Server // nil unless an integration is on GitLab
	DBTCloud  *dbtcloudtest.Server
	Hightouch *hightouchtest.Server
	// Recorder sits in front of the stand-in GitHub's API and keeps every
	// check run and comment the App wrote.
	Recorder *Recorder
	// Config is the parsed configuration; ConfigPath its file, and Env
	// the environment its ${...} references read.
	Config     *config.Config
	ConfigPath string
	Env        map[string]string

	Project   DBTProject
	Warehouse Warehouse

	o       Options
	closers []func()
	mu      sync.Mutex
	built   map[string]bool
	files   map[string][]githubtest.File
}

// New starts the stand-ins, builds production in the warehouse, records
// production's dbt Cloud run and writes and loads diffgate.yaml. Close
// it when done.
func New(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Project == nil || o.Warehouse == nil || o.TB == nil || o.Dir == "" {
		return nil, errors.New("sandbox: Project, Warehouse, TB and Dir are required")
	}
	if len(o.Integrations) == 0 {
		o.Integrations = []Integration{{Name: "shop", Provider: events.GitHub, Path: "acme/shop"}}
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = config.DefaultMaxConcurrency
	}
	s = &Stack{Project: o.Project, Warehouse: o.Warehouse, o: o, built: map[string]bool{}, files: map[string][]githubtest.File{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.GitHub = githubtest.New(o.TB)
	s.closers = append(s.closers, s.GitHub.Close)
	s.GitHub.AddInstallation(Installation)
	s.Recorder = newRecorder(s.GitHub)
	s.closers = append(s.closers, s.Recorder.close)
	for _, in := range o.Integrations {
		if in.Provider == events.GitLab && s.GitLab == nil {
			s.GitLab = gitlabtest.New(o.TB)
			s.closers = append(s.closers, s.GitLab.Close)
		}
	}

	s.DBTCloud = dbtcloudtest.New(o.TB)
	s.closers = append(s.closers, s.DBTCloud.Close)
	s.DBTCloud.AddAccount(AccountID, AccountName)
	s.DBTCloud.AddJob(dbtcloudtest.Job{AccountID: AccountID, ID: ArtifactsJobID, Name: "Production", Steps: []string{"dbt build"}})
	s.DBTCloud.AddJob(dbtcloudtest.Job{AccountID: AccountID, ID: GitHubJobID, Name: "CI (GitHub)", Type: dbtcloud.JobTypeCI, DeferringJobID: ArtifactsJobID})
	s.DBTCloud.AddJob(dbtcloudtest.Job{AccountID: AccountID, ID: GitLabJobID, Name: "CI (GitLab)", Type: dbtcloud.JobTypeCI, DeferringJobID: ArtifactsJobID})

	s.Hightouch = hightouchtest.New(o.TB)
	s.closers = append(s.closers, s.Hightouch.Close)
	s.Hightouch.AddSource(hightouchtest.Source{ID: HightouchSrc, Name: "Warehouse", Type: o.Warehouse.Type()})
	for _, h := range o.Project.HightouchModels() {
		s.Hightouch.AddModel(hightouchtest.Model{ID: h.ID, Name: h.Name, SourceID: HightouchSrc, PrimaryKey: h.PrimaryKey, SQL: h.SQL, Syncs: h.Syncs})
	}

	if err := o.Project.Build(ctx, o.Warehouse, Prod, ProdSchema); err != nil {
		return nil, err
	}
	s.DBTCloud.AddRun(dbtcloudtest.Run{AccountID: AccountID, JobID: ArtifactsJobID, GitSHA: BaseSHA, GitBranch: "main",
		CreatedAt: time.Now().Add(-time.Hour),
		Artifacts: map[string][]byte{"manifest.json": o.Project.Manifest(Prod, o.Warehouse.Database(), ProdSchema)}})

	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close stops the stand-ins; the warehouse is the caller's.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

func secret() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Repository is how diffgate.yaml names an integration's repository.
func (s *Stack) Repository(in Integration) string {
	if in.Provider == events.GitLab {
		return s.GitLab.Repository(in.Path)
	}
	return s.GitHub.Host() + "/" + in.Path
}

// writeConfig writes diffgate.yaml for the stand-ins and loads it.
func (s *Stack) writeConfig() error {
	o := s.o
	s.Env = map[string]string{
		"GITHUB_WEBHOOK_SECRET":    secret(),
		"GITHUB_PRIVATE_KEY":       string(s.GitHub.PrivateKeyPEM()),
		"DIFFGATE_DETAILS_SECRET":  secret(),
		"DBT_CLOUD_TOKEN":          s.DBTCloud.Token(),
		"DBT_CLOUD_WEBHOOK_SECRET": secret(),
		"HIGHTOUCH_TOKEN":          s.Hightouch.Token(),
		"WAREHOUSE_DSN":            o.Warehouse.DSN(),
	}
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "# diffgate.yaml of the sandbox: every URL is a stand-in on this machine.\n")
	fmt.Fprintf(&b, "server:\n  listen: \"127.0.0.1:0\"\n  details_secret: ${DIFFGATE_DETAILS_SECRET}\n")
	fmt.Fprintf(&b, "nats:\n  url: %s\n  store_dir: %s\n", q(o.NATSURL), q(filepath.Join(o.Dir, "nats")))
	fmt.Fprintf(&b, "log:\n  level: info\n")
	fmt.Fprintf(&b, "github:\n  app_id: %d\n  private_key: ${GITHUB_PRIVATE_KEY}\n  webhook_secret: ${GITHUB_WEBHOOK_SECRET}\n  web_url: %s\n  api_url: %s\n",
		s.GitHub.AppID(), q(s.GitHub.WebURL()), q(s.Recorder.URL+"/api/v3/"))
	if s.GitLab != nil {
		s.Env["GITLAB_TOKEN"] = s.GitLab.Token()
		s.Env["GITLAB_WEBHOOK_SECRET"] = secret()
		fmt.Fprintf(&b, "gitlab:\n  url: %s\n  token: ${GITLAB_TOKEN}\n  webhook_secret: ${GITLAB_WEBHOOK_SECRET}\n", q(s.GitLab.URL))
	}
	fmt.Fprintf(&b, "data_sources:\n  - name: %s\n    type: %s\n    dsn: ${WAREHOUSE_DSN}\n    max_concurrency: %d\n    query_timeout: 2m\n",
		DataSource, o.Warehouse.Type(), o.MaxConcurrency)
	b.WriteString("integrations:\n")
	for _, in := range o.Integrations {
		job := GitHubJobID
		if in.Provider == events.GitLab {
			job = GitLabJobID
		}
		fmt.Fprintf(&b, "  - name: %s\n    repository: %s\n    data_source: %s\n", q(in.Name), q(s.Repository(in)), DataSource)
		fmt.Fprintf(&b, "    dbt_cloud:\n      url: %s\n      token: ${DBT_CLOUD_TOKEN}\n      account_id: %d\n      artifacts_job_id: %d\n      pr_job_id: %d\n"+
			"      webhook_secret: ${DBT_CLOUD_WEBHOOK_SECRET}\n      poll_interval: %s\n      timeout: %s\n",
			q(s.DBTCloud.URL), AccountID, ArtifactsJobID, job, pollInterval, ciTimeout)
		fmt.Fprintf(&b, "    ci:\n      fail_on_primary_key_issues: %t\n      run_on_draft: %t\n", in.CI.FailOnPrimaryKeyIssues, in.CI.RunOnDraft)
		if in.CI.PRLabel != "" {
			fmt.Fprintf(&b, "      pr_label: %s\n", q(in.CI.PRLabel))
		}
		if len(in.CI.FilesToIgnore) > 0 {
			pats := make([]string, len(in.CI.FilesToIgnore))
			for i, p := range in.CI.FilesToIgnore {
				pats[i] = q(p)
			}
			fmt.Fprintf(&b, "      files_to_ignore: [%s]\n", strings.Join(pats, ", "))
		}
		fmt.Fprintf(&b, "    hightouch:\n      url: %s\n      token: ${HIGHTOUCH_TOKEN}\n      source_ids: [%d]\n", q(s.Hightouch.URL), HightouchSrc)
	}
	raw := []byte(b.String())
	s.ConfigPath = filepath.Join(o.Dir, "diffgate.yaml")
	if err := os.WriteFile(s.ConfigPath, raw, 0o600); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	cfg, err := config.Parse(raw, func(k string) (string, bool) { v, ok := s.Env[k]; return v, ok })
	if err != nil {
		return fmt.Errorf("sandbox: the generated diffgate.yaml: %w", err)
	}
	s.Config = cfg
	return nil
}

// PRSchema is the schema dbt Cloud builds a pull request in:
// dbt_cloud_pr_<job id>_<pr number>.
func PRSchema(provider events.Provider, pr int) string {
	job := GitHubJobID
	if provider == events.GitLab {
		job = GitLabJobID
	}
	return fmt.Sprintf("dbt_cloud_pr_%d_%d", job, pr)
}

// BuildPR builds the pull request's schema in the warehouse, once.
func (s *Stack) BuildPR(ctx context.Context, provider events.Provider, pr int) error {
	schema := PRSchema(provider, pr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.built[schema] {
		return nil
	}
	if err := s.Project.Build(ctx, s.Warehouse, PR, schema); err != nil {
		return err
	}
	s.built[schema] = true
	return nil
}

// CIRun builds the pull request's schema (once) and records the dbt Cloud
// CI run of its head, going through script (default: success at once).
func (s *Stack) CIRun(ctx context.Context, provider events.Provider, pr int, head string, script ...dbtcloudtest.Phase) (*dbtcloudtest.RunHandle, error) {
	if err := s.BuildPR(ctx, provider, pr); err != nil {
		return nil, err
	}
	r := dbtcloudtest.Run{AccountID: AccountID, GitSHA: head, GitBranch: fmt.Sprintf("change-%d", pr), Script: script,
		Artifacts: map[string][]byte{"manifest.json": s.Project.Manifest(PR, s.Warehouse.Database(), PRSchema(provider, pr))}}
	if provider == events.GitLab {
		r.JobID, r.GitLabMR = GitLabJobID, int64(pr)
	} else {
		r.JobID, r.GitHubPR = GitHubJobID, int64(pr)
	}
	return s.DBTCloud.AddRun(r), nil
}

// Process is one running diffgate process.
type Process struct {
	// URL is where it serves: webhooks, details pages, health.
	URL string

	stop  context.CancelFunc
	ended chan struct{}
	err   error
}

// ProcessOptions of Run.
type ProcessOptions struct {
	// Name of the process in its logs.
	Name string
	// Build makes its components: every builder of `diffgate serve`.
	Build service.Builder
	// Listener to serve on; default a fresh port on 127.0.0.1.
	Listener net.Listener
	// DrainTimeout bounds the stop; default 5s.
	DrainTimeout time.Duration
}

// Run starts a diffgate process on the stack's configuration and returns
// once it serves. Stop it with Stop.
func (s *Stack) Run(ctx context.Context, o ProcessOptions) (*Process, error) {
	if o.Name == "" {
		o.Name = "sandbox"
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Second
	}
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	out := s.o.Log
	if out == nil {
		out = io.Discard
	}
	ctx, stop := context.WithCancel(ctx)
	p := &Process{stop: stop, ended: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(p.ended)
		p.err = service.Run(ctx, service.Options{
			Name: o.Name, Config: s.Config, Embedded: s.o.NATSURL == "", Build: o.Build, Listener: ln,
			LogOutput: out, DrainTimeout: o.DrainTimeout,
			Ready: func(addr string) { ready <- addr },
		})
	}()
	select {
	case addr := <-ready:
		p.URL = "http://" + addr
		return p, nil
	case <-p.ended:
		stop()
		err := p.err
		if err == nil {
			err = errors.New("stopped before it started")
		}
		return nil, fmt.Errorf("sandbox: diffgate: %w", err)
	case <-time.After(2 * time.Minute):
		stop()
		return nil, errors.New("sandbox: diffgate did not start within 2 minutes")
	}
}

// Stop stops the process and returns how it ended.
func (p *Process) Stop() error {
	p.stop()
	return p.Wait()
}

// Wait waits for the process to end (by Stop, or by itself) and returns
// how it ended.
func (p *Process) Wait() error {
	<-p.ended
	return p.err
}

// GitHubHook sends webhook deliveries to the process as the App's GitHub
// would, signed with the configured secret.
func (s *Stack) GitHubHook(p *Process) githubtest.Webhook {
	return githubtest.Webhook{URL: p.URL + githubapp.DefaultWebhookRoute, Secret: s.Env["GITHUB_WEBHOOK_SECRET"]}
}

// GitLabHook sends webhook deliveries to the process as GitLab would,
// with the configured token.
func (s *Stack) GitLabHook(p *Process) gitlabtest.Hook {
	return gitlabtest.Hook{URL: p.URL + gitlab.HookRoute, Secret: s.Env["GITLAB_WEBHOOK_SECRET"]}
}

// PullRequest is a pull request of repository owner/name at head, known to
// the stand-in GitHub, as a delivery of action would describe it; mod
// changes it before the stand-in learns it.
func (s *Stack) PullRequest(action, repo string, number int, head string, mod func(*githubtest.PullRequest)) githubtest.PullRequest {
	p := githubtest.PullRequest{Action: action, Repo: repo, Number: number, Title: "Apply coupon discounts to order amounts",
		HeadSHA: head, HeadRef: fmt.Sprintf("coupons-%d", number), BaseSHA: BaseSHA, BaseRef: "main",
		Installation: Installation, WebURL: s.GitHub.WebURL(), User: "maria"}
	if mod != nil {
		mod(&p)
	}
	state := "open"
	if p.Action == "closed" {
		state = "closed"
	}
	s.mu.Lock()
	files, ok := s.files[fmt.Sprint(repo, "#", number)]
	s.mu.Unlock()
	if !ok {
		files = []githubtest.File{{Filename: "models/staging/stg_orders.sql", Status: "modified"}}
	}
	s.GitHub.AddPR(repo, githubtest.PR{Number: p.Number, Title: p.Title, State: state, Draft: p.Draft, Labels: p.Labels,
		HeadSHA: p.HeadSHA, HeadRef: p.HeadRef, BaseSHA: p.BaseSHA, BaseRef: p.BaseRef, HeadRepo: p.HeadRepo, User: p.User,
		Files: files})
	return p
}

// SetFiles sets the changed files of a pull request (by default the one
// model file the sample change edits), now and for later PullRequest
// calls.
func (s *Stack) SetFiles(repo string, number int, files ...githubtest.File) {
	s.mu.Lock()
	s.files[fmt.Sprint(repo, "#", number)] = files
	s.mu.Unlock()
	s.GitHub.SetFiles(repo, number, files...)
}
