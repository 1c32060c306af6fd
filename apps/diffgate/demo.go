package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/standin"
)

// The demo's pull request.
const (
	demoRepo   = "acme/shop"
	demoPR     = 7
	demoHead   = "7e57c0de7e57c0de7e57c0de7e57c0de7e57c0de"
	demoWithin = 2 * time.Minute
)

// errDemo marks a demo whose pipeline did not end as expected.
var errDemo = errors.New("the demo did not end as expected")

// demoResult is what the demo saw, for its test.
type demoResult struct {
	Conclusion, Title, DetailsURL string
	Comment                       string
	Comments                      int
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: diffgate demo [--verbose] [--serve]\n\n"+
			"Runs the whole pipeline in this process on a sample dbt project: an embedded NATS, a DuckDB\n"+
			"warehouse with production and pull-request builds, stand-ins for GitHub, dbt Cloud and\n"+
			"Hightouch. It opens a pull request, prints each step of the check run, then the comment\n"+
			"diffgate posted and how the check ended.")
		fs.PrintDefaults()
	}
	verbose := fs.Bool("verbose", false, "print diffgate's logs (JSON, on stderr) as it runs")
	serve := fs.Bool("serve", false, "keep serving the details page after the run, until Ctrl-C")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: demo takes no arguments", errUsage)
	}
	_, err := runDemo(ctx, demoOptions{verbose: *verbose, serve: *serve}, stdout, stderr)
	return err
}

type demoOptions struct {
	verbose, serve bool
}

// runDemo runs the demo and returns what it saw.
func runDemo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) (*demoResult, error) {
	dir, err := os.MkdirTemp("", "diffgate-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	// Quiet by default: the logs are kept and shown only if it fails.
	tail := sandbox.NewTail(200)
	var logs io.Writer = tail
	if o.verbose {
		logs = io.MultiWriter(stderr, tail)
	}
	problems := &standin.Recorder{}
	fail := func(format string, args ...any) (*demoResult, error) {
		fmt.Fprintf(stderr, "\ndiffgate demo: "+format+"\n", args...)
		if p := problems.All(); len(p) > 0 {
			fmt.Fprintf(stderr, "\nThe stand-ins refused requests:\n  %s\n", strings.Join(p, "\n  "))
		}
		if !o.verbose {
			fmt.Fprintf(stderr, "\nThe last lines of diffgate's log:\n%s", tail.String())
		}
		return nil, errDemo
	}

	project := sandbox.Sample()
	wh := sandbox.NewDuckDB(filepath.Join(dir, "analytics.duckdb"))
	defer wh.Close()
	st, err := sandbox.New(ctx, sandbox.Options{Project: project, Warehouse: wh, Dir: dir, TB: problems, Log: logs})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	// The CI run is queued, then runs, then succeeds, as dbt Cloud shows
	// it to diffgate's polls. Its schema is built before diffgate opens
	// the DuckDB file: the differ holds it open, read-only.
	ci, err := st.CIRun(ctx, events.GitHub, demoPR, demoHead,
		dbtcloudtest.Phase{Status: dbtcloud.StatusQueued, Polls: 1},
		dbtcloudtest.Phase{Status: dbtcloud.StatusRunning, Polls: 2},
		dbtcloudtest.Phase{Status: dbtcloud.StatusSuccess})
	if err != nil {
		return nil, err
	}
	proc, err := st.Run(ctx, sandbox.ProcessOptions{Name: "demo", Build: buildAll})
	if err != nil {
		return fail("%v", err)
	}
	defer proc.Stop()

	fmt.Fprintf(stdout, "diffgate demo: the whole pipeline in this process, on a sample dbt project\n\n")
	fmt.Fprintf(stdout, "  warehouse  DuckDB, production in schema %s and the pull request's CI build in %s\n",
		sandbox.ProdSchema, sandbox.PRSchema(events.GitHub, demoPR))
	fmt.Fprintf(stdout, "  project    %d models; the PR edits %s (%s downstream), Hightouch model %q reads %s\n",
		len(project.Unimpacted)+1+len(project.Downstream), project.Modified, strings.Join(project.Downstream, ", "),
		project.Hightouch.Name, project.Hightouch.Reads)
	fmt.Fprintf(stdout, "  stand-ins  GitHub %s, dbt Cloud %s, Hightouch %s\n", st.GitHub.URL, st.DBTCloud.URL, st.Hightouch.URL)
	fmt.Fprintf(stdout, "  diffgate   %s: every component of `diffgate serve`, embedded NATS\n\n", proc.URL)

	pr := st.PullRequest("opened", demoRepo, demoPR, demoHead, nil)
	start := time.Now()
	code, answer, err := st.GitHubHook(proc).Send(ctx, githubtest.Delivery{Event: "pull_request", ID: "demo-delivery-1", Body: pr.Payload()})
	if err != nil {
		return fail("send the webhook: %v", err)
	}
	if code/100 != 2 {
		return fail("the webhook was answered %d: %s", code, strings.TrimSpace(answer))
	}
	fmt.Fprintf(stdout, "Pull request %s#%d %q opened at %s: webhook answered %d, dbt Cloud CI run #%d\n\n",
		demoRepo, demoPR, pr.Title, events.Short(demoHead), code, ci.ID())

	wctx, cancel := context.WithTimeout(ctx, demoWithin)
	defer cancel()
	var last sandbox.Write
	seen := 0
	shown := ""
	for last.Status != "completed" {
		ws, err := st.Recorder.Next(wctx, seen)
		if err != nil {
			return fail("the check run did not complete within %s", demoWithin)
		}
		seen += len(ws)
		for _, w := range ws {
			if w.Kind != "check_run" {
				continue
			}
			last = w
			line := fmt.Sprintf("%-12s %s", strings.ReplaceAll(w.Status, "_", " "), w.Title)
			if w.Status == "completed" {
				line = fmt.Sprintf("%-12s %s: %s", w.Status, w.Conclusion, w.Title)
			}
			if line != shown {
				fmt.Fprintf(stdout, "  %5.1fs  %s\n", time.Since(start).Seconds(), line)
				shown = line
			}
		}
	}
	// The comment comes after the check is completed.
	for {
		if cs := st.GitHub.Comments(demoRepo, demoPR); len(cs) > 0 {
			break
		}
		if _, err := st.Recorder.Next(wctx, seen); err != nil {
			return fail("no comment was posted within %s of the check completing", demoWithin)
		}
		seen = len(st.Recorder.Writes())
	}
	comments := st.GitHub.Comments(demoRepo, demoPR)
	res := &demoResult{Conclusion: last.Conclusion, Title: last.Title, DetailsURL: last.DetailsURL,
		Comment: comments[len(comments)-1].Body, Comments: len(comments)}

	rule := strings.Repeat("─", 72)
	fmt.Fprintf(stdout, "\nThe comment diffgate posted on %s#%d (GitHub Markdown):\n%s\n%s\n%s\n\n",
		demoRepo, demoPR, rule, strings.TrimRight(res.Comment, "\n"), rule)
	fmt.Fprintf(stdout, "Check run %q on %s: %s — %s\n", "diffgate", events.Short(demoHead), res.Conclusion, res.Title)
	fmt.Fprintf(stdout, "Details page: %s\n", res.DetailsURL)

	switch {
	case len(problems.All()) > 0:
		return fail("the stand-ins refused %d requests", len(problems.All()))
	case res.Conclusion != string(events.ConclusionSuccess):
		return fail("the check ended %q; the sample pull request should pass (its key problem is reported, not failed on)", res.Conclusion)
	case res.Comments != 1:
		return fail("%d comments on the pull request; diffgate keeps one", res.Comments)
	}

	if !o.serve {
		fmt.Fprintf(stdout, "  (served only while the demo runs, and it has finished: run `diffgate demo --serve` to keep it up)\n")
		return res, nil
	}
	fmt.Fprintf(stdout, "  (serving it until Ctrl-C)\n")
	select {
	case <-ctx.Done():
	case err := <-waitProcess(proc):
		if err != nil {
			return fail("diffgate stopped: %v", err)
		}
	}
	return res, nil
}

// waitProcess returns a channel that gets the process's end.
func waitProcess(p *sandbox.Process) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Wait() }()
	return ch
}
