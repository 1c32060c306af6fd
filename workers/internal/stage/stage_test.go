package stage_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/internal/stage"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

var at = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func run(head string) events.Run {
	return events.Run{Provider: events.GitHub, Repository: "github.com/acme/shop", PR: 7,
		HeadSHA: strings.Repeat(head, 40), BaseSHA: strings.Repeat("b", 40)}
}

func TestProgressAndFailCarryTheStage(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	s := stage.Stage{Name: events.StageManifests, Bus: b, Now: func() time.Time { return at.In(time.FixedZone("x", 3600)) }}
	r := run("1")
	if err := s.Progress(ctx, r, events.RunStatus{Message: "Fetching", Link: "https://example.com/1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Progress(ctx, r, events.RunStatus{State: "waiting", Message: "Waiting"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(ctx, r, stage.UnknownIntegration("shop")); err != nil {
		t.Fatal(err)
	}
	wantStatus := []events.RunStatus{
		{Version: events.Version, Run: r, Stage: events.StageManifests, State: "running", Message: "Fetching", Link: "https://example.com/1", At: at},
		{Version: events.Version, Run: r, Stage: events.StageManifests, State: "waiting", Message: "Waiting", At: at},
	}
	if diff := cmp.Diff(wantStatus, bustest.Stored[events.RunStatus](t, b, events.SubjectRunStatusPrefix+string(events.GitHub))); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	wantFailed := []events.RunFailed{{Version: events.Version, Run: r, Stage: events.StageManifests, Code: events.FailConfig,
		Message: `integration "shop" is not in diffgate.yaml`,
		Hint:    "add it under integrations, or restart the workers with the configuration the apps use", At: at}}
	if diff := cmp.Diff(wantFailed, bustest.Stored[events.RunFailed](t, b, events.SubjectRunFailed)); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
}

func TestOpenTakesAnInvalidRunAsPoison(t *testing.T) {
	ctx := bustest.Context(t)
	if _, err := stage.Open(ctx, run("1"), "ci completed"); err != nil {
		t.Errorf("Open of a valid run: %v", err)
	}
	r := run("1")
	r.HeadSHA = ""
	_, err := stage.Open(ctx, r, "ci completed")
	if !errors.Is(err, bus.ErrPoison) || !strings.Contains(err.Error(), "ci completed") {
		t.Errorf("Open of a run without a head = %v, want poison naming the message", err)
	}
}

func TestCurrentDropsASupersededRun(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	kv, err := b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	s := stage.Stage{Name: events.StageImpact, Bus: b, Now: time.Now}
	old, newer := run("1"), run("2")
	if cur, err := s.Current(ctx, kv, old); err != nil || !cur {
		t.Errorf("Current of a PR without an entry = %v, %v; want true", cur, err)
	}
	workertest.SetHead(t, b, events.PRHead{RunID: newer.ID(), Run: newer})
	if cur, err := s.Current(ctx, kv, old); err != nil || cur {
		t.Errorf("Current of a superseded run = %v, %v; want false", cur, err)
	}
	if cur, err := s.Current(ctx, kv, newer); err != nil || !cur {
		t.Errorf("Current of the newer run = %v, %v; want true", cur, err)
	}
}

// TestTake: the run of a configured integration is taken up; one of an
// unknown integration ends with a failure saying so; a superseded one is
// dropped without one.
func TestTake(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	kv, err := b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Integrations = []config.Integration{{Name: "shop"}}
	s := stage.Stage{Name: events.StageImpact, Bus: b, Now: time.Now}
	old, newer := run("1"), run("2")
	if in, err := s.Take(ctx, cfg, kv, newer, "shop"); err != nil || in == nil || in.Name != "shop" {
		t.Errorf("Take of a current run = %v, %v; want integration shop", in, err)
	}
	if in, err := s.Take(ctx, cfg, kv, newer, "books"); err != nil || in != nil {
		t.Errorf("Take for an unknown integration = %v, %v; want nil, nil", in, err)
	}
	workertest.SetHead(t, b, events.PRHead{RunID: newer.ID(), Run: newer})
	if in, err := s.Take(ctx, cfg, kv, old, "shop"); err != nil || in != nil {
		t.Errorf("Take of a superseded run = %v, %v; want nil, nil", in, err)
	}
	failed := bustest.Stored[events.RunFailed](t, b, events.SubjectRunFailed)
	if len(failed) != 1 || failed[0].Code != events.FailConfig || !strings.Contains(failed[0].Message, `"books"`) {
		t.Errorf("failures %+v; want one, naming the unknown integration", failed)
	}
}
