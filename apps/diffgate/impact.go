package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report/human"
)

// labels is a repeatable --label flag.
type labels []string

func (l *labels) String() string     { return strings.Join(*l, ",") }
func (l *labels) Set(v string) error { *l = append(*l, v); return nil }

func cmdImpact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("impact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prodPath := fs.String("prod", "", "production `manifest.json`")
	prPath := fs.String("pr", "", "the pull request's `manifest.json`")
	slim := fs.Bool("slim", false, "Slim Diff: diff only modified models (and downstream ones that ask for it)")
	var prLabels labels
	fs.Var(&prLabels, "label", "a `label` on the pull request (repeatable); "+dbt.DefaultDiffAllDownstreamLabel+" diffs all downstream models")
	allLabel := fs.String("diff-all-label", dbt.DefaultDiffAllDownstreamLabel, "the `label` that diffs every downstream model under Slim Diff")
	pkTag := fs.String("pk-tag", dbt.DefaultPrimaryKeyTag, "the `tag` (in meta or column tags) that marks primary-key columns")
	format := fs.String("format", "text", "output `format`: text or json")
	metadata := fs.Bool("import-metadata", true, "include dbt tags, descriptions and owners")
	maxMB := fs.Int64("max-size", dbt.DefaultMaxBytes>>20, "refuse manifests larger than this many `MiB`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: diffgate impact --prod FILE --pr FILE [flags]\n\n"+
			"Compares a pull request's dbt manifest with production's: which models are\n"+
			"modified and why, what they affect downstream, and how each would be diffed.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q (manifests are given with --prod and --pr)", errUsage, fs.Arg(0))
	case *prodPath == "" || *prPath == "":
		return fmt.Errorf("%w: both --prod and --pr are needed", errUsage)
	case *format != "text" && *format != "json":
		return fmt.Errorf("%w: --format is %q; use text or json", errUsage, *format)
	case *maxMB <= 0:
		return fmt.Errorf("%w: --max-size must be a positive number of MiB", errUsage)
	}

	opts := dbt.ReadOptions{MaxBytes: *maxMB << 20}
	var prod, pr *dbt.Manifest
	var prodErr, prErr error
	var wg sync.WaitGroup
	wg.Go(func() { prod, prodErr = readManifest(ctx, *prodPath, opts) })
	wg.Go(func() { pr, prErr = readManifest(ctx, *prPath, opts) })
	wg.Wait()
	if prodErr != nil {
		return fmt.Errorf("the production manifest %s: %w", *prodPath, prodErr)
	}
	if prErr != nil {
		return fmt.Errorf("the PR manifest %s: %w", *prPath, prErr)
	}
	plan, err := dbt.Plan(ctx, prod, pr, dbt.PlanOptions{
		SlimDiff:               *slim,
		Labels:                 prLabels,
		DiffAllDownstreamLabel: *allLabel,
		PrimaryKeyTag:          *pkTag,
		ImportMetadata:         *metadata,
		SampleSize:             defaultSampleSize,
	})
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	return writeImpactText(stdout, plan, prod, pr)
}

// defaultSampleSize is the sample bound a plan from the command line
// carries (the integration's setting, in the service).
const defaultSampleSize = 100

func readManifest(ctx context.Context, path string, opts dbt.ReadOptions) (*dbt.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return dbt.Read(ctx, f, opts)
}

// writeImpactText renders the plan as a table for people, with long
// sentences (why a model is not diffed, primary-key notes) as numbered
// notes under it.
func writeImpactText(w io.Writer, p *events.Plan, prod, pr *dbt.Manifest) error {
	changed, downstream := 0, 0
	for _, m := range p.Models {
		if m.Change == events.ChangeDownstream {
			downstream++
		} else {
			changed++
		}
	}
	slim := "off"
	if p.SlimDiff {
		slim = "on"
		if p.DiffAllDownstream {
			slim = "on, all downstream diffed (label)"
		}
	}
	fmt.Fprintf(w, "%s: %s modified or new, %s downstream; %s to diff (Slim Diff %s)\n",
		orDash(p.ProjectName), plural(changed, "model"), plural(downstream, "model"), plural(p.DiffCount(), "model"), slim)
	fmt.Fprintf(w, "production: schema %s, dbt %s; PR: schema %s, dbt %s\n", p.ProdSchema, orDash(prod.DBTVersion), p.PRSchema, orDash(pr.DBTVersion))
	if len(p.Models) == 0 {
		fmt.Fprintln(w, "\nNo model is modified or affected.")
	}

	var notes []string
	note := func(s string) string {
		for i, n := range notes {
			if n == s {
				return fmt.Sprintf("[%d]", i+1)
			}
		}
		notes = append(notes, s)
		return fmt.Sprintf("[%d]", len(notes))
	}
	name := nodeNames(p)
	if len(p.Models) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tWHY\tDIFF\tPRIMARY KEY\tPRODUCTION → PR")
		for _, m := range p.Models {
			why := string(m.Change)
			switch m.Change {
			case events.ChangeModified:
				why = "modified: " + strings.Join(m.Reasons, ", ")
			case events.ChangeDownstream:
				why = "downstream of " + shortList(name(m.Upstream), 2)
			}
			diff := "yes"
			if !m.Diff {
				diff = "no " + note(m.SkipReason)
			}
			pk := "—"
			if len(m.PrimaryKey) > 0 {
				pk = strings.Join(m.PrimaryKey, ", ") + " (" + m.PrimaryKeyRule + ")"
			}
			if m.PrimaryKeyNote != "" && m.PrimaryKeyNote != m.SkipReason {
				pk += " " + note(m.PrimaryKeyNote)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s → %s\n", m.Name, why, diff, pk, relation(m.Prod), relation(m.PR))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for i, n := range notes {
			fmt.Fprintf(w, "[%d] %s\n", i+1, n)
		}
	}
	if len(p.Removed) > 0 {
		fmt.Fprintln(w, "\nRemoved from the PR:")
		for _, n := range p.Removed {
			fmt.Fprintf(w, "  %s (%s)\n", n.Name, n.ResourceType)
		}
	}
	if len(p.Exposures) > 0 {
		fmt.Fprintln(w, "\nExposures downstream:")
		for _, e := range p.Exposures {
			line := fmt.Sprintf("  %s (%s) reads %s", e.Name, orDash(e.Type), strings.Join(name(e.Upstream), ", "))
			if e.Owner != "" {
				line += "; owner " + e.Owner
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintln(w, "\nWarnings:")
		for _, s := range p.Warnings {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	return nil
}

// nodeNames returns a function that turns unique_ids into the names the
// plan shows. The lineage is indexed once: a table row per model, each
// indexing it again, made the text of a 10,000-model plan take seconds.
func nodeNames(p *events.Plan) func(ids []string) []string {
	byID := make(map[string]string, len(p.Lineage.Nodes))
	for _, n := range p.Lineage.Nodes {
		byID[n.ID] = n.Name
	}
	return func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id
			if n := byID[id]; n != "" {
				out[i] = n
			}
		}
		return out
	}
}

func shortList(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ss[:n], ", "), len(ss)-n)
}

func relation(r *events.Relation) string {
	if r == nil {
		return "—"
	}
	return r.String()
}

// plural counts as the report does: "1 model", "1,204 models".
func plural(n int, what string) string { return human.Plural(int64(n), what, what+"s") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
