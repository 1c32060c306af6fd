// Package workertest holds what the pipeline stages' tests share: running
// a stage as a process of its own, writing a PR's current head as the gate
// does, a log buffer and commit SHAs. Reading what the stages published is
// bustest.Stored; a client's waits are recorded by standin.Sleeps.
package workertest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
)

// Start runs the one component build makes (a stage's New with the test's
// env and options) until the test ends, as one process would; ctx carries
// its logger. The returned function stops it sooner: it cancels the
// component, waits for it to drain, and fails the test if it stopped with
// an error.
func Start(t testing.TB, ctx context.Context, build func(ctx context.Context) ([]service.Component, error)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	comps, err := build(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if len(comps) != 1 {
		cancel()
		t.Fatalf("the stage made %d components, want 1", len(comps))
	}
	done := make(chan error, 1)
	go func() { done <- comps[0].Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s stopped with %v", comps[0].Name(), err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// SetHead writes head as its PR's entry in events.BucketPRs, as the gate
// does.
func SetHead(t testing.TB, b *bus.Bus, head events.PRHead) {
	t.Helper()
	ctx := bustest.Context(t)
	kv, err := b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(head)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, head.Run.PRKey(), data); err != nil {
		t.Fatal(err)
	}
}

// SHA is a commit SHA of its own for n.
func SHA(n int) string {
	h := sha1.Sum([]byte(fmt.Sprint(n)))
	return hex.EncodeToString(h[:])
}
