package config

import "time"

// Defaults, in one place. Documentation is generated from the `default`
// struct tags, and a test checks that the tags and these agree.
const (
	DefaultListen                 = ":8080"
	DefaultDetailsTTL             = 60 * 24 * time.Hour
	DefaultRetention              = 30 * 24 * time.Hour
	DefaultStoreDir               = "data/nats"
	DefaultReplicas               = 1
	DefaultLogLevel               = "info"
	DefaultGitHubWebURL           = "https://github.com"
	DefaultGitHubAPIURL           = "https://api.github.com/"
	DefaultGitLabURL              = "https://gitlab.com"
	DefaultMaxConcurrency         = 4
	DefaultQueryTimeout           = 10 * time.Minute
	DefaultPrimaryKeyTag          = "primary-key"
	DefaultDBTCloudURL            = "https://cloud.getdbt.com"
	DefaultPollInterval           = 30 * time.Second
	DefaultCITimeout              = 2 * time.Hour
	DefaultDiffAllDownstreamLabel = "diffgate:diff-all-downstream"
	DefaultSampleSize             = 20
	DefaultHightouchURL           = "https://api.hightouch.com"
	DefaultManifestMaxSize        = 512 * 1000 * 1000
)

// Default returns the configuration used when no file is given: every
// default, no integrations.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	setStr(&c.Server.Listen, DefaultListen)
	setDur(&c.Server.DetailsTTL, DefaultDetailsTTL)
	setDur(&c.Server.Retention, DefaultRetention)
	setStr(&c.NATS.StoreDir, DefaultStoreDir)
	setInt(&c.NATS.Replicas, DefaultReplicas)
	setStr(&c.Log.Level, DefaultLogLevel)
	if c.GitHub != nil {
		setStr(&c.GitHub.WebURL, DefaultGitHubWebURL)
		setStr(&c.GitHub.APIURL, DefaultGitHubAPIURL)
	}
	if c.GitLab != nil {
		setStr(&c.GitLab.URL, DefaultGitLabURL)
	}
	for i := range c.DataSources {
		d := &c.DataSources[i]
		setInt(&d.MaxConcurrency, DefaultMaxConcurrency)
		setDur(&d.QueryTimeout, DefaultQueryTimeout)
	}
	for i := range c.Integrations {
		in := &c.Integrations[i]
		setStr(&in.PrimaryKeyTag, DefaultPrimaryKeyTag)
		setStr(&in.DBTCloud.URL, DefaultDBTCloudURL)
		setDur(&in.DBTCloud.PollInterval, DefaultPollInterval)
		setDur(&in.DBTCloud.Timeout, DefaultCITimeout)
		setStr(&in.CI.DiffAllDownstreamLabel, DefaultDiffAllDownstreamLabel)
		if in.Hightouch != nil {
			setStr(&in.Hightouch.URL, DefaultHightouchURL)
		}
	}
	if c.Limits.ManifestMaxSize == 0 {
		c.Limits.ManifestMaxSize = DefaultManifestMaxSize
	}
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setDur(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}
