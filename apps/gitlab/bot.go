// Package gitlab is diffgate's GitLab bot, for gitlab.com and self-managed
// GitLab: merge request and note webhooks in, the shared gate applying
// diffgate's gates to them, and the shared publisher showing every run as
// a commit status named diffgate on the head commit and one sticky note
// per merge request.
package gitlab

//lint:file-ignore SA1019 go-gitlab v0.115.0 is pinned on purpose: decision 0004 (its successor moved the import path).
import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	glapi "github.com/xanzy/go-gitlab"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/publish"
	"github.com/diffgate/diffgate/shared/service"
)

// Build makes the bot's components from the config's gitlab section: the
// webhook route (HookRoute) on env's server, the details pages, the gate
// and the publisher. Without a gitlab section it makes none.
func Build(ctx context.Context, env *service.Env) ([]service.Component, error) {
	log := zerolog.Ctx(ctx)
	if env.Config.GitLab == nil {
		log.Info().Msg("gitlab: no gitlab section in the config; the GitLab bot is off")
		return nil, nil
	}
	gl := env.Config.GitLab
	host, apiURL, err := settings(gl)
	if err != nil {
		return nil, err
	}
	// No retries inside the client: a rate limit or an outage goes back to
	// the bus, which asks again later without holding a handler.
	api, err := glapi.NewClient(gl.Token.Value(), glapi.WithBaseURL(apiURL), glapi.WithoutRetries(),
		glapi.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("gitlab: client: %w", err)
	}
	api.UserAgent = "diffgate"
	client := newClient(api, host)

	hookLog := log.With().Str(observe.FieldComponent, "gitlab-webhook").Logger()
	env.Mux.Handle("POST "+HookRoute, Webhook(&hookLog, gl.WebhookSecret.Value(), env.Bus, host))
	comps, err := publish.Components(ctx, env, publish.App{Provider: events.GitLab,
		Files: client, Lookup: client, Bases: client, Target: client})
	if err != nil {
		return nil, err
	}
	log.Info().Str("url", gl.URL).Str("api_url", apiURL).Str("route", HookRoute).Msg("gitlab: bot ready")
	return comps, nil
}

// settings checks the gitlab section and returns the host and API URL of
// gitlab.url.
func settings(gl *config.GitLab) (host, apiURL string, err error) {
	switch {
	case !gl.Token.IsSet():
		return "", "", errors.New("gitlab.token is required: a project access token with the api scope and the Developer role")
	case !gl.WebhookSecret.IsSet():
		return "", "", errors.New("gitlab.webhook_secret is required: set the same secret token as on the project's webhook")
	}
	if host, apiURL, err = endpoints(gl.URL); err != nil {
		return "", "", fmt.Errorf("gitlab.url: %w", err)
	}
	return host, apiURL, nil
}

// endpoints are the host that starts repository names (with its port, if
// any) and the REST API's base URL of a GitLab URL such as
// https://gitlab.com or https://git.example.com/gitlab (a self-managed
// instance under a path); a URL that already ends in /api/v4 is taken as
// it is.
func endpoints(raw string) (host, apiURL string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", fmt.Errorf("%q is not a URL such as https://gitlab.com", raw)
	}
	base := strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	if !strings.HasSuffix(base, "/api/v4") {
		base += "/api/v4"
	}
	return strings.ToLower(u.Host), base, nil
}
