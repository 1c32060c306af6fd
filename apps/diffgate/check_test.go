package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/hightouch/hightouchtest"
	"github.com/diffgate/diffgate/shared/testenv"
)

// Secrets of the test world: none may appear in the check's output.
const (
	ghWebhookSecret = "gh-webhook-secret-4f1c"
	glToken         = "glpat-check-token-9a7e"
	glWebhookSecret = "gl-webhook-secret-3b2d"
	dbtToken        = "dbtc_check_token_51e0"
	htToken         = "ht-check-key-0c9b"
	pgPassword      = "pg-check-password-77d1"
	detailsSecret   = "details-secret-0123456789abcdef"
)

const (
	accountID    = 1
	artifactsJob = 11
	prJob        = 22
	glJob        = 33
	htSource     = 42
	ghAppID      = 4321
)

// world is every service a config names: dbt Cloud and Hightouch
// stand-ins, GitHub and GitLab handlers, a real PostgreSQL schema and role,
// and a real NATS server. Cases change it before the config is written.
type world struct {
	t   *testing.T
	dbt *dbtcloudtest.Server
	ht  *hightouchtest.Server
	gh  *fakeGitHub
	gl  *fakeGitLab
	pg  *pgWorld

	natsURL    string
	dsn        string
	sourceIDs  string
	appKeyPEM  string
	artifacts  *dbtcloudtest.RunHandle
	prodSchema string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, sourceIDs: strconv.Itoa(htSource)}
	w.pg = newPG(t)
	w.prodSchema = w.pg.prod

	w.dbt = dbtcloudtest.New(t, dbtcloudtest.WithToken(dbtToken))
	w.dbt.AddAccount(accountID, "Acme Analytics")
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: accountID, ID: artifactsJob, Name: "Production", Type: dbtcloud.JobTypeScheduled})
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: accountID, ID: prJob, Name: "CI", Type: dbtcloud.JobTypeCI})
	w.dbt.AddJob(dbtcloudtest.Job{AccountID: accountID, ID: glJob, Name: "CI (GitLab)", Type: dbtcloud.JobTypeCI})
	w.artifacts = w.dbt.AddRun(dbtcloudtest.Run{AccountID: accountID, JobID: artifactsJob,
		Artifacts: map[string][]byte{"manifest.json": manifest(w.pg.prod, "orders", "customers")}})
	w.dbt.AddRun(dbtcloudtest.Run{AccountID: accountID, JobID: prJob, GitHubPR: 7, GitSHA: strings.Repeat("a", 40),
		Artifacts: map[string][]byte{"manifest.json": manifest(w.pg.pr, "orders", "customers")}})

	w.ht = hightouchtest.New(t, hightouchtest.WithToken(htToken))
	w.ht.AddSource(hightouchtest.Source{ID: htSource, Name: "Warehouse", Type: "postgres"})

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	w.appKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	w.gh = newFakeGitHub(t, &key.PublicKey)
	w.gh.install("acme/analytics", 77, map[string]string{"checks": "write", "pull_requests": "write", "contents": "read", "metadata": "read"})
	w.gl = newFakeGitLab(t)
	w.gl.project("data/platform/marts", 501, 30)

	e := bustest.Embedded(t)
	bustest.ConnectTo(t, e.URL()) // declares diffgate's streams, as a component would
	w.natsURL = e.URL()
	w.dsn = w.pg.dsn(w.pg.role)
	return w
}

// config is a diffgate.yaml naming every service of the world: a GitHub
// integration with Hightouch and a GitLab one, on one warehouse.
func (w *world) config() string {
	indent := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ") }
	return fmt.Sprintf(`
server:
  public_url: https://diffgate.example.com
  details_secret: %[1]s
nats:
  url: %[2]s
github:
  app_id: %[3]d
  private_key: |
    %[4]s
  webhook_secret: %[5]s
  web_url: %[6]s
  api_url: %[6]s/api/v3/
gitlab:
  url: %[7]s
  token: %[8]s
  webhook_secret: %[9]s
data_sources:
  - name: warehouse
    type: postgres
    dsn: %[10]q
integrations:
  - name: analytics
    repository: %[11]s/acme/analytics
    data_source: warehouse
    dbt_cloud:
      url: %[12]s
      token: %[13]s
      account_id: %[14]d
      artifacts_job_id: %[15]d
      pr_job_id: %[16]d
    hightouch:
      url: %[17]s
      token: %[18]s
      source_ids: [%[19]s]
  - name: marts
    repository: %[20]s/data/platform/marts
    data_source: warehouse
    dbt_cloud:
      url: %[12]s
      token: %[13]s
      account_id: %[14]d
      artifacts_job_id: %[15]d
      pr_job_id: %[21]d
`, detailsSecret, w.natsURL, ghAppID, indent(w.appKeyPEM), ghWebhookSecret, w.gh.URL,
		w.gl.URL, glToken, glWebhookSecret, w.dsn, hostPort(w.gh.URL), w.dbt.URL, dbtToken,
		accountID, artifactsJob, prJob, w.ht.URL, htToken, w.sourceIDs, hostPort(w.gl.URL), glJob)
}

func hostPort(u string) string { return strings.TrimPrefix(u, "http://") }

// check writes the config and runs `diffgate check` on it.
func (w *world) check(cfg string) (string, error) {
	w.t.Helper()
	path := filepath.Join(w.t.TempDir(), "diffgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := cmdCheck(bustest.Context(w.t), []string{"--config", path, "--timeout", "20s"}, &out, &errOut)
	if errOut.Len() > 0 {
		w.t.Errorf("check wrote to stderr: %s", errOut.String())
	}
	text := out.String()
	for _, s := range []string{ghWebhookSecret, glToken, glWebhookSecret, dbtToken, htToken, pgPassword, detailsSecret, "PRIVATE KEY"} {
		if strings.Contains(text, s) {
			w.t.Errorf("the output shows a secret (%s…):\n%s", s[:8], text)
		}
	}
	return text, err
}

// manifest is a production or PR manifest whose models are in schema.
func manifest(schema string, models ...string) []byte {
	m := &dbtgen.Manifest{ProjectName: "acme", Database: "postgres", Schema: schema}
	for _, name := range models {
		m.Nodes = append(m.Nodes, &dbtgen.Node{ResourceType: "model", Name: name, Materialized: "table",
			RawCode: "select 1 as id"})
	}
	return m.Bytes()
}

// Everything configured right: every line passes, and the output names
// what was checked.
func TestCheckPasses(t *testing.T) {
	w := newWorld(t)
	out, err := w.check(w.config())
	t.Logf("diffgate check:\n%s", out)
	if err != nil {
		t.Fatalf("check failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"is valid: 2 integrations, 1 data source",
		"✓ " + w.natsURL + " answers: nats-server",
		"diffgate's streams present",
		`✓ dbt Cloud: token accepted; account "Acme Analytics" (1)`,
		`✓ dbt Cloud: artifacts_job_id: job 11 "Production" is visible (scheduled)`,
		`✓ dbt Cloud: pr_job_id: job 22 "CI" is a CI job`,
		"✓ dbt Cloud: artifacts job 11: run #" + strconv.FormatInt(w.artifacts.ID(), 10) + " succeeded",
		"with a manifest.json (2 relations built)",
		`✓ warehouse: postgres data source "warehouse" answers`,
		"✓ warehouse: the role reads production schema postgres." + w.pg.prod + " (postgres." + w.pg.prod + ".customers)",
		"✓ warehouse: the role reads PR schema postgres." + w.pg.pr,
		`✓ Hightouch: key accepted; source 42 "Warehouse" (postgres)`,
		`✓ GitHub: App "diffgate acme" (id 4321) accepts the private key`,
		"✓ GitHub: the App can see acme/analytics (installation 77) with checks:write, pull_requests:write, contents:read",
		"✓ GitLab: the token sees data/platform/marts (project 501) with Developer access",
		"– dbt Cloud: PR job 33 has no successful run yet",
		"All ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "✗") {
		t.Errorf("a check failed:\n%s", out)
	}
	// The GitHub App's credentials are checked once for the whole config.
	if n := w.gh.count("GET /app"); n != 1 {
		t.Errorf("GET /app asked %d times, want 1", n)
	}
}

// The pipeline passes over a production run that saved no manifest.json
// for the next newest, and so does the check: it passes, and says so.
func TestCheckPassesOverARunWithoutManifest(t *testing.T) {
	w := newWorld(t)
	newest := w.dbt.AddRun(dbtcloudtest.Run{AccountID: accountID, JobID: artifactsJob,
		Artifacts: map[string][]byte{"run_results.json": []byte(`{}`)}})
	out, err := w.check(w.config())
	want := fmt.Sprintf("✓ dbt Cloud: artifacts job %d: run #%d succeeded", artifactsJob, w.artifacts.ID())
	if err != nil || !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("; newer run #%d saved none", newest.ID())) {
		t.Errorf("check: %v; want it to pass with %q naming the newer run #%d:\n%s", err, want, newest.ID(), out)
	}
}

// Each way a config can be wrong gives a ✗ line saying what is wrong and
// what to do, and exit status 1; the rest is still checked.
func TestCheckFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		edit  func(w *world, cfg string) string
		want  []string // in the output, in order
	}{
		{
			name:  "dbt Cloud rejects the token",
			setup: func(w *world) { w.dbt.Fail(dbtcloudtest.EndpointAccount, dbtcloudtest.Fault{Status: 401, Times: 2}) },
			want: []string{"✗ dbt Cloud: ", "dbt Cloud: the API token is invalid or expired", "→ set dbt_cloud.token to a valid service token",
				"– dbt Cloud jobs and runs not checked"},
		},
		{
			name: "PR job is not a CI job",
			edit: func(w *world, cfg string) string { return strings.Replace(cfg, "pr_job_id: 22", "pr_job_id: 12", 1) },
			setup: func(w *world) {
				w.dbt.AddJob(dbtcloudtest.Job{AccountID: accountID, ID: 12, Name: "Nightly", Type: "scheduled"})
			},
			want: []string{`✗ dbt Cloud: pr_job_id: job 12 "Nightly" is a scheduled job, not a CI job`,
				"→ set dbt_cloud.pr_job_id to the job dbt Cloud runs on pull requests"},
		},
		{
			name: "artifacts job is a CI job",
			edit: func(w *world, cfg string) string {
				return strings.Replace(cfg, "artifacts_job_id: 11", "artifacts_job_id: 33", 1)
			},
			want: []string{`✗ dbt Cloud: artifacts_job_id: job 33 "CI (GitLab)" is a CI job`, "→ set dbt_cloud.artifacts_job_id to a production job"},
		},
		{
			name:  "artifacts job hidden from the token",
			setup: func(w *world) { w.dbt.DenyJob(accountID, artifactsJob, 403) },
			want:  []string{"✗ dbt Cloud: artifacts_job_id: ", "→ "},
		},
		{
			name: "artifacts job never succeeded",
			setup: func(w *world) {
				w.artifacts.SetStatus(dbtcloud.StatusError)
			},
			want: []string{"✗ dbt Cloud: artifacts job 11 has no successful run", "→ run the job once in dbt Cloud",
				"– warehouse: access to production schemas not checked: no production manifest"},
		},
		{
			name: "no artifacts run saved a manifest",
			setup: func(w *world) {
				w.artifacts.SetStatus(dbtcloud.StatusError)
				for range 2 {
					w.dbt.AddRun(dbtcloudtest.Run{AccountID: accountID, JobID: artifactsJob,
						Artifacts: map[string][]byte{"run_results.json": []byte(`{}`)}})
				}
			},
			want: []string{"none of the 2 most recent successful runs of job 11 saved a manifest.json", "→ make the artifacts job write target/manifest.json"},
		},
		{
			name:  "warehouse role may not read production",
			setup: func(w *world) { w.pg.exec(t, "REVOKE ALL ON SCHEMA "+w.pg.prod+" FROM "+w.pg.role) },
			want: []string{`✗ warehouse: data source "warehouse" may not read production schema postgres.` + "%PROD%",
				"→ grant the role read access to schema postgres.%PROD%"},
		},
		{
			name:  "warehouse role may not read PR schemas",
			setup: func(w *world) { w.pg.exec(t, "REVOKE ALL ON SCHEMA "+w.pg.pr+" FROM "+w.pg.role) },
			want:  []string{`✗ warehouse: data source "warehouse" may not read PR schema postgres.%PR%`, "→ the role must read every schema dbt Cloud's CI job creates"},
		},
		{
			name:  "production relations missing",
			setup: func(w *world) { w.pg.exec(t, "DROP TABLE "+w.pg.prod+".customers") },
			want:  []string{"✗ warehouse: postgres.%PROD%.customers, from production's manifest (run #", `does not exist in data source "warehouse"`, "→ set the integration's data_source"},
		},
		{
			name: "warehouse does not answer",
			edit: func(w *world, cfg string) string {
				return strings.Replace(cfg, "@127.0.0.1:5432/", "@127.0.0.1:"+closedPort(t)+"/", 1)
			},
			want: []string{`✗ warehouse: postgres data source "warehouse" does not answer`, "→ check data_sources[].dsn"},
		},
		{
			name:  "Hightouch rejects the key",
			setup: func(w *world) { w.ht.Fail(hightouchtest.EndpointListSources, hightouchtest.Fault{Status: 401}) },
			want:  []string{"✗ Hightouch: ", "→ set hightouch.token to an API key of the workspace"},
		},
		{
			name:  "Hightouch source not in the workspace",
			setup: func(w *world) { w.sourceIDs = "43" },
			want:  []string{`✗ Hightouch: source 43 is not in the key's workspace (it has: 42 "Warehouse")`, "→ set hightouch.source_ids"},
		},
		{
			name:  "GitHub App not installed on the repository",
			setup: func(w *world) { w.gh.uninstall("acme/analytics") },
			want:  []string{"✗ GitHub: the App is not installed on acme/analytics", "→ install the App on the repository"},
		},
		{
			name: "GitHub App lacks a permission",
			setup: func(w *world) {
				w.gh.install("acme/analytics", 77, map[string]string{"checks": "read", "pull_requests": "write", "metadata": "read"})
			},
			want: []string{"✗ GitHub: the App's installation 77 on acme/analytics lacks checks:write (has read), contents:read (has none)", "→ give the App these repository permissions"},
		},
		{
			name: "GitHub refuses the App's key",
			setup: func(w *world) {
				other, _ := rsa.GenerateKey(rand.Reader, 2048)
				w.gh.key = &other.PublicKey
			},
			want: []string{"✗ GitHub: GitHub does not accept the App's credentials (app_id 4321)", "→ check github.app_id and the private key"},
		},
		{
			name:  "GitLab token cannot see the project",
			setup: func(w *world) { w.gl.forget("data/platform/marts") },
			want:  []string{"✗ GitLab: the token cannot see project data/platform/marts (HTTP 404)", "→ check the repository path"},
		},
		{
			name:  "GitLab token is only a Reporter",
			setup: func(w *world) { w.gl.project("data/platform/marts", 501, 20) },
			want:  []string{"✗ GitLab: the token sees data/platform/marts but has Reporter access; commit statuses need Developer", "→ give the token's user"},
		},
		{
			name: "GitLab rejects the token",
			edit: func(w *world, cfg string) string {
				return strings.Replace(cfg, "token: "+glToken, "token: "+glToken+"-expired", 1)
			},
			want: []string{"✗ GitLab: ", "rejected gitlab.token (HTTP 401)", "→ set gitlab.token"},
		},
		{
			name: "NATS unreachable",
			edit: func(w *world, cfg string) string {
				return strings.Replace(cfg, w.natsURL, "nats://127.0.0.1:"+closedPort(t), 1)
			},
			want: []string{"✗ connect to nats://127.0.0.1:", "→ check nats.url"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(w)
			}
			cfg := w.config()
			if tt.edit != nil {
				cfg = tt.edit(w, cfg)
			}
			out, err := w.check(cfg)
			t.Logf("diffgate check:\n%s", out)
			if !errors.Is(err, errFailed) {
				t.Errorf("err = %v, want errFailed (exit status 1)", err)
			}
			rest := out
			for _, want := range tt.want {
				want = strings.NewReplacer("%PROD%", w.pg.prod, "%PR%", w.pg.pr).Replace(want)
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("output lacks %q (after the lines before it):\n%s", want, out)
				}
				rest = rest[i+len(want):]
			}
			// Other integrations and services are still checked.
			if !strings.Contains(out, "GitLab") || !strings.Contains(out, "\nIntegration marts") {
				t.Errorf("the check stopped early:\n%s", out)
			}
			if !strings.Contains(out, "check failed") && !strings.Contains(out, "checks failed") {
				t.Errorf("no summary of failures:\n%s", out)
			}
		})
	}
}

// gitlab.url may name the API itself (…/api/v4), as the bot accepts it:
// the check asks the same project the bot would, not …/api/v4/api/v4.
func TestCheckGitLabURLWithAPIPath(t *testing.T) {
	w := newWorld(t)
	cfg := strings.Replace(w.config(), "url: "+w.gl.URL+"\n", "url: "+w.gl.URL+"/api/v4\n", 1)
	if !strings.Contains(cfg, w.gl.URL+"/api/v4") {
		t.Fatal("the config has no gitlab.url to edit")
	}
	out, err := w.check(cfg)
	if err != nil || !strings.Contains(out, "✓ GitLab: the token sees data/platform/marts (project 501) with Developer access") {
		t.Errorf("err = %v; output:\n%s", err, out)
	}
}

// A config that does not load fails at once, naming the keys, and nothing
// else is tried.
func TestCheckInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "diffgate.yaml")
	cfg := "nats:\n  url: nats://127.0.0.1:4222\nintegrations:\n  - name: x\n    repository: github.com/acme/analytics\n    dbt_cloud: {token: " + dbtToken + "}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := cmdCheck(context.Background(), []string{"--config", path}, &out, &out)
	if !errors.Is(err, errFailed) {
		t.Errorf("err = %v, want errFailed", err)
	}
	text := out.String()
	for _, want := range []string{"✗ ", "integrations[0].data_source", "integrations[0].dbt_cloud.account_id", "→ fix the keys named above", "1 check failed, 0 passed"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "NATS") || strings.Contains(text, dbtToken) {
		t.Errorf("went on after an invalid config, or showed its token:\n%s", text)
	}
}

// Streams not created yet, no nats.url, and a NATS URL with a password.
func TestCheckNATSStates(t *testing.T) {
	t.Run("fresh server", func(t *testing.T) {
		e := bustest.Embedded(t)
		out := checkOnly(t, "nats:\n  url: "+e.URL()+"\n")
		for _, want := range []string{"✓ " + e.URL() + " answers: nats-server", "JetStream on", "– diffgate's streams are not there yet"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("embedded", func(t *testing.T) {
		out := checkOnly(t, "log:\n  level: info\n")
		if !strings.Contains(out, "– no nats.url: `diffgate serve` runs an embedded server") {
			t.Errorf("output:\n%s", out)
		}
	})
	t.Run("credentials in the URL", func(t *testing.T) {
		out := checkOnly(t, "nats:\n  url: nats://diffgate:nats-pw-8812@127.0.0.1:"+closedPort(t)+"\n")
		if strings.Contains(out, "nats-pw-8812") || !strings.Contains(out, "✗ connect to nats://redacted@127.0.0.1:") {
			t.Errorf("output:\n%s", out)
		}
	})
}

func checkOnly(t *testing.T, cfg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "diffgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_ = cmdCheck(bustest.Context(t), []string{"--config", path, "--timeout", "10s"}, &out, &out)
	return out.String()
}

func TestCheckUsage(t *testing.T) {
	t.Setenv("DIFFGATE_CONFIG", "")
	var out bytes.Buffer
	for _, args := range [][]string{nil, {"--config"}, {"--config", "a.yaml", "extra"}} {
		if err := cmdCheck(context.Background(), args, &out, &out); !errors.Is(err, errUsage) {
			t.Errorf("check %v: err = %v, want errUsage", args, err)
		}
	}
}

func TestAtLeast(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"2.9.0", true}, {"2.9.10", true}, {"2.10.1", true}, {"3.0.0", true}, {"2.11.0-RC.1", true},
		{"2.8.4", false}, {"1.99.99", false}, {"2.9", true}, {"", false},
	}
	for _, tt := range tests {
		if got := atLeast(tt.version, minNATS); got != tt.want {
			t.Errorf("atLeast(%q) = %v, want %v", tt.version, got, tt.want)
		}
	}
}

// closedPort is a TCP port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	return port
}

// pgWorld is a production schema and a PR schema, each with orders and
// customers, and a login role that may read both, in the shared
// PostgreSQL; all dropped when the test ends.
type pgWorld struct {
	admin          *sql.DB
	prod, pr, role string
}

func pgURL(user, password string) string {
	host := os.Getenv("PGHOST")
	if host == "" {
		host = "127.0.0.1"
	}
	cred := user
	if password != "" {
		cred += ":" + password
	}
	return "postgres://" + cred + "@" + host + ":5432/postgres?sslmode=disable"
}

func newPG(t *testing.T) *pgWorld {
	t.Helper()
	db, err := sql.Open("pgx", pgURL("postgres", ""))
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		testenv.SkipOrFail(t, "PostgreSQL not reachable: %v", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := "dgcheck_" + hex.EncodeToString(b[:])
	p := &pgWorld{admin: db, prod: id + "_prod", pr: "dbt_cloud_pr_22_7_" + hex.EncodeToString(b[:]), role: id}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, q := range []string{"DROP SCHEMA IF EXISTS " + p.prod + " CASCADE", "DROP SCHEMA IF EXISTS " + p.pr + " CASCADE",
			"DROP OWNED BY " + p.role, "DROP ROLE IF EXISTS " + p.role} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Logf("cleanup: %s: %v", q, err)
			}
		}
		db.Close()
	})
	p.exec(t, "CREATE ROLE "+p.role+" LOGIN")
	for _, s := range []string{p.prod, p.pr} {
		p.exec(t, "CREATE SCHEMA "+s)
		p.exec(t, "CREATE TABLE "+s+".orders (id int primary key, amount numeric)")
		p.exec(t, "CREATE TABLE "+s+".customers (id int primary key, name text)")
		p.exec(t, "GRANT USAGE ON SCHEMA "+s+" TO "+p.role)
		p.exec(t, "GRANT SELECT ON ALL TABLES IN SCHEMA "+s+" TO "+p.role)
	}
	return p
}

// dsn connects as role; the password is ignored by trust authentication
// but shows that a DSN's password never reaches the output.
func (p *pgWorld) dsn(role string) string { return pgURL(role, pgPassword) }

func (p *pgWorld) exec(t *testing.T, q string) {
	t.Helper()
	if _, err := p.admin.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// fakeGitHub answers the two calls the check makes, as GitHub's REST API
// does (GitHub Enterprise Server paths, under /api/v3), after verifying the
// App's JWT; any other request fails the test.
type fakeGitHub struct {
	*httptest.Server
	t   *testing.T
	key *rsa.PublicKey

	mu       sync.Mutex
	installs map[string]githubInstall
	calls    map[string]int
}

type githubInstall struct {
	id    int64
	perms map[string]string
}

func newFakeGitHub(t *testing.T, key *rsa.PublicKey) *fakeGitHub {
	f := &fakeGitHub{t: t, key: key, installs: map[string]githubInstall{}, calls: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitHub) install(repo string, id int64, perms map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installs[repo] = githubInstall{id, perms}
}

func (f *fakeGitHub) uninstall(repo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.installs, repo)
}

func (f *fakeGitHub) count(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[route]
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	repo, isInstall := strings.CutSuffix(strings.TrimPrefix(path, "/repos/"), "/installation")
	isInstall = isInstall && strings.HasPrefix(path, "/repos/")
	route := r.Method + " " + path
	if isInstall {
		route = r.Method + " /repos/{owner}/{repo}/installation"
	}
	f.mu.Lock()
	f.calls[route]++
	f.mu.Unlock()
	if r.Method != http.MethodGet || (path != "/app" && !isInstall) {
		f.t.Errorf("fake GitHub: unexpected request %s %s", r.Method, r.URL.Path)
		writeGitHub(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if err := f.verifyJWT(r.Header.Get("Authorization")); err != nil {
		// GitHub's answer to a JWT it cannot verify.
		writeGitHub(w, http.StatusUnauthorized, map[string]any{"message": "A JSON web token could not be decoded",
			"documentation_url": "https://docs.github.com/rest"})
		return
	}
	if path == "/app" {
		writeGitHub(w, http.StatusOK, map[string]any{
			"id": ghAppID, "slug": "diffgate-acme", "name": "diffgate acme", "node_id": "A_kwHOAAB",
			"owner":       map[string]any{"login": "acme", "id": 9919, "type": "Organization"},
			"description": "", "external_url": "https://diffgate.example.com", "html_url": "https://github.com/apps/diffgate-acme",
			"created_at": "2025-05-01T10:00:00Z", "updated_at": "2025-05-01T10:00:00Z",
			"permissions": map[string]string{"checks": "write", "pull_requests": "write", "metadata": "read"},
			"events":      []string{"pull_request", "check_run"}, "installations_count": 1,
		})
		return
	}
	f.mu.Lock()
	inst, ok := f.installs[strings.ToLower(repo)]
	f.mu.Unlock()
	if !ok {
		writeGitHub(w, http.StatusNotFound, map[string]any{"message": "Not Found",
			"documentation_url": "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app"})
		return
	}
	owner, _, _ := strings.Cut(repo, "/")
	writeGitHub(w, http.StatusOK, map[string]any{
		"id": inst.id, "app_id": ghAppID, "app_slug": "diffgate-acme", "target_id": 9919, "target_type": "Organization",
		"account":              map[string]any{"login": owner, "id": 9919, "type": "Organization"},
		"repository_selection": "selected", "permissions": inst.perms, "events": []string{"pull_request", "check_run"},
		"access_tokens_url": fmt.Sprintf("%s/api/v3/app/installations/%d/access_tokens", f.URL, inst.id),
		"created_at":        "2025-05-01T10:00:00Z", "updated_at": "2025-05-01T10:00:00Z", "single_file_name": nil, "suspended_at": nil,
	})
}

// verifyJWT checks an App JWT: RS256 signed by the App's key, issued for
// the App's id.
func (f *fakeGitHub) verifyJWT(auth string) error {
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	parts := strings.Split(tok, ".")
	if !ok || len(parts) != 3 {
		return errors.New("no bearer JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	f.mu.Lock()
	key := f.key
	f.mu.Unlock()
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, h[:], sig); err != nil {
		return err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims struct {
		Iss any `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return err
	}
	if fmt.Sprint(claims.Iss) != strconv.Itoa(ghAppID) {
		f.t.Errorf("fake GitHub: JWT issued for %v, want the App id %d", claims.Iss, ghAppID)
		return errors.New("wrong issuer")
	}
	return nil
}

func writeGitHub(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// fakeGitLab answers GET /api/v4/projects/:path as GitLab does for a
// project the token's user is a member of; any other request fails the
// test.
type fakeGitLab struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	projects map[string][2]int // path → id, access level
}

func newFakeGitLab(t *testing.T) *fakeGitLab {
	f := &fakeGitLab{t: t, projects: map[string][2]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitLab) project(path string, id, access int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.projects[path] = [2]int{id, access}
}

func (f *fakeGitLab) forget(path string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.projects, path)
}

func (f *fakeGitLab) serve(w http.ResponseWriter, r *http.Request) {
	escaped, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/v4/projects/")
	if r.Method != http.MethodGet || !ok || strings.Contains(escaped, "/") {
		f.t.Errorf("fake GitLab: unexpected request %s %s", r.Method, r.URL.EscapedPath())
		writeGitHub(w, http.StatusNotFound, map[string]any{"error": "404 Not Found"})
		return
	}
	if r.Header.Get("PRIVATE-TOKEN") != glToken {
		writeGitHub(w, http.StatusUnauthorized, map[string]any{"message": "401 Unauthorized"})
		return
	}
	path, _ := strings.CutPrefix(r.URL.Path, "/api/v4/projects/")
	f.mu.Lock()
	p, ok := f.projects[path]
	f.mu.Unlock()
	if !ok {
		writeGitHub(w, http.StatusNotFound, map[string]any{"message": "404 Project Not Found"})
		return
	}
	ns, name, _ := strings.Cut(path, "/")
	writeGitHub(w, http.StatusOK, map[string]any{
		"id": p[0], "name": name[strings.LastIndex(name, "/")+1:], "path_with_namespace": path,
		"default_branch": "main", "visibility": "private", "web_url": f.URL + "/" + path,
		"namespace": map[string]any{"id": 77, "name": ns, "path": ns, "kind": "group", "full_path": path[:strings.LastIndex(path, "/")]},
		"permissions": map[string]any{
			"project_access": map[string]any{"access_level": p[1], "notification_level": 3},
			"group_access":   nil,
		},
	})
}
