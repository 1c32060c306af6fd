package prs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/prs"
)

func run(head string) events.Run {
	return events.Run{Provider: events.GitHub, Repository: "github.com/acme/shop", PR: 7,
		HeadSHA: strings.Repeat(head, 40), BaseSHA: strings.Repeat("b", 40)}
}

func TestCurrent(t *testing.T) {
	old, newer := run("1"), run("2")
	tests := []struct {
		name    string
		entry   string // the bucket's value; "" for no entry
		current bool
		why     string
	}{
		{"no entry", "", true, ""},
		{"its own head", head(events.PRHead{RunID: old.ID(), Run: old}), true, ""},
		{"a newer head", head(events.PRHead{RunID: newer.ID(), Run: newer}), false, "superseded by 2222222"},
		{"closed", head(events.PRHead{RunID: old.ID(), Run: old, Closed: true}), false, "the pull request was closed"},
		{"closed at a newer head", head(events.PRHead{RunID: newer.ID(), Run: newer, Closed: true}), false, "the pull request was closed"},
		{"an entry without a run", head(events.PRHead{}), true, ""},
		{"an entry this build cannot read", "{not json", true, ""},
	}
	b := bustest.New(t)
	ctx := bustest.Context(t)
	kv, err := b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = kv.Purge(ctx, old.PRKey())
			if tt.entry != "" {
				if _, err := kv.Put(ctx, old.PRKey(), []byte(tt.entry)); err != nil {
					t.Fatal(err)
				}
			}
			current, why, err := prs.Current(ctx, kv, old)
			if err != nil {
				t.Fatal(err)
			}
			if current != tt.current || why != tt.why {
				t.Errorf("Current = %v, %q; want %v, %q", current, why, tt.current, tt.why)
			}
		})
	}
}

func TestHead(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	kv, err := b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	r := run("3")
	if h, err := prs.Head(ctx, kv, r.PRKey()); err != nil || h != nil {
		t.Fatalf("Head of a PR without an entry = %v, %v; want nil, nil", h, err)
	}
	if _, err := kv.Put(ctx, r.PRKey(), []byte(head(events.PRHead{RunID: r.ID(), Run: r}))); err != nil {
		t.Fatal(err)
	}
	h, err := prs.Head(ctx, kv, r.PRKey())
	if err != nil {
		t.Fatal(err)
	}
	if h == nil || h.RunID != r.ID() || h.Run.HeadSHA != r.HeadSHA {
		t.Errorf("Head = %+v, want the entry of run %s", h, r)
	}
}

func head(h events.PRHead) string {
	data, _ := json.Marshal(h)
	return string(data)
}
