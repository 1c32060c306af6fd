package config

import (
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"

	"github.com/diffgate/diffgate/shared/events"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

type validator struct {
	lines map[string]int
	scope Scope
	errs  Errors
}

func (v *validator) fail(key, format string, args ...any) {
	line := v.lines[key]
	// Fall back to the nearest enclosing key that has a line.
	for k := key; line == 0 && k != ""; {
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
		line = v.lines[k]
	}
	v.errs = append(v.errs, &FieldError{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (c *Config) validate(lines map[string]int, scope Scope) Errors {
	v := &validator{lines: lines, scope: scope}
	fieldTag := func(t reflect.Type, name string) string {
		f, _ := t.FieldByName(name)
		return f.Tag.Get("scope")
	}
	c.validateServer(v)
	c.validateProviders(v, scope.needs(fieldTag(reflect.TypeOf(GitHub{}), "WebhookSecret")), scope.needs(fieldTag(reflect.TypeOf(GitLab{}), "Token")))
	seenDS := map[string]bool{}
	for i := range c.DataSources {
		d := &c.DataSources[i]
		k := fmt.Sprintf("data_sources[%d]", i)
		switch {
		case d.Name == "":
			v.fail(k+".name", "is required")
		case !nameRE.MatchString(d.Name):
			v.fail(k+".name", "%q may hold only letters, digits, - and _", d.Name)
		case seenDS[d.Name]:
			v.fail(k+".name", "%q is used by another data source", d.Name)
		}
		seenDS[d.Name] = true
		switch d.Type {
		case TypePostgres, TypeMySQL:
			if scope.needs(fieldTag(reflect.TypeOf(DataSource{}), "DSN")) && !d.DSN.IsSet() {
				v.fail(k+".dsn", "is required for a %s data source", d.Type)
			}
		case TypeDuckDB:
		case "":
			v.fail(k+".type", "is required: postgres, duckdb or mysql")
		default:
			v.fail(k+".type", "%q is not supported: use postgres, duckdb or mysql (mysql also serves MariaDB)", d.Type)
		}
		if d.MaxConcurrency < 1 {
			v.fail(k+".max_concurrency", "must be at least 1")
		}
	}
	seenName := map[string]bool{}
	seenRepo := map[string]string{}
	for i := range c.Integrations {
		in := &c.Integrations[i]
		k := fmt.Sprintf("integrations[%d]", i)
		switch {
		case in.Name == "":
			v.fail(k+".name", "is required")
		case seenName[in.Name]:
			v.fail(k+".name", "%q is used by another integration", in.Name)
		}
		seenName[in.Name] = true
		c.validateRepository(v, k, in)
		if repo := strings.ToLower(in.Repository); repo != "" {
			if other, dup := seenRepo[repo]; dup {
				v.fail(k+".repository", "%s already belongs to integration %q: one integration per repository", in.Repository, other)
			}
			seenRepo[repo] = in.Name
		}
		switch {
		case in.DataSource == "":
			v.fail(k+".data_source", "is required")
		case !seenDS[in.DataSource]:
			v.fail(k+".data_source", "%q is not a configured data source; known: %s", in.DataSource, c.dataSourceNames())
		}
		validateDBTCloud(v, k+".dbt_cloud", &in.DBTCloud, scope.needs(fieldTag(reflect.TypeOf(DBTCloud{}), "Token")))
		for j, p := range in.CI.FilesToIgnore {
			if strings.TrimSpace(p) == "" {
				v.fail(fmt.Sprintf("%s.ci.files_to_ignore[%d]", k, j), "is an empty pattern")
			}
		}
		if in.CI.SampleSize != nil && *in.CI.SampleSize < 0 {
			v.fail(k+".ci.sample_size", "must be 0 (no samples) or more")
		}
		if h := in.Hightouch; h != nil {
			if scope.needs(fieldTag(reflect.TypeOf(Hightouch{}), "Token")) && !h.Token.IsSet() {
				v.fail(k+".hightouch.token", "is required: a Hightouch workspace API key")
			}
			if len(h.SourceIDs) == 0 {
				v.fail(k+".hightouch.source_ids", "is required: the Hightouch source ids that read this warehouse")
			}
			validURL(v, k+".hightouch.url", h.URL)
		}
	}
	return v.errs
}

func (c *Config) dataSourceNames() string {
	if len(c.DataSources) == 0 {
		return "none (add one under data_sources)"
	}
	names := make([]string, len(c.DataSources))
	for i, d := range c.DataSources {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

func (c *Config) validateServer(v *validator) {
	if c.Server.Listen == "" {
		v.fail("server.listen", "is required")
	}
	if c.Server.PublicURL != "" {
		validURL(v, "server.public_url", c.Server.PublicURL)
	}
	if s := c.Server.DetailsSecret; s.IsSet() && len(s.Value()) < 16 {
		v.fail("server.details_secret", "is too short: use at least 16 random characters")
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		v.fail("log.level", "%q is not one of trace, debug, info, warn, error", c.Log.Level)
	}
	switch c.NATS.Replicas {
	case 1, 3, 5:
	default:
		v.fail("nats.replicas", "must be 1, 3 or 5")
	}
	if c.NATS.URL != "" {
		for _, u := range strings.Split(c.NATS.URL, ",") {
			pu, err := url.Parse(strings.TrimSpace(u))
			if err != nil || pu.Host == "" {
				shown := "the value"
				if err == nil {
					// A lone user name is a token (nats://TOKEN@host):
					// URL.Redacted would keep it.
					if pu.User != nil {
						pu.User = url.User("redacted")
					}
					shown = fmt.Sprintf("%q", pu.String())
				}
				v.fail("nats.url", "%s is not a NATS URL such as nats://nats:4222", shown)
			}
		}
	}
	if f := c.NATS.CredsFile; f != "" {
		fileReadable(v, "nats.creds_file", f)
	}
}

func (c *Config) validateProviders(v *validator, ghCreds, glCreds bool) {
	if g := c.GitHub; g != nil {
		if g.AppID <= 0 {
			v.fail("github.app_id", "is required: the GitHub App's id")
		}
		switch {
		case !ghCreds:
		case g.PrivateKeyFile == "" && !g.PrivateKey.IsSet():
			v.fail("github.private_key_file", "is required (or github.private_key): the App's PEM private key")
		case g.PrivateKeyFile != "":
			fileReadable(v, "github.private_key_file", g.PrivateKeyFile)
		}
		if ghCreds && !g.WebhookSecret.IsSet() {
			v.fail("github.webhook_secret", "is required: set the same secret as in the App's webhook settings")
		}
		validURL(v, "github.web_url", g.WebURL)
		validURL(v, "github.api_url", g.APIURL)
	}
	if g := c.GitLab; g != nil {
		validURL(v, "gitlab.url", g.URL)
		if glCreds && !g.Token.IsSet() {
			v.fail("gitlab.token", "is required: an access token with the api scope")
		}
		if glCreds && !g.WebhookSecret.IsSet() {
			v.fail("gitlab.webhook_secret", "is required: set the same secret token on the project's webhook")
		}
	}
}

// validateRepository checks host/owner/name and derives the provider from
// the host.
func (c *Config) validateRepository(v *validator, k string, in *Integration) {
	key := k + ".repository"
	parts := strings.Split(in.Repository, "/")
	if in.Repository == "" {
		v.fail(key, "is required, as host/owner/name (e.g. github.com/acme/analytics)")
		return
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t") {
			parts = nil
			break
		}
	}
	if len(parts) < 3 || !strings.Contains(parts[0], ".") && !strings.Contains(parts[0], ":") && parts[0] != "localhost" {
		v.fail(key, "%q is not host/owner/name (e.g. github.com/acme/analytics or gitlab.com/group/sub/project)", in.Repository)
		return
	}
	host := strings.ToLower(parts[0])
	ghHost, glHost := "", ""
	if c.GitHub != nil {
		ghHost = hostOf(c.GitHub.WebURL)
	}
	if c.GitLab != nil {
		glHost = hostOf(c.GitLab.URL)
	}
	switch {
	case host == ghHost:
		in.Provider = events.GitHub
		if len(parts) != 3 {
			v.fail(key, "%q: a GitHub repository is host/owner/name", in.Repository)
		}
	case host == glHost:
		in.Provider = events.GitLab
	case host == "github.com" || strings.HasPrefix(host, "github."):
		v.fail(key, "%s is on GitHub but there is no github section: add the GitHub App's settings", in.Repository)
	case host == "gitlab.com" || strings.HasPrefix(host, "gitlab."):
		v.fail(key, "%s is on GitLab but there is no gitlab section: add the GitLab bot's settings", in.Repository)
	default:
		v.fail(key, "host %q matches neither github.web_url (%s) nor gitlab.url (%s)", host, orNone(ghHost), orNone(glHost))
	}
}

func orNone(s string) string {
	if s == "" {
		return "not configured"
	}
	return s
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

func validateDBTCloud(v *validator, k string, d *DBTCloud, creds bool) {
	validURL(v, k+".url", d.URL)
	if creds && !d.Token.IsSet() {
		v.fail(k+".token", "is required: a dbt Cloud service token with the Member or Developer permission")
	}
	if d.AccountID <= 0 {
		v.fail(k+".account_id", "is required: the number after /accounts/ in dbt Cloud URLs")
	}
	if d.ArtifactsJobID <= 0 {
		v.fail(k+".artifacts_job_id", "is required: the job whose runs hold the production manifest.json")
	}
	if d.PRJobID <= 0 {
		v.fail(k+".pr_job_id", "is required: the dbt Cloud CI job that builds pull requests")
	}
	if d.PRJobID > 0 && d.PRJobID == d.ArtifactsJobID {
		v.fail(k+".pr_job_id", "is the same job as artifacts_job_id: production artifacts must come from a production job")
	}
	if d.PollInterval.D().Seconds() < 1 {
		v.fail(k+".poll_interval", "must be at least 1s")
	}
	if d.Timeout <= d.PollInterval {
		v.fail(k+".timeout", "must be longer than poll_interval (%s)", d.PollInterval)
	}
}

func validURL(v *validator, key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(key, "%q is not an http(s) URL", raw)
	}
}

func fileReadable(v *validator, key, path string) {
	f, err := os.Open(path)
	if err != nil {
		v.fail(key, "cannot read %s: %v", path, errText(err))
		return
	}
	f.Close()
}

// errText drops the repeated path from an *os.PathError.
func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
