package githubtest_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/fixtures"
)

// Fixture reads one of the octokit/webhooks payload examples.
func Fixture(t *testing.T, name string) []byte {
	t.Helper()
	return fixtures.Read(t, "github", "octokit_webhooks", "payload-examples", "api.github.com", name)
}

// TestPayloadsHaveTheRealShape checks that every field the payload
// builders write exists in GitHub's documented example of the same event
// with the same JSON type, so the App's handlers are tested on payloads
// GitHub could send.
func TestPayloadsHaveTheRealShape(t *testing.T) {
	pr := githubtest.PullRequest{Repo: "acme/analytics", HeadRepo: "fork/analytics", Number: 7, HeadSHA: sha, BaseSHA: sha,
		HeadRef: "feature", BaseRef: "main", Labels: []string{"diffgate"}, Installation: 1}
	with := func(action string, mod func(*githubtest.PullRequest)) []byte {
		p := pr
		p.Action = action
		if mod != nil {
			mod(&p)
		}
		return p.Payload()
	}
	tests := map[string][]byte{
		"pull_request/opened.payload.json":                               with("opened", nil),
		"pull_request/synchronize.payload.json":                          with("synchronize", func(p *githubtest.PullRequest) { p.Before = sha }),
		"pull_request/labeled.payload.json":                              with("labeled", func(p *githubtest.PullRequest) { p.Label = "diffgate" }),
		"pull_request/closed.payload.json":                               with("closed", func(p *githubtest.PullRequest) { p.Merged = true }),
		"pull_request/reopened.payload.json":                             with("reopened", nil),
		"pull_request/ready_for_review.with-installation.payload.json":   with("ready_for_review", nil),
		"pull_request/converted_to_draft.with-installation.payload.json": with("converted_to_draft", func(p *githubtest.PullRequest) { p.Draft = true }),
		"check_run/rerequested.payload.json": githubtest.CheckRunRerequested{Repo: "acme/analytics", CheckRunID: 9, Name: "diffgate",
			HeadSHA: sha, HeadRef: "feature", ExternalID: "h1", AppID: 1, Installation: 1,
			PRs: []githubtest.CheckRunPR{{Number: 7, HeadSHA: sha, HeadRef: "feature", BaseSHA: sha, BaseRef: "main"}}}.Payload(),
		"installation/created.payload.json":              githubtest.Installation("created", 1, "acme"),
		"installation_repositories/added.payload.json":   githubtest.InstallationRepositories("added", 1, "acme", "acme/analytics"),
		"installation_repositories/removed.payload.json": githubtest.InstallationRepositories("removed", 1, "acme", "acme/analytics"),
	}
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var real, ours any
			if err := json.Unmarshal(Fixture(t, name), &real); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(tests[name], &ours); err != nil {
				t.Fatal(err)
			}
			for _, p := range shapeDiff("", ours, real) {
				t.Error(p)
			}
		})
	}
}

// shapeDiff lists the paths of ours that real lacks or types otherwise.
// null matches anything (GitHub sends null for many optional fields).
func shapeDiff(path string, ours, real any) []string {
	if ours == nil || real == nil {
		return nil
	}
	switch o := ours.(type) {
	case map[string]any:
		r, ok := real.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: object, GitHub sends %T", path, real)}
		}
		var out []string
		for k, v := range o {
			rv, ok := r[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: not in GitHub's payload", path, k))
				continue
			}
			out = append(out, shapeDiff(path+"."+k, v, rv)...)
		}
		return out
	case []any:
		r, ok := real.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: array, GitHub sends %T", path, real)}
		}
		if len(r) == 0 || len(o) == 0 {
			return nil
		}
		return shapeDiff(path+"[0]", o[0], r[0])
	default:
		if fmt.Sprintf("%T", ours) != fmt.Sprintf("%T", real) {
			return []string{fmt.Sprintf("%s: %T, GitHub sends %T", path, ours, real)}
		}
		return nil
	}
}
