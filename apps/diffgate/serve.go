package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	githubapp "github.com/diffgate/diffgate/apps/github/app"
	"github.com/diffgate/diffgate/apps/gitlab"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/ciwait"
	"github.com/diffgate/diffgate/workers/differ"
	"github.com/diffgate/diffgate/workers/impact"
	"github.com/diffgate/diffgate/workers/manifests"
	"github.com/diffgate/diffgate/workers/reporter"
)

// builders are every component `diffgate serve` runs, in one list.
func builders() []service.Builder {
	return []service.Builder{
		githubapp.Build,
		gitlab.Build,
		ciwait.Build,
		manifests.Build,
		impact.Build,
		differ.Build,
		reporter.Build,
	}
}

func buildAll(ctx context.Context, env *service.Env) ([]service.Component, error) {
	var all []service.Component
	for _, b := range builders() {
		cs, err := b(ctx, env)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
	}
	return all, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("DIFFGATE_CONFIG"), "path to diffgate.yaml (env DIFFGATE_CONFIG); without one, diffgate starts with an embedded NATS and no integrations")
	listen := fs.String("listen", "", "address to listen on, overriding server.listen")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg, err := service.LoadConfig(*path)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	return service.Run(ctx, service.Options{
		Name:      "serve",
		Config:    cfg,
		Embedded:  true,
		Build:     buildAll,
		LogOutput: stderr,
	})
}
