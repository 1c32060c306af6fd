// Package app is diffgate's GitHub App: webhooks in (pull requests, the
// check's re-run button, installations), the shared gate applying
// diffgate's gates to them, and the shared publisher showing every run as
// one check run named diffgate per head commit and one sticky comment per
// pull request.
package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/publish"
	"github.com/diffgate/diffgate/shared/service"
)

// clientTimeout bounds one GitHub API request.
const clientTimeout = 30 * time.Second

// Build makes the App's components from the config's github section: the
// webhook route on env's server (githubapp.DefaultWebhookRoute), the
// details pages, the gate and the publisher. Without a github section it
// makes none.
func Build(ctx context.Context, env *service.Env) ([]service.Component, error) {
	log := zerolog.Ctx(ctx)
	gh := env.Config.GitHub
	if gh == nil {
		log.Info().Msg("github: no github section in the config; the GitHub App is off")
		return nil, nil
	}
	if !gh.WebhookSecret.IsSet() {
		return nil, fmt.Errorf("github.webhook_secret is required: set the same secret as in the App's webhook settings")
	}
	key, err := privateKey(gh)
	if err != nil {
		return nil, err
	}
	webHost, err := hostOf(gh.WebURL)
	if err != nil {
		return nil, fmt.Errorf("github.web_url: %w", err)
	}
	cc, err := githubapp.NewCachingClientCreator(githubapp.NewClientCreator(gh.APIURL, graphQLURL(gh.APIURL), gh.AppID, key,
		githubapp.WithClientUserAgent("diffgate"), githubapp.WithClientTimeout(clientTimeout)), githubapp.DefaultCachingClientCapacity)
	if err != nil {
		return nil, fmt.Errorf("github: client: %w", err)
	}
	client := newClient(cc, gh.AppID, webHost)

	hookLog := log.With().Str(observe.FieldComponent, "github-webhook").Logger()
	env.Mux.Handle("POST "+githubapp.DefaultWebhookRoute, Webhook(&hookLog, gh.WebhookSecret.Value(), env.Bus, webHost, gh.AppID))
	comps, err := publish.Components(ctx, env, publish.App{Provider: events.GitHub, Files: client, Lookup: client, Target: client})
	if err != nil {
		return nil, err
	}
	log.Info().Int64("app_id", gh.AppID).Str("api_url", gh.APIURL).Str("route", githubapp.DefaultWebhookRoute).Msg("github: App ready")
	return comps, nil
}

func privateKey(gh *config.GitHub) ([]byte, error) {
	if gh.PrivateKey.IsSet() {
		return []byte(gh.PrivateKey.Value()), nil
	}
	if gh.PrivateKeyFile == "" {
		return nil, fmt.Errorf("github.private_key_file is required (or github.private_key): the App's PEM private key")
	}
	b, err := os.ReadFile(gh.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github.private_key_file: %w", err)
	}
	return b, nil
}

func hostOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a URL such as https://github.com", raw)
	}
	return strings.ToLower(u.Host), nil
}

// graphQLURL is the GraphQL endpoint beside a REST base URL: api.github.com
// serves /graphql, GitHub Enterprise Server /api/graphql beside /api/v3.
func graphQLURL(rest string) string {
	rest = strings.TrimSuffix(rest, "/")
	if base, ok := strings.CutSuffix(rest, "/api/v3"); ok {
		return base + "/api/graphql"
	}
	return rest + "/graphql"
}
