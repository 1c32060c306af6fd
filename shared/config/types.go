// Package config loads diffgate.yaml: strict decoding (an unknown key is an
// error naming the key and its line), ${ENV} expansion, defaults in one
// place, and cross-field validation whose messages name the key to fix.
package config

import (
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

// Config is the whole of diffgate.yaml. The `doc` tags feed the generated
// configuration reference (docs/config-reference.md).
type Config struct {
	Server       Server        `yaml:"server" doc:"HTTP server: webhooks, health, metrics, details pages."`
	NATS         NATS          `yaml:"nats" doc:"NATS JetStream connection. Leave url empty to run an embedded server (diffgate serve only)."`
	Log          Log           `yaml:"log" doc:"Logging."`
	GitHub       *GitHub       `yaml:"github" doc:"The GitHub App. Needed when an integration's repository is on GitHub."`
	GitLab       *GitLab       `yaml:"gitlab" doc:"The GitLab bot. Needed when an integration's repository is on GitLab."`
	DataSources  []DataSource  `yaml:"data_sources" doc:"Warehouses diffs run in."`
	Integrations []Integration `yaml:"integrations" doc:"One per dbt repository."`
	Limits       Limits        `yaml:"limits" doc:"Safety limits."`
}

// Server is the HTTP side.
type Server struct {
	Listen        string   `yaml:"listen" doc:"Address to listen on." default:":8080"`
	PublicURL     string   `yaml:"public_url" doc:"The URL people and webhooks reach this server at; details links start with it." example:"https://diffgate.example.com"`
	DetailsSecret Secret   `yaml:"details_secret" doc:"Key that signs details-page links (32+ random bytes). When empty a random key is made at start and links stop working on restart." example:"${DIFFGATE_DETAILS_SECRET}" scope:"github,gitlab"`
	DetailsTTL    Duration `yaml:"details_ttl" doc:"How long a details link stays valid. Longer than retention, so an old link says the report expired instead of not found." default:"60d"`
	Retention     Duration `yaml:"retention" doc:"How long reports, samples and manifests are kept in the object store." default:"30d"`
}

// NATS is the JetStream connection.
type NATS struct {
	URL       string `yaml:"url" doc:"Server URL(s), comma-separated. Empty: embedded server with file storage (diffgate serve only)." example:"nats://nats:4222"`
	CredsFile string `yaml:"creds_file" doc:"NATS credentials file (JWT + NKey)."`
	TLS       TLS    `yaml:"tls" doc:"TLS to the NATS server."`
	StoreDir  string `yaml:"store_dir" doc:"Storage directory of the embedded server." default:"data/nats"`
	Replicas  int    `yaml:"replicas" doc:"Replicas of every stream, bucket and object store (1, 3 or 5)." default:"1"`
}

// TLS is client TLS material; all optional.
type TLS struct {
	CAFile   string `yaml:"ca_file" doc:"CA bundle that signs the server certificate."`
	CertFile string `yaml:"cert_file" doc:"Client certificate, for mutual TLS."`
	KeyFile  string `yaml:"key_file" doc:"Client key, for mutual TLS."`
}

// Log configures logging.
type Log struct {
	Level string `yaml:"level" doc:"trace, debug, info, warn or error; trace adds the embedded NATS server's debug lines." default:"info"`
}

// GitHub is the GitHub App.
type GitHub struct {
	AppID          int64  `yaml:"app_id" doc:"The App's id (its settings page shows it)." example:"1234"`
	PrivateKeyFile string `yaml:"private_key_file" doc:"PEM private key of the App." example:"/secrets/github-app.pem" scope:"github"`
	PrivateKey     Secret `yaml:"private_key" doc:"The PEM key itself, instead of private_key_file." scope:"github"`
	WebhookSecret  Secret `yaml:"webhook_secret" doc:"The App's webhook secret. Required." example:"${GITHUB_WEBHOOK_SECRET}" scope:"github"`
	WebURL         string `yaml:"web_url" doc:"GitHub's web URL; for GitHub Enterprise Server, https://HOST." default:"https://github.com"`
	APIURL         string `yaml:"api_url" doc:"GitHub's REST API URL; for GitHub Enterprise Server, https://HOST/api/v3/." default:"https://api.github.com/"`
}

// GitLab is the GitLab bot.
type GitLab struct {
	URL           string `yaml:"url" doc:"GitLab's URL: gitlab.com or a self-managed instance." default:"https://gitlab.com"`
	Token         Secret `yaml:"token" doc:"Project, group or bot access token with the api scope and the Developer role. Required." example:"${GITLAB_TOKEN}" scope:"gitlab"`
	WebhookSecret Secret `yaml:"webhook_secret" doc:"The secret token set on the project's webhook. Required." example:"${GITLAB_WEBHOOK_SECRET}" scope:"gitlab"`
}

// Data source types.
const (
	TypePostgres = "postgres"
	TypeDuckDB   = "duckdb"
	TypeMySQL    = "mysql"
)

// DataSource is one warehouse connection.
type DataSource struct {
	Name           string   `yaml:"name" doc:"Name integrations refer to (letters, digits, - and _)." example:"warehouse"`
	Type           string   `yaml:"type" doc:"postgres, duckdb or mysql (MySQL and MariaDB)." example:"postgres"`
	DSN            Secret   `yaml:"dsn" doc:"Connection string; use a read-only role. For duckdb, a database file path." example:"${WAREHOUSE_DSN}" scope:"differ"`
	MaxConcurrency int      `yaml:"max_concurrency" doc:"Most statements running at once in this warehouse, across every differ process." default:"4"`
	QueryTimeout   Duration `yaml:"query_timeout" doc:"Statement timeout of every diff query." default:"10m"`
}

// Integration ties one dbt repository to dbt Cloud, a warehouse and CI
// settings; its settings keep the meaning of Datafold's.
type Integration struct {
	Name          string     `yaml:"name" doc:"Any name; reports and logs use it." example:"analytics"`
	Repository    string     `yaml:"repository" doc:"host/owner/name, e.g. github.com/acme/analytics or gitlab.com/group/sub/project." example:"github.com/acme/analytics"`
	DataSource    string     `yaml:"data_source" doc:"Name of the data source holding both production and PR builds." example:"warehouse"`
	PrimaryKeyTag string     `yaml:"primary_key_tag" doc:"Tag or meta key that marks primary-key columns in dbt YAML." default:"primary-key"`
	DBTCloud      DBTCloud   `yaml:"dbt_cloud" doc:"dbt Cloud account and jobs."`
	CI            CI         `yaml:"ci" doc:"When and how pull requests are diffed."`
	Hightouch     *Hightouch `yaml:"hightouch" doc:"Hightouch workspace whose models read this project's tables."`

	// Provider is derived from the repository's host during validation.
	Provider events.Provider `yaml:"-"`
}

// DBTCloud is the dbt Cloud side of an integration.
type DBTCloud struct {
	URL            string   `yaml:"url" doc:"Access URL: https://cloud.getdbt.com, https://emea.dbt.com, https://au.dbt.com, https://ACCOUNT.us1.dbt.com or a single-tenant URL." default:"https://cloud.getdbt.com"`
	Token          Secret   `yaml:"token" doc:"Service token with the Member or Developer permission on the project. Required." example:"${DBT_CLOUD_TOKEN}" scope:"ciwait,manifests"`
	AccountID      int64    `yaml:"account_id" doc:"dbt Cloud account id. Required." example:"1"`
	ArtifactsJobID int64    `yaml:"artifacts_job_id" doc:"Production job whose runs hold production's manifest.json: the run that built the PR's base commit, else the newest successful run that saved one. Required." example:"11"`
	PRJobID        int64    `yaml:"pr_job_id" doc:"The dbt Cloud CI job that builds pull requests. Required." example:"22"`
	WebhookSecret  Secret   `yaml:"webhook_secret" doc:"Secret of a dbt Cloud webhook (job.run.completed) pointing at /api/dbtcloud/hook; optional, wakes waiting runs at once." example:"${DBT_CLOUD_WEBHOOK_SECRET}" scope:"ciwait"`
	PollInterval   Duration `yaml:"poll_interval" doc:"How often a waiting run's CI job is checked." default:"30s"`
	Timeout        Duration `yaml:"timeout" doc:"How long to wait for the CI run before the run ends as timed out." default:"2h"`
}

// CI holds the pull request settings.
type CI struct {
	Enabled                *bool    `yaml:"enabled" doc:"Run diffs for this repository." default:"true"`
	SlimDiff               bool     `yaml:"slim_diff" doc:"Diff only modified models (plus downstream models marked slim_diff: diff_when_downstream, or all downstream with the diff-all-downstream label)." default:"false"`
	FailOnPrimaryKeyIssues bool     `yaml:"fail_on_primary_key_issues" doc:"Fail the check when a diffed model has NULL or duplicate primary keys, or no primary key." default:"false"`
	PRLabel                string   `yaml:"pr_label" doc:"When set, run only while the PR carries this label."`
	DiffAllDownstreamLabel string   `yaml:"diff_all_downstream_label" doc:"PR label that diffs every downstream model under Slim Diff." default:"diffgate:diff-all-downstream"`
	FilesToIgnore          []string `yaml:"files_to_ignore" doc:"gitignore patterns; a PR whose changed files ALL match is skipped." example:"[\"*\", \"!dbt/*\", \"dbt/*.md\"]"`
	ImportDBTMetadata      *bool    `yaml:"import_dbt_metadata" doc:"Show dbt tags, descriptions and owners in the lineage view." default:"true"`
	DiffHightouchModels    *bool    `yaml:"diff_hightouch_models" doc:"Diff Hightouch models downstream of changed models." default:"true"`
	RunOnDraft             bool     `yaml:"run_on_draft" doc:"Run on draft PRs too; by default they wait for ready for review." default:"false"`
	BaseBranch             string   `yaml:"base_branch" doc:"Run only for PRs into this branch; empty means any branch."`
	SampleSize             *int     `yaml:"sample_size" doc:"Example rows kept per model and kind (changed, added, removed); 0 disables samples." default:"20"`
	SensitiveData          bool     `yaml:"sensitive_data" doc:"Never keep or show row values (samples off)." default:"false"`
}

// Hightouch is the Hightouch side of an integration.
type Hightouch struct {
	URL       string  `yaml:"url" doc:"Hightouch API URL." default:"https://api.hightouch.com"`
	Token     Secret  `yaml:"token" doc:"Workspace API key. Required." example:"${HIGHTOUCH_TOKEN}" scope:"impact"`
	SourceIDs []int64 `yaml:"source_ids" doc:"Hightouch sources that read this integration's warehouse. Required." example:"[42]"`
}

// Limits are safety limits.
type Limits struct {
	ManifestMaxSize ByteSize `yaml:"manifest_max_size" doc:"Largest manifest.json accepted." default:"512MB"`
}

// IsEnabled reports whether CI runs for the integration.
func (c CI) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// ImportMetadata reports whether dbt metadata goes into the lineage view.
func (c CI) ImportMetadata() bool { return c.ImportDBTMetadata == nil || *c.ImportDBTMetadata }

// DiffHightouch reports whether downstream Hightouch models are diffed.
func (c CI) DiffHightouch() bool { return c.DiffHightouchModels == nil || *c.DiffHightouchModels }

// Samples returns the sample size and, when samples are off, why.
func (c CI) Samples() (size int, off string) {
	if c.SensitiveData {
		return 0, "the integration marks its data sensitive"
	}
	size = DefaultSampleSize
	if c.SampleSize != nil {
		size = *c.SampleSize
	}
	if size == 0 {
		return 0, "sample_size is 0"
	}
	return size, ""
}

// Integration finds the integration of a repository (case-insensitive;
// GitHub and GitLab paths are not case-sensitive).
func (c *Config) Integration(provider events.Provider, repository string) (*Integration, bool) {
	for i := range c.Integrations {
		in := &c.Integrations[i]
		if in.Provider == provider && strings.EqualFold(in.Repository, repository) {
			return in, true
		}
	}
	return nil, false
}

// IntegrationByName finds an integration by name.
func (c *Config) IntegrationByName(name string) (*Integration, bool) {
	for i := range c.Integrations {
		if c.Integrations[i].Name == name {
			return &c.Integrations[i], true
		}
	}
	return nil, false
}

// DataSourceByName finds a data source.
func (c *Config) DataSourceByName(name string) (*DataSource, bool) {
	for i := range c.DataSources {
		if c.DataSources[i].Name == name {
			return &c.DataSources[i], true
		}
	}
	return nil, false
}

// Secrets lists every configured secret, for Redact.
func (c *Config) Secrets() []Secret {
	var s []Secret
	s = append(s, c.Server.DetailsSecret)
	if c.GitHub != nil {
		s = append(s, c.GitHub.PrivateKey, c.GitHub.WebhookSecret)
	}
	if c.GitLab != nil {
		s = append(s, c.GitLab.Token, c.GitLab.WebhookSecret)
	}
	for _, d := range c.DataSources {
		s = append(s, d.DSN)
	}
	for _, in := range c.Integrations {
		s = append(s, in.DBTCloud.Token, in.DBTCloud.WebhookSecret)
		if in.Hightouch != nil {
			s = append(s, in.Hightouch.Token)
		}
	}
	return s
}
