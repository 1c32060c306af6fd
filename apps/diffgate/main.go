// Command diffgate is the one binary for laptops and small installs: `serve`
// runs every component in one process; `impact`, `diff`, `check` and `demo`
// are the tools around it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run returns errUsage for bad arguments, any
// other error for a failure; exit codes follow from that.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// errUsage marks an error in the command line; it exits with status 2.
var errUsage = errors.New("usage")

// errFailed marks a command that ran and reported a failure it already
// printed (e.g. a check with a ✗); it exits with status 1 and no message.
var errFailed = errors.New("failed")

func commands() map[string]command {
	return map[string]command{
		"serve":            {"run every component in one process", cmdServe},
		"impact":           {"show what a dbt change modifies and what to diff", cmdImpact},
		"diff":             {"diff two relations or queries in a warehouse", cmdDiff},
		"check":            {"check a config file against every service it names", cmdCheck},
		"demo":             {"run the whole pipeline on a sample project, locally", cmdDemo},
		"version":          {"print the version", cmdVersion},
		"config-reference": {"print the configuration reference (Markdown) generated from the config types", cmdConfigReference},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "diffgate: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "diffgate %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "diffgate %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	width := 0
	for n := range cmds {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	fmt.Fprintln(w, "diffgate: data diffs of dbt pull requests\n\nUsage: diffgate <command> [flags]\n\nCommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `diffgate <command> -h` for a command's flags.")
}
