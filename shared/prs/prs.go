// Package prs reads the current head of pull requests: the entries of
// events.BucketPRs, which the gates write. Every stage asks it, before
// work worth saving, whether its run is still its PR's current run, so
// that a superseded or closed run is dropped rather than reported stale.
package prs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
)

// Getter is the part of a KV bucket this package reads; a
// jetstream.KeyValue of events.BucketPRs fits.
type Getter interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
}

// Head returns a PR's entry (prKey is events.Run.PRKey), nil when it has
// none. An entry this build cannot read is logged and taken as none: it
// cannot prove any run stale.
func Head(ctx context.Context, kv Getter, prKey string) (*events.PRHead, error) {
	e, err := kv.Get(ctx, prKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prs: read the PR's current head: %w", err)
	}
	var head events.PRHead
	if err := json.Unmarshal(e.Value(), &head); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("key", prKey).Msg("prs: unreadable PR head; taking its runs as current")
		return nil, nil
	}
	return &head, nil
}

// Stale says why the run runID is not the current run head names, if it is
// not: the pull request was closed, or a newer head superseded the run.
func Stale(head events.PRHead, runID string) (why string, stale bool) {
	switch {
	case head.Closed:
		return "the pull request was closed", true
	case head.RunID != "" && head.RunID != runID:
		return "superseded by " + head.Run.ShortSHA(), true
	}
	return "", false
}

// Current reports whether run is still its PR's current run and, if not,
// why. A PR without a readable entry (expired, or a run started by hand)
// counts as current: nothing says otherwise.
func Current(ctx context.Context, kv Getter, run events.Run) (current bool, why string, err error) {
	head, err := Head(ctx, kv, run.PRKey())
	if err != nil || head == nil {
		return err == nil, "", err
	}
	why, stale := Stale(*head, run.ID())
	return !stale, why, nil
}
