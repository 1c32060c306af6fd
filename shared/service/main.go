package service

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/diffgate/diffgate/shared/config"
)

// Main is the whole main function of a component binary: flags, config,
// signals, exit status.
func Main(name string, build Builder) {
	fs := flag.NewFlagSet("diffgate-"+name, flag.ExitOnError)
	path := fs.String("config", os.Getenv("DIFFGATE_CONFIG"), "path to diffgate.yaml (env DIFFGATE_CONFIG)")
	_ = fs.Parse(os.Args[1:])
	cfg, err := LoadConfigFor(*path, config.Scope(name))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, Options{Name: name, Config: cfg, Build: build}); err != nil {
		fmt.Fprintf(os.Stderr, "diffgate-%s: %v\n", name, err)
		os.Exit(1)
	}
}

// LoadConfig loads path, or returns the default config when path is empty.
func LoadConfig(path string) (*config.Config, error) { return LoadConfigFor(path, config.ScopeAll) }

// LoadConfigFor is LoadConfig for a process that needs one scope's
// credentials.
func LoadConfigFor(path string, scope config.Scope) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.LoadFor(path, scope)
}
