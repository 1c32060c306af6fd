// Package gate decides, for the GitHub App and the GitLab bot alike, what a
// pull request event means: start a run, skip it with a reason the PR
// shows, cancel the PR's run, or nothing. The decision is pure (Decide);
// the Gate component applies it: it keeps each PR's current head in a KV
// bucket, supersedes older runs, and publishes the pipeline's first
// message.
package gate

import (
	"fmt"
	"slices"
	"strings"

	ignore "github.com/sabhiram/go-gitignore"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// Verdict is what an event leads to.
type Verdict int

const (
	// Ignore: the event changes nothing (an edited title, another label).
	Ignore Verdict = iota
	// Start a run for the event's head.
	Start
	// Skip: the PR is gated out; it gets a neutral check saying why.
	Skip
	// Cancel the PR's current run (closed).
	Cancel
)

func (v Verdict) String() string {
	return [...]string{"ignore", "start", "skip", "cancel"}[v]
}

// Skip codes of Decision.Code.
const (
	SkipDisabled     = "disabled"
	SkipBaseBranch   = "base_branch"
	SkipDraft        = "draft"
	SkipLabel        = "label"
	SkipFilesIgnored = "files_ignored"
)

// Decision is a verdict with the words a person reads.
type Decision struct {
	Verdict Verdict
	// Reason is why (for Skip: the check's title; for Ignore: the log).
	Reason string
	// Hint says what to do to get a run, for Skip.
	Hint string
	// Code names the gate that skipped, for Skip: disabled, base_branch,
	// draft, label or files_ignored (report.Skip.Code).
	Code string
	// NeedsFiles is set when the decision depends on the PR's changed
	// files and none were given: call Decide again with them.
	NeedsFiles bool
	// Rerun is set when the run must get a new id although its head is
	// unchanged (re-run button, a label that changes the plan).
	Rerun bool
}

// Input is everything Decide looks at.
type Input struct {
	Event       events.PREvent
	Integration *config.Integration // nil: the repository has no integration
	// Files are the PR's changed files (new and old paths of renames),
	// when fetched; nil when not fetched yet.
	Files []string
	// FilesTruncated is set when the provider listed only part of the
	// files (GitHub stops at 3,000): then nothing can be skipped on them.
	FilesTruncated bool
}

// Decide applies the gates (draft, closed, trigger label, files to ignore)
// to one event.
func Decide(in Input) Decision {
	ev := in.Event
	it := in.Integration
	// The reasons are shown on the VCS, in its own words (GitLab: merge
	// request, "mark as ready").
	pr := report.WordsFor(ev.Run.Provider).PR
	if it == nil {
		return Decision{Verdict: Ignore, Reason: "no integration is configured for " + ev.Run.Repository}
	}
	switch ev.Action {
	case "closed", "merged", "close", "merge":
		return Decision{Verdict: Cancel, Reason: "the " + pr + " was closed"}
	case "opened", "reopened", "synchronize", "ready_for_review", "rerun":
	case "labeled":
		switch {
		case it.CI.PRLabel != "" && strings.EqualFold(ev.Label, it.CI.PRLabel):
		case isDiffAllLabel(it, ev.Label):
			// The plan depends on this label, so the head is diffed again.
		default:
			return Decision{Verdict: Ignore, Reason: fmt.Sprintf("label %q is not one diffgate acts on", ev.Label)}
		}
	default:
		return Decision{Verdict: Ignore, Reason: fmt.Sprintf("action %q does not start a run", ev.Action)}
	}
	rerun := ev.Action == "rerun" || (ev.Action == "labeled" && isDiffAllLabel(it, ev.Label))

	if !it.CI.IsEnabled() {
		return Decision{Verdict: Skip, Code: SkipDisabled, Reason: "diffgate is disabled for this repository",
			Hint: fmt.Sprintf("set ci.enabled: true in the %q integration", it.Name)}
	}
	if b := it.CI.BaseBranch; b != "" && ev.Run.BaseRef != "" && ev.Run.BaseRef != b {
		return Decision{Verdict: Skip, Code: SkipBaseBranch, Reason: fmt.Sprintf("diffgate runs only for %ss into %s", pr, b),
			Hint: fmt.Sprintf("this one targets %s", ev.Run.BaseRef)}
	}
	if ev.Draft && !it.CI.RunOnDraft {
		if ev.Run.Provider == events.GitLab {
			return Decision{Verdict: Skip, Code: SkipDraft, Reason: "draft merge request: diffgate runs once it is marked as ready",
				Hint: "mark the merge request as ready"}
		}
		return Decision{Verdict: Skip, Code: SkipDraft, Reason: "draft pull request: diffgate runs once it is ready for review",
			Hint: "mark the pull request ready for review"}
	}
	if l := it.CI.PRLabel; l != "" && !hasLabel(ev.Labels, l) {
		return Decision{Verdict: Skip, Code: SkipLabel, Reason: fmt.Sprintf("add the label `%s` to run diffgate", l),
			Hint: fmt.Sprintf("diffgate runs only on %ss labelled `%s`", pr, l)}
	}
	if len(it.CI.FilesToIgnore) > 0 {
		if in.Files == nil {
			return Decision{NeedsFiles: true}
		}
		if skip, why := allIgnored(it.CI.FilesToIgnore, in.Files); skip && !in.FilesTruncated {
			return Decision{Verdict: Skip, Code: SkipFilesIgnored, Reason: "every changed file matches files_to_ignore",
				Hint: why}
		}
	}
	return Decision{Verdict: Start, Rerun: rerun}
}

func isDiffAllLabel(it *config.Integration, label string) bool {
	return label != "" && (strings.EqualFold(label, it.CI.DiffAllDownstreamLabel) ||
		strings.EqualFold(label, "datafold:diff-all-downstream"))
}

func hasLabel(labels []string, want string) bool {
	return slices.ContainsFunc(labels, func(l string) bool { return strings.EqualFold(l, want) })
}

// allIgnored reports whether every file matches the patterns, and if so
// which patterns did it, e.g. "3 files: `*.md` (2), `docs/**` (1)".
func allIgnored(patterns, files []string) (bool, string) {
	if len(files) == 0 {
		return false, ""
	}
	gi := ignore.CompileIgnoreLines(patterns...)
	count := map[string]int{}
	var order []string
	for _, f := range files {
		ok, how := gi.MatchesPathHow(f)
		if !ok || how == nil {
			return false, ""
		}
		if count[how.Line] == 0 {
			order = append(order, how.Line)
		}
		count[how.Line]++
	}
	parts := make([]string, len(order))
	for i, p := range order {
		parts[i] = fmt.Sprintf("`%s` (%d)", p, count[p])
	}
	noun := "files"
	if len(files) == 1 {
		noun = "file"
	}
	return true, fmt.Sprintf("%d changed %s, matched by %s", len(files), noun, strings.Join(parts, ", "))
}
