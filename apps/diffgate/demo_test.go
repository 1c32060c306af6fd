package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
	"github.com/diffgate/diffgate/shared/report"
)

// TestDemo runs `diffgate demo` in this process: the pipeline must end as
// the sample project says, and what it prints must be the comment GitHub
// received, with the numbers of the generated tables.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	res, err := runDemo(ctx, demoOptions{}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if res.Conclusion != "success" || res.Comments != 1 {
		t.Errorf("check %s with %d comments; want success and one", res.Conclusion, res.Comments)
	}
	if !strings.HasPrefix(res.Comment, report.StickyMarker) {
		t.Errorf("the comment does not start with the sticky marker")
	}
	if !strings.Contains(out, strings.TrimRight(res.Comment, "\n")) {
		t.Errorf("the printed output does not hold the comment as posted:\n%s", out)
	}
	checkComment(t, res.Comment, sandbox.Sample().Expect())
	for _, want := range []string{
		"dbt Cloud run #", "is running", // progress as the check run showed it
		"completed    success: " + res.Title,
		`Check run "diffgate" on 7e57c0d: success — ` + res.Title,
		"Details page: " + res.DetailsURL,
		"diffgate demo --serve",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	if steps := regexp.MustCompile(`(?m)^ +\d+\.\ds  (queued|in progress|completed) +\S`).FindAllString(out, -1); len(steps) < 4 {
		t.Errorf("%d steps of the check shown; want it queued, waiting for dbt Cloud, diffing and completed:\n%s", len(steps), out)
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/details/r[0-9a-f]+\?t=`).MatchString(res.DetailsURL) {
		t.Errorf("details link %q", res.DetailsURL)
	}
	if stderr.Len() > 0 {
		t.Errorf("a quiet demo wrote to stderr:\n%s", stderr.String())
	}
}

// TestDemoUsage: the demo takes flags only.
func TestDemoUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "extra"}, &stdout, &stderr); code != 2 {
		t.Errorf("demo with an argument exited %d; want 2 (usage)", code)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"demo", "-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "--serve") {
		t.Errorf("demo -h exited %d:\n%s", code, stderr.String())
	}
}

// TestReadmeStartsWithTheDemo: the README's first command is `make demo`,
// and `make demo` runs this command.
func TestReadmeStartsWithTheDemo(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	first := ""
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for sc.Scan() && first == "" {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock
		case inBlock && line != "" && !strings.HasPrefix(line, "#"):
			first = line
		}
	}
	if !strings.HasPrefix(first, "make demo") {
		t.Errorf("the README's first command is %q; want make demo", first)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^demo:.*\n(\t.*\n)*\tgo run \./apps/diffgate demo\b`).Match(mk) {
		t.Errorf("the Makefile's demo target does not run `go run ./apps/diffgate demo`")
	}
}
