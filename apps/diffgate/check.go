package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
	glapi "github.com/xanzy/go-gitlab"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/datadiff/warehouse"
	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/workers/manifests"
)

// minNATS is the oldest nats-server diffgate works with (docs/nats.md).
var minNATS = [3]int{2, 9, 0}

// schemasChecked bounds the production schemas whose access check tries;
// a project with more names the rest as not checked.
const schemasChecked = 5

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("DIFFGATE_CONFIG"), "path to diffgate.yaml (env DIFFGATE_CONFIG)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long each service may take to answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *path == "" {
		return fmt.Errorf("%w: --config is required: diffgate check --config diffgate.yaml", errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	// Clients log retries; a check prints its own lines instead.
	ctx = zerolog.Nop().WithContext(ctx)
	c := &checker{out: stdout, timeout: *timeout, sources: map[string]*sourceCheck{}}
	c.run(ctx, *path)
	c.summary()
	if c.failed > 0 {
		return errFailed
	}
	return nil
}

// checker runs the checklist of a config and prints one line per check:
// ✓ passed, ✗ failed (followed by what to do), – not checked and why.
// Every line passes through config.Redact, so even an error that quotes a
// credential back prints none.
type checker struct {
	out     io.Writer
	timeout time.Duration
	secrets []config.Secret

	passed, failed, skipped int

	cfg      *config.Config
	sources  map[string]*sourceCheck // by data source name
	ghClient *github.Client          // app-authenticated; nil until needed
	ghErr    error
}

// sourceCheck is a data source opened once for every integration using it.
type sourceCheck struct {
	src *datadiff.Source
	err error
}

func (c *checker) print(format string, args ...any) {
	fmt.Fprintln(c.out, config.Redact(fmt.Sprintf(format, args...), c.secrets...))
}

func (c *checker) section(format string, args ...any) {
	fmt.Fprintln(c.out)
	c.print(format, args...)
}

func (c *checker) ok(format string, args ...any) {
	c.passed++
	c.print("  ✓ "+format, args...)
}

// fail prints a failed check and what to do about it.
func (c *checker) fail(what, fix string) {
	c.failed++
	c.print("  ✗ %s", what)
	if fix != "" {
		c.print("    → %s", fix)
	}
}

func (c *checker) skip(format string, args ...any) {
	c.skipped++
	c.print("  – "+format, args...)
}

func (c *checker) summary() {
	fmt.Fprintln(c.out)
	switch {
	case c.failed == 0:
		fmt.Fprintf(c.out, "All %d checks passed", c.passed)
	case c.failed == 1:
		fmt.Fprintf(c.out, "1 check failed, %d passed", c.passed)
	default:
		fmt.Fprintf(c.out, "%d checks failed, %d passed", c.failed, c.passed)
	}
	if c.skipped > 0 {
		fmt.Fprintf(c.out, ", %d not checked", c.skipped)
	}
	fmt.Fprintln(c.out, ".")
}

// bounded is ctx with the per-service timeout.
func (c *checker) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

func (c *checker) run(ctx context.Context, path string) {
	c.print("diffgate check %s", path)
	c.section("Configuration")
	cfg, err := config.Load(path)
	if err != nil {
		c.fail(strings.ReplaceAll(err.Error(), "\n", "\n      "),
			"fix the keys named above (docs/config-reference.md describes each); nothing else was checked")
		return
	}
	c.cfg = cfg
	c.secrets = cfg.Secrets()
	c.ok("%s is valid: %s, %s", path, plural(len(cfg.Integrations), "integration"), plural(len(cfg.DataSources), "data source"))
	if len(cfg.Integrations) == 0 {
		c.skip("no integrations: add one per dbt repository under integrations")
	}
	defer func() {
		for _, s := range c.sources {
			if s.src != nil {
				s.src.Close()
			}
		}
	}()

	c.checkNATS(ctx)
	for i := range cfg.Integrations {
		c.checkIntegration(ctx, &cfg.Integrations[i])
	}
	used := map[string]bool{}
	for _, in := range cfg.Integrations {
		used[in.DataSource] = true
	}
	for i := range cfg.DataSources {
		if d := &cfg.DataSources[i]; !used[d.Name] {
			c.section("Data source %s (no integration uses it)", d.Name)
			c.source(ctx, d)
		}
	}
}

func (c *checker) checkNATS(ctx context.Context) {
	c.section("NATS")
	n := c.cfg.NATS
	if n.URL == "" {
		c.skip("no nats.url: `diffgate serve` runs an embedded server; every component binary needs nats.url")
		return
	}
	where := bus.RedactURL(n.URL)
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	b, err := bus.Connect(cctx, bus.Options{
		URL: n.URL, CredsFile: n.CredsFile, Name: "diffgate-check",
		TLS: bus.TLSOptions{CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile},
	})
	if err != nil {
		c.fail(strings.TrimPrefix(err.Error(), "bus: "),
			"check nats.url (and nats.creds_file, nats.tls), and that the server is up and reachable from here")
		return
	}
	defer b.Close()
	version := b.Conn().ConnectedServerVersion()
	if !atLeast(version, minNATS) {
		c.fail(fmt.Sprintf("%s runs nats-server %s, older than %d.%d.%d", where, version, minNATS[0], minNATS[1], minNATS[2]),
			"upgrade the NATS server (docs/nats.md says why 2.9 is the minimum)")
		return
	}
	if _, err := b.JetStream().AccountInfo(cctx); err != nil {
		c.fail(fmt.Sprintf("%s answers (nats-server %s) but JetStream is not available: %v", where, version, err),
			"enable JetStream on the server (nats-server -js, or a jetstream block in its config) for this account")
		return
	}
	switch err := b.Ready(cctx); {
	case err == nil:
		c.ok("%s answers: nats-server %s, JetStream on, diffgate's streams present", where, version)
	case errors.Is(err, bus.ErrStreamMissing):
		c.ok("%s answers: nats-server %s, JetStream on", where, version)
		c.skip("diffgate's streams are not there yet: the first component to start creates them")
	default:
		c.fail(fmt.Sprintf("%s answers (nats-server %s) but its streams cannot be read: %v", where, version, err),
			"check that the NATS user may use JetStream ($JS.API.>) in its account")
	}
}

// atLeast compares a server version such as "2.10.22" or "2.11.0-RC.1".
func atLeast(version string, min [3]int) bool {
	core, _, _ := strings.Cut(version, "-")
	parts := strings.Split(core, ".")
	for i := range 3 {
		n := 0
		if i < len(parts) {
			n, _ = strconv.Atoi(parts[i])
		}
		if n != min[i] {
			return n > min[i]
		}
	}
	return true
}

func (c *checker) checkIntegration(ctx context.Context, in *config.Integration) {
	c.section("Integration %s (%s)", in.Name, in.Repository)
	if !in.CI.IsEnabled() {
		c.skip("ci.enabled is false: pull requests of this repository are not diffed")
	}
	prod, pr := c.checkDBTCloud(ctx, in)
	if d, ok := c.cfg.DataSourceByName(in.DataSource); ok {
		if src := c.source(ctx, d); src != nil {
			c.checkSchemas(ctx, in, d, src, prod, pr)
		}
	}
	if in.Hightouch != nil {
		c.checkHightouch(ctx, in)
	}
	switch in.Provider {
	case events.GitHub:
		c.checkGitHub(ctx, in)
	case events.GitLab:
		c.checkGitLab(ctx, in)
	}
}

// dbtManifest is a manifest read from a dbt Cloud run.
type dbtManifest struct {
	run *dbtcloud.Run
	m   *dbt.Manifest
}

// checkDBTCloud checks the token, both jobs and the production manifest.
// It returns the production manifest, and the newest PR run's manifest
// when there is one, for the warehouse checks.
func (c *checker) checkDBTCloud(ctx context.Context, in *config.Integration) (prod, pr *dbtManifest) {
	d := in.DBTCloud
	client, err := dbtcloud.New(d.URL, d.Token.Value(),
		dbtcloud.WithTimeout(c.timeout),
		dbtcloud.WithRetry(dbtcloud.RetryPolicy{MaxAttempts: 3, MaxWait: c.timeout, BaseDelay: 500 * time.Millisecond}))
	if err != nil {
		c.fail("dbt Cloud: "+err.Error(), "fix dbt_cloud.url and dbt_cloud.token")
		return nil, nil
	}
	cctx, cancel := c.bounded(ctx)
	account, err := client.GetAccount(cctx, d.AccountID)
	cancel()
	if err != nil {
		c.fail(dbtErr("", err), dbtFix(err, fmt.Sprintf(
			"set dbt_cloud.token to a service token of account %d with the Member or Developer permission, and check dbt_cloud.url (%s)",
			d.AccountID, client.AccessURL())))
		if errors.Is(err, dbtcloud.ErrUnauthorized) || errors.Is(err, dbtcloud.ErrForbidden) {
			c.skip("dbt Cloud jobs and runs not checked: the account is not reachable with this token")
			return nil, nil
		}
	} else {
		c.ok("dbt Cloud: token accepted; account %q (%d) at %s", account.Name, account.ID, client.AccessURL())
	}

	artifactsOK := c.checkJob(ctx, client, d.AccountID, d.ArtifactsJobID, "artifacts_job_id", false)
	prOK := c.checkJob(ctx, client, d.AccountID, d.PRJobID, "pr_job_id", true)
	if artifactsOK {
		prod = c.newestManifest(ctx, client, in, d.ArtifactsJobID, true)
	}
	if prOK {
		pr = c.newestManifest(ctx, client, in, d.PRJobID, false)
	}
	return prod, pr
}

// checkJob checks that a job is visible and of the right kind: the PR job
// a CI job, the artifacts job not one.
func (c *checker) checkJob(ctx context.Context, client *dbtcloud.Client, account, id int64, key string, wantCI bool) bool {
	cctx, cancel := c.bounded(ctx)
	job, err := client.GetJob(cctx, account, id)
	cancel()
	if err != nil {
		c.fail(dbtErr(key, err), dbtFix(err, fmt.Sprintf(
			"set dbt_cloud.%s to a job id of account %d (the number after /jobs/ in its dbt Cloud URL) that the token's permissions cover", key, account)))
		return false
	}
	kind := job.JobType
	if kind == "" {
		kind = "unknown type"
	}
	switch {
	case !job.Active():
		c.fail(fmt.Sprintf("dbt Cloud: %s: job %d %q is deleted", key, id, job.Name), "set dbt_cloud."+key+" to a live job")
		return false
	case wantCI && !job.IsCI():
		c.fail(fmt.Sprintf("dbt Cloud: pr_job_id: job %d %q is a %s job, not a CI job", id, job.Name, kind),
			"set dbt_cloud.pr_job_id to the job dbt Cloud runs on pull requests (a continuous integration job triggered by pull requests)")
		return false
	case !wantCI && job.IsCI():
		c.fail(fmt.Sprintf("dbt Cloud: artifacts_job_id: job %d %q is a CI job", id, job.Name),
			"set dbt_cloud.artifacts_job_id to a production job (scheduled, or run on merge) whose runs hold production's manifest.json")
		return false
	case wantCI:
		c.ok("dbt Cloud: pr_job_id: job %d %q is a CI job", id, job.Name)
	default:
		c.ok("dbt Cloud: artifacts_job_id: job %d %q is visible (%s)", id, job.Name, kind)
	}
	return true
}

// newestManifest reads the manifest.json of the job's newest successful
// run. For the artifacts job a missing run or manifest is a failure; for
// the PR job (which may not have run yet) it is only noted.
func (c *checker) newestManifest(ctx context.Context, client *dbtcloud.Client, in *config.Integration, job int64, production bool) *dbtManifest {
	account := in.DBTCloud.AccountID
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	// Production's manifest comes from the newest of the recent successful
	// runs that saved one, as the manifests worker picks it; a PR job's
	// newest run is enough to find its schemas.
	limit := 1
	if production {
		limit = manifests.RecentRuns
	}
	page, err := client.ListRuns(cctx, account, dbtcloud.RunFilter{JobDefinitionID: job, Status: dbtcloud.StatusSuccess, Limit: limit})
	if err != nil {
		if production {
			c.fail(dbtErr("", err), dbtFix(err, "check that the token may read the job's runs"))
		} else {
			c.skip("dbt Cloud: runs of PR job %d not read (%v): access to PR schemas not checked", job, err)
		}
		return nil
	}
	if len(page.Runs) == 0 {
		if production {
			c.fail(fmt.Sprintf("dbt Cloud: artifacts job %d has no successful run", job),
				"run the job once in dbt Cloud: diffgate reads production's manifest.json from its newest successful run")
		} else {
			c.skip("dbt Cloud: PR job %d has no successful run yet: access to PR schemas (dbt_cloud_pr_%d_*) is checked once it has", job, job)
		}
		return nil
	}
	run, skipped, err := withManifest(cctx, client, account, page.Runs)
	if err == nil && len(skipped) == len(page.Runs) {
		err = fmt.Errorf("run #%d of job %d saved no manifest.json", run.ID, job)
		if len(skipped) > 1 {
			err = fmt.Errorf("none of the %d most recent successful runs of job %d saved a manifest.json", len(skipped), job)
		}
	}
	var m *dbt.Manifest
	if err == nil {
		m, err = c.readManifest(cctx, client, account, run.ID)
	}
	if err != nil {
		if production {
			c.fail(dbtErr("", err),
				fmt.Sprintf("make the artifacts job write target/manifest.json (any dbt build, run, ls or docs generate step does) and run it; see %s", client.RunURL(&run)))
		} else {
			c.skip("dbt Cloud: no manifest.json from PR job %d's run #%d (%v): access to PR schemas not checked", job, run.ID, err)
		}
		return nil
	}
	if production {
		finished := ""
		if !run.FinishedAt.IsZero() {
			finished = ", finished " + run.FinishedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		newer := ""
		if len(skipped) > 0 {
			ids := make([]string, len(skipped))
			for i, id := range skipped {
				ids[i] = fmt.Sprintf("#%d", id)
			}
			word := "run"
			if len(ids) > 1 {
				word = "runs"
			}
			newer = fmt.Sprintf("; newer %s %s saved none", word, strings.Join(ids, ", "))
		}
		c.ok("dbt Cloud: artifacts job %d: run #%d succeeded%s with a manifest.json (%s built)%s",
			job, run.ID, finished, plural(len(m.Relations()), "relation"), newer)
	}
	return &dbtManifest{run: &run, m: m}
}

// withManifest returns the first of runs (newest first) that saved a
// manifest.json and the runs before it that saved none; when none did, the
// first run and all of them.
func withManifest(ctx context.Context, client *dbtcloud.Client, account int64, runs []dbtcloud.Run) (dbtcloud.Run, []int64, error) {
	var skipped []int64
	for _, r := range runs {
		arts, err := client.ListArtifacts(ctx, account, r.ID)
		if err != nil {
			return r, skipped, err
		}
		if slices.Contains(arts, "manifest.json") {
			return r, skipped, nil
		}
		skipped = append(skipped, r.ID)
	}
	return runs[0], skipped, nil
}

// readManifest streams a run's manifest.json into the reader.
func (c *checker) readManifest(ctx context.Context, client *dbtcloud.Client, account, run int64) (*dbt.Manifest, error) {
	limit := int64(c.cfg.Limits.ManifestMaxSize)
	pr, pw := io.Pipe()
	go func() {
		_, err := client.GetArtifact(ctx, account, run, "manifest.json", pw, dbtcloud.MaxBytes(limit))
		pw.CloseWithError(err)
	}()
	m, err := dbt.Read(ctx, pr, dbt.ReadOptions{MaxBytes: limit})
	pr.CloseWithError(io.ErrClosedPipe) // stop the download if reading stopped early
	if err != nil {
		return nil, fmt.Errorf("manifest.json of run #%d cannot be read: %w", run, err)
	}
	return m, nil
}

// dbtErr is a dbt Cloud error as a check line, about key when given.
func dbtErr(key string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "dbt Cloud: ")
	if key != "" {
		msg = key + ": " + msg
	}
	return "dbt Cloud: " + msg
}

// dbtFix says what to do about a dbt Cloud error.
func dbtFix(err error, fallback string) string {
	switch {
	case errors.Is(err, dbtcloud.ErrUnauthorized):
		return "set dbt_cloud.token to a valid service token (Account settings → Service tokens) with the Member or Developer permission"
	case errors.Is(err, dbtcloud.ErrUnavailable):
		return "dbt Cloud did not answer in time: check dbt_cloud.url and that this machine reaches it, then run the check again"
	}
	return fallback
}

// source opens a data source once and says whether it answers.
func (c *checker) source(ctx context.Context, d *config.DataSource) *datadiff.Source {
	if s, ok := c.sources[d.Name]; ok {
		return s.src
	}
	s := &sourceCheck{}
	c.sources[d.Name] = s
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	s.src, s.err = warehouse.Open(cctx, d.Type, d.DSN.Value(), datadiff.Options{MaxConcurrency: 1, QueryTimeout: c.timeout})
	if s.err == nil {
		s.err = s.src.Ping(cctx)
	}
	if s.err != nil {
		c.fail(fmt.Sprintf("warehouse: %s data source %q does not answer: %v", d.Type, d.Name, s.err),
			"check data_sources[].dsn (host, port, database, user) and that this machine reaches the database")
		if s.src != nil {
			s.src.Close()
			s.src = nil
		}
		return nil
	}
	c.ok("warehouse: %s data source %q answers", d.Type, d.Name)
	return s.src
}

// checkSchemas checks that the data source's role can read production's
// schemas (a relation of each, from the production manifest) and, when a
// PR run exists, the PR schema it built.
func (c *checker) checkSchemas(ctx context.Context, in *config.Integration, d *config.DataSource, src *datadiff.Source, prod, pr *dbtManifest) {
	if prod == nil {
		c.skip("warehouse: access to production schemas not checked: no production manifest")
		return
	}
	bySchema := map[string][]dbt.NodeRelation{}
	var schemas []string
	for _, r := range prod.m.Relations() {
		key := schemaName(r.Relation)
		if _, ok := bySchema[key]; !ok {
			schemas = append(schemas, key)
		}
		bySchema[key] = append(bySchema[key], r)
	}
	slices.Sort(schemas)
	if len(schemas) == 0 {
		c.skip("warehouse: the production manifest builds no relation: no schema to check")
	}
	for i, s := range schemas {
		if i == schemasChecked {
			c.skip("warehouse: %d more production schemas not checked", len(schemas)-schemasChecked)
			break
		}
		rel := bySchema[s][0].Relation
		switch err := canRead(ctx, c, src, rel); {
		case err == nil:
			c.ok("warehouse: the role reads production schema %s (%s)", s, rel)
		case errors.Is(err, datadiff.ErrPermissionDenied):
			c.fail(fmt.Sprintf("warehouse: data source %q may not read production schema %s: %v", d.Name, s, err),
				fmt.Sprintf("grant the role read access to schema %s and its tables (docs/security.md has the SQL)", s))
		case errors.Is(err, datadiff.ErrRelationMissing):
			c.fail(fmt.Sprintf("warehouse: %s, from production's manifest (run #%d), does not exist in data source %q", rel, prod.run.ID, d.Name),
				"set the integration's data_source to the warehouse dbt Cloud's production environment builds in (or grant the role USAGE on the schema, which some databases require to see it)")
		default:
			c.fail(fmt.Sprintf("warehouse: reading %s in data source %q failed: %v", rel, d.Name, err), "check the data source and run the check again")
		}
	}
	c.checkPRSchema(ctx, in, d, src, bySchema, pr)
}

func (c *checker) checkPRSchema(ctx context.Context, in *config.Integration, d *config.DataSource, src *datadiff.Source, prodSchemas map[string][]dbt.NodeRelation, pr *dbtManifest) {
	if pr == nil {
		return // newestManifest said why
	}
	var tried []string
	for _, r := range pr.m.Relations() {
		s := schemaName(r.Relation)
		if _, isProd := prodSchemas[s]; isProd {
			continue // deferred to production
		}
		if len(tried) == schemasChecked {
			break
		}
		tried = append(tried, r.Relation.String())
		switch err := canRead(ctx, c, src, r.Relation); {
		case err == nil:
			c.ok("warehouse: the role reads PR schema %s of run #%d (%s)", s, pr.run.ID, r.Relation)
			return
		case errors.Is(err, datadiff.ErrPermissionDenied):
			c.fail(fmt.Sprintf("warehouse: data source %q may not read PR schema %s of run #%d: %v", d.Name, s, pr.run.ID, err),
				"the role must read every schema dbt Cloud's CI job creates (dbt_cloud_pr_*): grant it through default privileges or dbt's grants config (docs/security.md)")
			return
		case errors.Is(err, datadiff.ErrRelationMissing):
			continue // not built by that run (deferred) or dropped since
		default:
			c.fail(fmt.Sprintf("warehouse: reading %s in data source %q failed: %v", r.Relation, d.Name, err), "check the data source and run the check again")
			return
		}
	}
	if len(tried) == 0 {
		c.skip("warehouse: PR job %d's run #%d built nothing outside production's schemas: access to PR schemas not checked", in.DBTCloud.PRJobID, pr.run.ID)
		return
	}
	c.skip("warehouse: the relations of PR job %d's run #%d are gone (dbt Cloud drops a PR's schema when the PR closes): access to PR schemas not checked",
		in.DBTCloud.PRJobID, pr.run.ID)
}

func schemaName(r events.Relation) string {
	if r.Database == "" {
		return r.Schema
	}
	return r.Database + "." + r.Schema
}

// canRead asks the warehouse for a relation's columns, reading no row:
// the query fails as a diff would on a missing relation or a missing
// privilege.
func canRead(ctx context.Context, c *checker, src *datadiff.Source, r events.Relation) error {
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	d, rel := src.Dialect(), r.Datadiff()
	name, err := d.Relation(rel)
	if err != nil {
		return err
	}
	conn, err := src.DB().Conn(cctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := d.Columns(cctx, conn, "SELECT * FROM "+name, &rel); err != nil {
		if sentinel := d.Classify(err); sentinel != nil && !errors.Is(err, sentinel) {
			return fmt.Errorf("%w: %v", sentinel, err)
		}
		return err
	}
	return nil
}

func (c *checker) checkHightouch(ctx context.Context, in *config.Integration) {
	h := in.Hightouch
	client, err := hightouch.New(h.Token.Value(), hightouch.WithBaseURL(h.URL),
		hightouch.WithHTTPClient(&http.Client{Timeout: c.timeout}),
		hightouch.WithRetry(hightouch.RetryPolicy{MaxAttempts: 3, MaxWait: c.timeout}))
	if err != nil {
		c.fail("Hightouch: "+err.Error(), "set hightouch.token to a workspace API key")
		return
	}
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	sources, err := client.ListSources(cctx)
	if err != nil {
		fix := "check hightouch.url and that this machine reaches it"
		if errors.Is(err, hightouch.ErrUnauthorized) || errors.Is(err, hightouch.ErrForbidden) {
			fix = "set hightouch.token to an API key of the workspace (Settings → API keys)"
		}
		c.fail("Hightouch: "+strings.TrimPrefix(err.Error(), "hightouch: "), fix)
		return
	}
	byID := map[string]hightouch.Source{}
	var have []string
	for _, s := range sources {
		byID[string(s.ID)] = s
		have = append(have, fmt.Sprintf("%s %q", s.ID, s.Name))
	}
	var found []string
	for _, id := range h.SourceIDs {
		s, ok := byID[strconv.FormatInt(id, 10)]
		if !ok {
			has := "none"
			if len(have) > 0 {
				has = strings.Join(have, ", ")
			}
			c.fail(fmt.Sprintf("Hightouch: source %d is not in the key's workspace (it has: %s)", id, has),
				fmt.Sprintf("set hightouch.source_ids to the Hightouch sources that read data source %q", in.DataSource))
			continue
		}
		found = append(found, fmt.Sprintf("%d %q (%s)", id, s.Name, s.Type))
	}
	if len(found) > 0 {
		c.ok("Hightouch: key accepted; source %s", strings.Join(found, ", source "))
	}
}

// githubApp returns the App-authenticated client, checking the App's
// credentials the first time.
func (c *checker) githubApp(ctx context.Context) (*github.Client, error) {
	if c.ghClient != nil || c.ghErr != nil {
		return c.ghClient, c.ghErr
	}
	gh := c.cfg.GitHub
	key := []byte(gh.PrivateKey.Value())
	if len(key) == 0 {
		var err error
		if key, err = os.ReadFile(gh.PrivateKeyFile); err != nil {
			c.ghErr = fmt.Errorf("github.private_key_file: %w", err)
			return nil, c.ghErr
		}
	}
	cc := githubapp.NewClientCreator(gh.APIURL, "", gh.AppID, key,
		githubapp.WithClientUserAgent("diffgate-check"), githubapp.WithClientTimeout(c.timeout))
	client, err := cc.NewAppClient()
	if err != nil {
		c.ghErr = fmt.Errorf("the App's private key cannot be used: %w", err)
		return nil, c.ghErr
	}
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	app, _, err := client.Apps.Get(cctx, "")
	if err != nil {
		c.ghErr = fmt.Errorf("GitHub does not accept the App's credentials (app_id %d): %s", gh.AppID, strings.TrimSuffix(err.Error(), " []"))
		return nil, c.ghErr
	}
	c.ok("GitHub: App %q (id %d) accepts the private key", app.GetName(), gh.AppID)
	c.ghClient = client
	return client, nil
}

// githubPermissions are what the App asks for (docs/github-app.md): check
// runs, pull request comments and the pull request's files.
var githubPermissions = []struct {
	name  string
	level string
	get   func(*github.InstallationPermissions) string
}{
	{"checks", "write", func(p *github.InstallationPermissions) string { return p.GetChecks() }},
	{"pull_requests", "write", func(p *github.InstallationPermissions) string { return p.GetPullRequests() }},
	{"contents", "read", func(p *github.InstallationPermissions) string { return p.GetContents() }},
}

func permissionAtLeast(have, want string) bool {
	rank := map[string]int{"read": 1, "write": 2, "admin": 3}
	return rank[have] >= rank[want]
}

func (c *checker) checkGitHub(ctx context.Context, in *config.Integration) {
	client, err := c.githubApp(ctx)
	if err != nil {
		c.fail("GitHub: "+err.Error(), "check github.app_id and the private key (the App's settings page shows the id and makes keys), and github.api_url")
		return
	}
	owner, repo := repoPath(in.Repository)
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	inst, resp, err := client.Apps.FindRepositoryInstallation(cctx, owner, repo)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			c.fail(fmt.Sprintf("GitHub: the App is not installed on %s/%s (or not given access to it)", owner, repo),
				"install the App on the repository: the App's page → Install App → choose the account → select this repository")
			return
		}
		c.fail(fmt.Sprintf("GitHub: looking up the App's installation on %s/%s failed: %v", owner, repo, err), "check github.api_url and run the check again")
		return
	}
	var missing []string
	perms := inst.GetPermissions()
	if perms == nil {
		perms = &github.InstallationPermissions{}
	}
	for _, p := range githubPermissions {
		if have := p.get(perms); !permissionAtLeast(have, p.level) {
			missing = append(missing, fmt.Sprintf("%s:%s (has %s)", p.name, p.level, orNone(have)))
		}
	}
	if len(missing) > 0 {
		c.fail(fmt.Sprintf("GitHub: the App's installation %d on %s/%s lacks %s", inst.GetID(), owner, repo, strings.Join(missing, ", ")),
			"give the App these repository permissions in its settings, then accept the new permissions on the installation")
		return
	}
	c.ok("GitHub: the App can see %s/%s (installation %d) with checks:write, pull_requests:write, contents:read", owner, repo, inst.GetID())
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// repoPath splits host/path of a repository: "github.com/acme/analytics"
// gives ("acme", "analytics"); "gitlab.com/g/sub/p" gives ("g", "sub/p").
func repoPath(repository string) (first, rest string) {
	_, path, _ := strings.Cut(repository, "/")
	first, rest, _ = strings.Cut(path, "/")
	return first, rest
}

func (c *checker) checkGitLab(ctx context.Context, in *config.Integration) {
	gl := c.cfg.GitLab
	first, rest := repoPath(in.Repository)
	path := first + "/" + rest
	// The bot's client library, which adds /api/v4 to gitlab.url unless it
	// is there already; no retries, as in the bot.
	//lint:ignore SA1019 go-gitlab v0.115.0 is pinned on purpose (docs/decisions/0004-gitlab-client.md).
	api, err := glapi.NewClient(gl.Token.Value(), glapi.WithBaseURL(gl.URL), glapi.WithoutRetries(),
		glapi.WithHTTPClient(&http.Client{Timeout: c.timeout}))
	if err != nil {
		c.fail("GitLab: "+err.Error(), "check gitlab.url")
		return
	}
	api.UserAgent = "diffgate-check"
	cctx, cancel := c.bounded(ctx)
	defer cancel()
	p, resp, err := api.Projects.GetProject(path, nil, glapi.WithContext(cctx))
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch {
	case err == nil:
	case status == http.StatusUnauthorized:
		c.fail(fmt.Sprintf("GitLab: %s rejected gitlab.token (HTTP 401)", gl.URL),
			"set gitlab.token to a valid, unexpired access token with the api scope")
		return
	case status == http.StatusNotFound, status == http.StatusForbidden:
		c.fail(fmt.Sprintf("GitLab: the token cannot see project %s (HTTP %d)", path, status),
			"check the repository path, and give the token's user (or the project or group access token) the Developer role on the project")
		return
	case status != 0:
		c.fail(fmt.Sprintf("GitLab: GET /projects/%s answered HTTP %d", path, status), "check gitlab.url and run the check again")
		return
	default:
		c.fail(fmt.Sprintf("GitLab: %s does not answer: %v", gl.URL, err), "check gitlab.url and that this machine reaches it")
		return
	}
	var level glapi.AccessLevelValue
	if perms := p.Permissions; perms != nil {
		if a := perms.ProjectAccess; a != nil {
			level = a.AccessLevel
		}
		if a := perms.GroupAccess; a != nil && a.AccessLevel > level {
			level = a.AccessLevel
		}
	}
	if level < glapi.DeveloperPermissions {
		c.fail(fmt.Sprintf("GitLab: the token sees %s but has %s access; commit statuses need Developer", path, gitlabLevel(level)),
			"give the token's user (or the project or group access token) the Developer role on the project")
		return
	}
	c.ok("GitLab: the token sees %s (project %d) with %s access", path, p.ID, gitlabLevel(level))
}

func gitlabLevel(n glapi.AccessLevelValue) string {
	switch {
	case n >= glapi.OwnerPermissions:
		return "Owner"
	case n >= glapi.MaintainerPermissions:
		return "Maintainer"
	case n >= glapi.DeveloperPermissions:
		return "Developer"
	case n >= glapi.ReporterPermissions:
		return "Reporter"
	case n >= glapi.GuestPermissions:
		return "Guest"
	}
	return "no"
}
