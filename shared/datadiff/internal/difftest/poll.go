package difftest

import (
	"context"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/datadiff"
)

// Wait bounds every wait of the dialects' tests on a server.
const Wait = 30 * time.Second

// Poll waits until cond holds, failing the test after Wait.
func Poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartDiff runs src.Diff(ctx, spec) in the background and returns once
// running reports the diff's statements at work on the server, so that a
// test can cancel them or break their connections. The returned function
// waits for the diff to end and returns its error.
func StartDiff(ctx context.Context, t *testing.T, src *datadiff.Source, spec datadiff.Spec, running func() bool) (wait func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := src.Diff(ctx, spec)
		errc <- err
	}()
	Poll(t, "the diff's statements to run", running)
	return func() error {
		t.Helper()
		select {
		case err := <-errc:
			return err
		case <-time.After(Wait):
			t.Fatal("the diff did not end")
			return nil
		}
	}
}
