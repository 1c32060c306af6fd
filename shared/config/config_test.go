package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/diffgate/diffgate/shared/events"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

var exampleEnv = map[string]string{
	"DIFFGATE_DETAILS_SECRET":  "details-secret-0123456789",
	"GITHUB_WEBHOOK_SECRET":    "gh-webhook-secret-value",
	"GITLAB_TOKEN":             "glpat-secret-token-value",
	"GITLAB_WEBHOOK_SECRET":    "gl-webhook-secret-value",
	"WAREHOUSE_DSN":            "postgres://ro:pw-secret-value@db/analytics",
	"DBT_CLOUD_TOKEN":          "dbtc_secret_token_value",
	"DBT_CLOUD_WEBHOOK_SECRET": "dbtc-webhook-secret-value",
	"HIGHTOUCH_TOKEN":          "ht-secret-token-value",
}

func exampleRaw(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "diffgate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The example names a key file that does not exist here.
	key := filepath.Join(t.TempDir(), "gh.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN RSA PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(raw, []byte("/secrets/github-app.pem"), []byte(key))
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Parse(exampleRaw(t), envOf(exampleEnv))
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	in, ok := c.Integration(events.GitHub, "github.com/ACME/analytics")
	if !ok {
		t.Fatal("integration for github.com/acme/analytics not found (lookup must ignore case)")
	}
	if in.DBTCloud.Token.Value() != exampleEnv["DBT_CLOUD_TOKEN"] {
		t.Errorf("token not expanded from the environment")
	}
	gl, ok := c.Integration(events.GitLab, "gitlab.com/acme/data/marketing-dbt")
	if !ok {
		t.Fatal("nested GitLab project not found")
	}
	if gl.DBTCloud.PollInterval.D().String() != "30s" || gl.DBTCloud.Timeout.String() != "2h0m0s" {
		t.Errorf("defaults not applied: poll %s timeout %s", gl.DBTCloud.PollInterval, gl.DBTCloud.Timeout)
	}
	if size, off := gl.CI.Samples(); size != DefaultSampleSize || off != "" {
		t.Errorf("samples = %d %q", size, off)
	}
	if !gl.CI.IsEnabled() || !gl.CI.ImportMetadata() {
		t.Errorf("default-true settings are off")
	}
}

func TestEmptyConfigIsDefault(t *testing.T) {
	for _, raw := range []string{"", "# nothing\n"} {
		c, err := Parse([]byte(raw), envOf(nil))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if c.Server.Listen != DefaultListen || len(c.Integrations) != 0 || c.NATS.URL != "" {
			t.Errorf("%q: not the default config: %+v", raw, c.Server)
		}
	}
}

const base = `
github:
  app_id: 1
  private_key: x
  webhook_secret: s
gitlab:
  token: t
  webhook_secret: s
data_sources:
  - name: warehouse
    type: duckdb
integrations:
  - name: analytics
    repository: github.com/acme/analytics
    data_source: warehouse
    dbt_cloud: {token: t, account_id: 1, artifacts_job_id: 11, pr_job_id: 22}
`

func TestErrorsNameTheKey(t *testing.T) {
	tests := map[string]struct {
		yaml string
		env  map[string]string
		want []string // substrings of the error
	}{
		"unknown top-level key": {
			yaml: "servr:\n  listen: x\n",
			want: []string{`servr (line 1): unknown key "servr" in the top level (did you mean "server"?)`},
		},
		"unknown nested key with line": {
			yaml: base + "    ci:\n      slim_dif: true\n",
			want: []string{`integrations[0].ci.slim_dif (line 18): unknown key "slim_dif" in integrations[0].ci (did you mean "slim_diff"?)`},
		},
		"missing environment variable": {
			yaml: strings.Replace(base, "token: t, account", "token: \"${NOPE_TOKEN}\", account", 1),
			want: []string{"integrations[0].dbt_cloud.token (line 16): environment variable NOPE_TOKEN is not set"},
		},
		"data source that does not exist": {
			yaml: strings.Replace(base, "data_source: warehouse", "data_source: wh", 1),
			want: []string{`integrations[0].data_source (line 15): "wh" is not a configured data source; known: warehouse`},
		},
		"repository not host/owner/name": {
			yaml: strings.Replace(base, "github.com/acme/analytics", "acme/analytics", 1),
			want: []string{`integrations[0].repository (line 14): "acme/analytics" is not host/owner/name`},
		},
		"two integrations on one repository": {
			yaml: base + `  - name: again
    repository: github.com/Acme/Analytics
    data_source: warehouse
    dbt_cloud: {token: t, account_id: 1, artifacts_job_id: 11, pr_job_id: 22}
`,
			want: []string{`integrations[1].repository (line 18): github.com/Acme/Analytics already belongs to integration "analytics"`},
		},
		"host of no provider": {
			yaml: strings.Replace(base, "github.com/acme/analytics", "bitbucket.org/acme/analytics", 1),
			want: []string{`host "bitbucket.org" matches neither github.web_url (github.com) nor gitlab.url (gitlab.com)`},
		},
		"wrong type": {
			yaml: strings.Replace(base, "account_id: 1", "account_id: one", 1),
			want: []string{`integrations[0].dbt_cloud.account_id (line 16): "one" is not a whole number`},
		},
		"bad duration": {
			yaml: strings.Replace(base, "pr_job_id: 22}", "pr_job_id: 22, poll_interval: soon}", 1),
			want: []string{`integrations[0].dbt_cloud.poll_interval (line 16): "soon" is not a duration (examples: 30s, 10m, 2h, 30d)`},
		},
		"required dbt cloud fields": {
			yaml: strings.Replace(base, "{token: t, account_id: 1, artifacts_job_id: 11, pr_job_id: 22}", "{pr_job_id: 22, poll_interval: 1m, timeout: 30s}", 1),
			want: []string{
				"integrations[0].dbt_cloud.token (line 16): is required",
				"integrations[0].dbt_cloud.account_id (line 16): is required",
				"integrations[0].dbt_cloud.artifacts_job_id (line 16): is required",
				"integrations[0].dbt_cloud.timeout (line 16): must be longer than poll_interval (1m0s)",
			},
		},
		"webhook secret required": {
			yaml: strings.Replace(base, "  webhook_secret: s\ngitlab", "gitlab", 1),
			want: []string{"github.webhook_secret (line 2): is required"},
		},
		"log level": {
			yaml: base + "log:\n  level: verbose\n",
			want: []string{`log.level (line 18): "verbose" is not one of trace, debug, info, warn, error`},
		},
		"data source type": {
			yaml: strings.Replace(base, "type: duckdb", "type: oracle", 1),
			want: []string{`data_sources[0].type (line 11): "oracle" is not supported`},
		},
		"data source name used in subjects": {
			yaml: strings.Replace(strings.Replace(base, "name: warehouse", "name: ware.house", 1), "data_source: warehouse", "data_source: ware.house", 1),
			want: []string{`data_sources[0].name (line 10): "ware.house" may hold only letters, digits, - and _`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), envOf(tc.env))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

func TestBaseIsValid(t *testing.T) {
	c, err := Parse([]byte(base), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	// Every level the logger takes is a valid log.level.
	for _, level := range []string{"trace", "debug", "info", "warn", "error"} {
		if _, err := Parse([]byte(base+"log:\n  level: "+level+"\n"), envOf(nil)); err != nil {
			t.Errorf("log.level %s: %v", level, err)
		}
	}
	if c.Integrations[0].Provider != events.GitHub {
		t.Errorf("provider = %q", c.Integrations[0].Provider)
	}
}

func TestEnvValuesAreData(t *testing.T) {
	// A secret with YAML-significant characters stays a string, and an
	// escaped $${ stays literal.
	y := strings.Replace(base, "token: t, account", "token: \"${TOK}\", account", 1) +
		"    ci:\n      pr_label: \"$${not-a-var}\"\n"
	c, err := Parse([]byte(y), envOf(map[string]string{"TOK": "a: b # c"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Integrations[0].DBTCloud.Token.Value(); got != "a: b # c" {
		t.Errorf("token = %q", got)
	}
	if got := c.Integrations[0].CI.PRLabel; got != "${not-a-var}" {
		t.Errorf("label = %q", got)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c, err := Parse(exampleRaw(t), envOf(exampleEnv))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := zerolog.New(&out)
	log.Info().Interface("config", c).Msg("loaded")
	log.Info().Stringer("token", c.Integrations[0].DBTCloud.Token).Msg("token")
	log.Info().Interface("token", c.Integrations[0].DBTCloud.Token).Msg("token")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		fmt.Fprintf(&out, verb+"\n", c)
		fmt.Fprintf(&out, verb+"\n", c.DataSources[0].DSN)
		fmt.Fprintf(&out, verb+"\n", *c.GitLab)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(y)
	out.WriteString(fmt.Errorf("wrapped: %v", c.Integrations[0].Hightouch.Token).Error())
	for name, secret := range exampleEnv {
		if strings.Contains(out.String(), secret) {
			t.Errorf("%s leaked into output", name)
		}
		if strings.Contains(out.String(), fmt.Sprintf("%x", secret)) {
			t.Errorf("%s leaked hex-encoded", name)
		}
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Error("no redaction marker: the test printed nothing useful")
	}
}

func TestErrorsDoNotEchoSecrets(t *testing.T) {
	y := strings.Replace(base, "type: duckdb", "type: oracle\n    dsn: ${DSN}", 1) +
		"nats:\n  url: \"nats://user:${NATS_PW}@/, nats://${NATS_TOKEN}@/\"\n"
	env := map[string]string{"DSN": "oracle://u:dsn-pw-value@h", "NATS_PW": "nats-pw-value", "NATS_TOKEN": "nats-token-value"}
	_, err := Parse([]byte(y), envOf(env))
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range env {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
	// The bad URLs are still named, without their credentials.
	if !strings.Contains(err.Error(), `"nats://redacted@/" is not a NATS URL`) {
		t.Errorf("error does not name the bad NATS URL: %v", err)
	}
}

func TestRedact(t *testing.T) {
	s := NewSecret("hunter2-password")
	got := Redact("connect: password hunter2-password rejected", s)
	if strings.Contains(got, "hunter2") {
		t.Errorf("Redact left the secret: %s", got)
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]string{"30d": "30d", "90s": "1m30s", "2h": "2h0m0s", "1.5d": "36h0m0s"} {
		d, err := ParseDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for in, want := range map[string]ByteSize{"512MB": 512e6, "1GiB": 1 << 30, "100": 100, "2KB": 2000} {
		b, err := ParseByteSize(in)
		if err != nil || b != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	if _, err := ParseDuration("soon"); err == nil {
		t.Error("ParseDuration accepted garbage")
	}
}

// Each component gets only its own credentials: the GitHub App loads the
// config without the warehouse DSN and the dbt Cloud token in its
// environment, the differ without the GitHub and GitLab secrets, impact
// with the Hightouch key alone (it reads manifests from the object store,
// not from dbt Cloud), the reporter with none at all.
func TestScopedLoadNeedsOnlyItsOwnSecrets(t *testing.T) {
	raw := exampleRaw(t)
	only := func(names ...string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = exampleEnv[n]
		}
		return m
	}
	tests := map[Scope]struct {
		env  map[string]string
		has  func(*Config) []Secret
		lack func(*Config) []Secret
	}{
		"github": {
			env: only("DIFFGATE_DETAILS_SECRET", "GITHUB_WEBHOOK_SECRET"),
			has: func(c *Config) []Secret { return []Secret{c.GitHub.WebhookSecret, c.Server.DetailsSecret} },
			lack: func(c *Config) []Secret {
				return []Secret{c.DataSources[0].DSN, c.Integrations[0].DBTCloud.Token, c.GitLab.Token}
			},
		},
		"differ": {
			env: only("WAREHOUSE_DSN"),
			has: func(c *Config) []Secret { return []Secret{c.DataSources[0].DSN} },
			lack: func(c *Config) []Secret {
				return []Secret{c.GitHub.WebhookSecret, c.Integrations[0].DBTCloud.Token, c.Integrations[0].Hightouch.Token}
			},
		},
		"impact": {
			env: only("HIGHTOUCH_TOKEN"),
			has: func(c *Config) []Secret { return []Secret{c.Integrations[0].Hightouch.Token} },
			lack: func(c *Config) []Secret {
				return []Secret{c.DataSources[0].DSN, c.Integrations[0].DBTCloud.Token, c.Integrations[0].DBTCloud.WebhookSecret}
			},
		},
		"manifests": {
			env: only("DBT_CLOUD_TOKEN"),
			has: func(c *Config) []Secret { return []Secret{c.Integrations[0].DBTCloud.Token} },
			lack: func(c *Config) []Secret {
				return []Secret{c.DataSources[0].DSN, c.Integrations[0].DBTCloud.WebhookSecret, c.Integrations[0].Hightouch.Token}
			},
		},
		"reporter": {
			env:  only(),
			lack: func(c *Config) []Secret { return c.Secrets() },
		},
	}
	for scope, tc := range tests {
		t.Run(string(scope), func(t *testing.T) {
			c, err := ParseFor(raw, envOf(tc.env), scope)
			if err != nil {
				t.Fatal(err)
			}
			if tc.has != nil {
				for i, s := range tc.has(c) {
					if !s.IsSet() {
						t.Errorf("own credential %d missing", i)
					}
				}
			}
			for i, s := range tc.lack(c) {
				if s.IsSet() {
					t.Errorf("foreign credential %d present", i)
				}
			}
		})
	}
	// A component's own missing credential is still an error.
	if _, err := ParseFor(raw, envOf(only("DBT_CLOUD_WEBHOOK_SECRET")), "ciwait"); err == nil || !strings.Contains(err.Error(), "DBT_CLOUD_TOKEN is not set") {
		t.Errorf("ciwait without its dbt Cloud token: %v", err)
	}
	// The whole-process scope needs everything.
	if _, err := Parse(raw, envOf(only("WAREHOUSE_DSN"))); err == nil {
		t.Error("serve loaded without most credentials")
	}
}
