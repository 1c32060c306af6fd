package manifests_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud/dbtcloudtest"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/internal/workertest"
)

func TestBothManifestsAreStoredUnderTheirDigest(t *testing.T) {
	w := newWorld(t)
	prManifest := rides("dbt_cloud_pr_22_4", "pr")
	baseManifest, newerManifest := rides("analytics", "base"), rides("analytics", "newer")
	w.prodRun(workertest.SHA(900), rides("analytics", "older"))
	baseRun := w.prodRun(workertest.SHA(901), baseManifest)
	w.prodRun(workertest.SHA(902), newerManifest) // merged after the PR branched
	ci := w.ciRun(4, workertest.SHA(4), prManifest)
	w.start()
	msg := w.completed(4, workertest.SHA(4), workertest.SHA(901), ci)

	r := ended(t, w.bus, msg.Run)
	if len(r.resolved) != 1 || len(r.failed) != 0 {
		t.Fatalf("got %+v, want ManifestsResolved", r)
	}
	res := r.resolved[0]
	for _, c := range []struct {
		side string
		ref  events.ObjectRef
		want []byte
	}{{"PR", res.PRManifest, prManifest}, {"production", res.ProdManifest, baseManifest}} {
		if c.ref.Name != events.ManifestObject(digest(c.want)) || c.ref.Size != int64(len(c.want)) || !strings.HasPrefix(c.ref.Digest, "SHA-256=") {
			t.Errorf("%s manifest %+v, want object %s of %d bytes", c.side, c.ref, events.ManifestObject(digest(c.want)), len(c.want))
		}
		if got := object(t, w.bus, c.ref.Name); !bytes.Equal(got, c.want) {
			t.Errorf("%s manifest object holds %d bytes that are not the artifact", c.side, len(got))
		}
	}
	if res.ProdRun.RunID != baseRun.ID() || res.ProdRun.JobID != prodJob || res.ProdRun.URL == "" {
		t.Errorf("production run %+v, want #%d of job %d", res.ProdRun, baseRun.ID(), prodJob)
	}
	want := fmt.Sprintf("dbt Cloud run #%d of job %d, which built the PR's base commit %s.", baseRun.ID(), prodJob, workertest.SHA(901)[:7])
	if res.ProdChoice != want {
		t.Errorf("ProdChoice %q, want %q", res.ProdChoice, want)
	}
	if res.AccountName != "Acme Rides" || res.CIRun.RunID != ci.ID() || res.Integration != integration {
		t.Errorf("ManifestsResolved %+v: want account name, CI run and integration carried", res)
	}
	var said []string
	for _, s := range bustest.Stored[events.RunStatus](t, w.bus, events.SubjectRunStatusPrefix+"github") {
		said = append(said, s.Message)
	}
	if len(said) != 2 || !strings.Contains(said[0], fmt.Sprintf("run #%d", ci.ID())) || !strings.Contains(said[1], "production") {
		t.Errorf("progress %q, want the PR's then production's download", said)
	}
}

func TestProductionChoice(t *testing.T) {
	type prodRun struct {
		commit   int
		manifest bool
	}
	tests := []struct {
		name string
		runs []prodRun // oldest first
		base int       // 0: the PR names no base commit
		used int       // index into runs
		want func(ids []int64) string
	}{
		{
			name: "base commit not among recent runs: the newest",
			runs: []prodRun{{1, true}, {2, true}, {3, true}},
			base: 77, used: 2,
			want: func(ids []int64) string {
				return fmt.Sprintf("dbt Cloud run #%d of job 11, its newest successful run with a manifest.json (commit %s); none of its 3 most recent successful runs built the PR's base commit %s.",
					ids[2], workertest.SHA(3)[:7], workertest.SHA(77)[:7])
			},
		},
		{
			name: "no base commit given: the newest",
			runs: []prodRun{{1, true}, {2, true}},
			used: 1,
			want: func(ids []int64) string {
				return fmt.Sprintf("dbt Cloud run #%d of job 11, its newest successful run with a manifest.json (commit %s).", ids[1], workertest.SHA(2)[:7])
			},
		},
		{
			name: "base run without a manifest: the newest with one",
			runs: []prodRun{{1, true}, {2, false}, {3, true}, {4, false}},
			base: 2, used: 2,
			want: func(ids []int64) string {
				return fmt.Sprintf("dbt Cloud run #%d of job 11, its newest successful run with a manifest.json (commit %s); run #%d built the PR's base commit %s but saved no manifest.json; run #%d saved no manifest.json.",
					ids[2], workertest.SHA(3)[:7], ids[1], workertest.SHA(2)[:7], ids[3])
			},
		},
		{
			name: "base run is older than newer ones: the base run",
			runs: []prodRun{{1, true}, {2, true}, {3, true}},
			base: 1, used: 0,
			want: func(ids []int64) string {
				return fmt.Sprintf("dbt Cloud run #%d of job 11, which built the PR's base commit %s.", ids[0], workertest.SHA(1)[:7])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			var ids []int64
			for _, r := range tt.runs {
				var m []byte
				if r.manifest {
					m = rides("analytics", fmt.Sprint(r.commit))
				}
				ids = append(ids, w.prodRun(workertest.SHA(r.commit), m).ID())
			}
			ci := w.ciRun(5, workertest.SHA(5), rides("dbt_cloud_pr_22_5", "pr"))
			w.start()
			base := ""
			if tt.base != 0 {
				base = workertest.SHA(tt.base)
			}
			r := ended(t, w.bus, w.completed(5, workertest.SHA(5), base, ci).Run)
			if len(r.resolved) != 1 {
				t.Fatalf("got %+v, want ManifestsResolved", r)
			}
			got, want := r.resolved[0], tt.want(ids)
			if got.ProdRun.RunID != ids[tt.used] || got.ProdChoice != want {
				t.Errorf("production run #%d %q,\nwant #%d %q", got.ProdRun.RunID, got.ProdChoice, ids[tt.used], want)
			}
		})
	}
}

func TestAStoredManifestIsReused(t *testing.T) {
	w := newWorld(t)
	prod := rides("analytics", "main")
	w.prodRun(workertest.SHA(1), prod)
	same := rides("dbt_cloud_pr_22_6", "pr")
	// Two CI runs (a re-run of the same head) that built the same manifest.
	first, second := w.ciRun(6, workertest.SHA(6), same), w.ciRun(6, workertest.SHA(6), same)
	w.start()
	a := ended(t, w.bus, w.completed(6, workertest.SHA(6), workertest.SHA(1), first).Run)
	msg := w.completed(6, workertest.SHA(6), workertest.SHA(1), second)
	msg.Run.Rerun = "again" // a new run of the same head
	msg.CIRun.RunID = second.ID()
	if _, err := w.bus.Publish(bustest.Context(t), msg); err != nil {
		t.Fatal(err)
	}
	b := ended(t, w.bus, msg.Run)
	if len(a.resolved) != 1 || len(b.resolved) != 1 {
		t.Fatalf("got %+v and %+v, want both resolved", a, b)
	}
	if a.resolved[0].PRManifest != b.resolved[0].PRManifest || a.resolved[0].ProdManifest != b.resolved[0].ProdManifest {
		t.Errorf("the runs point at different objects: %+v, %+v", a.resolved[0], b.resolved[0])
	}
	ctx := bustest.Context(t)
	obs, err := w.bus.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
	}
	if len(names) != 2 {
		t.Errorf("object store holds %q, want the two manifests once each", names)
	}
}

func TestManifestProblemsEndTheRunWithWhatToFix(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world) *dbtcloudtest.RunHandle // returns the CI run
		code  string
		say   []string
	}{
		{"PR manifest over the limit", func(w *world) *dbtcloudtest.RunHandle {
			w.cfg.Limits.ManifestMaxSize = config.ByteSize(1000)
			w.prodRun(workertest.SHA(1), []byte(`{}`))
			return w.ciRun(7, workertest.SHA(7), rides("dbt_cloud_pr_22_7", "pr"))
		}, events.FailManifestSize, []string{"limits.manifest_max_size", "the PR's CI run", "the limit is 1000 bytes"}},
		{"no PR manifest", func(w *world) *dbtcloudtest.RunHandle {
			w.prodRun(workertest.SHA(1), rides("analytics", "main"))
			return w.ciRun(7, workertest.SHA(7), nil)
		}, events.FailNoManifest, []string{"the PR's CI run", "saved no manifest.json"}},
		{"artifacts job never succeeded", func(w *world) *dbtcloudtest.RunHandle {
			return w.ciRun(7, workertest.SHA(7), rides("dbt_cloud_pr_22_7", "pr"))
		}, events.FailNoManifest, []string{"job 11 has no successful run"}},
		{"no production run kept a manifest", func(w *world) *dbtcloudtest.RunHandle {
			w.prodRun(workertest.SHA(1), nil)
			w.prodRun(workertest.SHA(2), nil)
			return w.ciRun(7, workertest.SHA(7), rides("dbt_cloud_pr_22_7", "pr"))
		}, events.FailNoManifest, []string{"saved a manifest.json", "job 11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ci := tt.setup(w)
			w.start()
			r := ended(t, w.bus, w.completed(7, workertest.SHA(7), workertest.SHA(1), ci).Run)
			if len(r.failed) != 1 || len(r.resolved) != 0 {
				t.Fatalf("got %+v, want one RunFailed", r)
			}
			f := r.failed[0]
			if f.Code != tt.code || f.Stage != events.StageManifests || f.Hint == "" {
				t.Errorf("RunFailed %+v, want code %s from the manifests stage with a hint", f, tt.code)
			}
			for _, s := range tt.say {
				if !strings.Contains(f.Message, s) {
					t.Errorf("message %q does not say %q", f.Message, s)
				}
			}
		})
	}
}

func TestARejectedTokenEndsTheRun(t *testing.T) {
	w := newWorld(t, dbtcloudtest.AllowBadAuth())
	const wrong = "dbtc_revoked_token_value"
	w.cfg.Integrations[0].DBTCloud.Token = config.NewSecret(wrong)
	ci := w.ciRun(8, workertest.SHA(8), rides("dbt_cloud_pr_22_8", "pr"))
	w.start()
	r := ended(t, w.bus, w.completed(8, workertest.SHA(8), "", ci).Run)
	if len(r.failed) != 1 || r.failed[0].Code != events.FailDBTCloud || !strings.Contains(r.failed[0].Hint, "dbt_cloud.token") {
		t.Fatalf("got %+v, want a dbt Cloud failure pointing at the token", r)
	}
	if data, _ := json.Marshal(r.failed[0]); strings.Contains(string(data), wrong) {
		t.Errorf("the failure shows the token: %s", data)
	}
}

func TestDBTCloudHiccupsAreRetriedThenReported(t *testing.T) {
	t.Run("429 with Retry-After, then the download", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.prodRun(workertest.SHA(1), rides("analytics", "main"))
		ci := w.ciRun(9, workertest.SHA(9), rides("dbt_cloud_pr_22_9", "pr"))
		w.dbt.Fail(dbtcloudtest.EndpointGetArtifact, dbtcloudtest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "4"})
		w.dbt.Fail(dbtcloudtest.EndpointListRuns, dbtcloudtest.Fault{Status: http.StatusInternalServerError, Times: 2})
		w.start()
		if r := ended(t, w.bus, w.completed(9, workertest.SHA(9), workertest.SHA(1), ci).Run); len(r.resolved) != 1 {
			t.Fatalf("got %+v, want ManifestsResolved", r)
		}
		if waits := w.sleep.All(); len(waits) != 3 || waits[0] != 4*time.Second {
			t.Errorf("the client waited %v, want 4s (Retry-After) then two backoffs", waits)
		}
	})
	t.Run("dbt Cloud down: retried by the bus, then a dead letter", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.opts.MaxDeliver = 3
		w.prodRun(workertest.SHA(1), rides("analytics", "main"))
		ci := w.ciRun(10, workertest.SHA(10), rides("dbt_cloud_pr_22_10", "pr"))
		w.dbt.Fail(dbtcloudtest.EndpointGetArtifact, dbtcloudtest.Fault{Status: http.StatusServiceUnavailable, Times: 1 << 20})
		w.start()
		msg := w.completed(10, workertest.SHA(10), workertest.SHA(1), ci)
		var dead []events.DeadLetter
		bustest.WaitFor(t, wait, func() error {
			dead = bustest.Stored[events.DeadLetter](t, w.bus, events.SubjectDeadLetterPrefix+"manifests")
			if len(dead) == 0 {
				return fmt.Errorf("no dead letter yet")
			}
			return nil
		})
		run, err := events.RunOf(dead[0].Data)
		if err != nil || run.ID() != msg.Run.ID() {
			t.Fatalf("dead letter %+v does not carry the run (%v)", dead[0], err)
		}
		if dead[0].Deliveries != 3 || !strings.Contains(dead[0].Error, "503") || !strings.Contains(dead[0].Error, fmt.Sprintf("run #%d", ci.ID())) {
			t.Errorf("dead letter after %d deliveries with %q, want 3 naming the run and the 503", dead[0].Deliveries, dead[0].Error)
		}
		// The client's 5 tries per delivery, 3 deliveries, nothing more.
		if n := w.dbt.Count(dbtcloudtest.EndpointGetArtifact); n != 15 {
			t.Errorf("%d artifact requests, want 3 deliveries × 5 tries", n)
		}
		bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
	})
}

func TestASupersededRunFetchesNothing(t *testing.T) {
	w := newWorld(t)
	w.prodRun(workertest.SHA(1), rides("analytics", "main"))
	ci := w.ciRun(11, workertest.SHA(11), rides("dbt_cloud_pr_22_11", "pr"))
	// The PR moved on to another head before its CI completion arrived.
	newer := events.Run{Provider: events.GitHub, Repository: repo, PR: 11, HeadSHA: workertest.SHA(12)}
	workertest.SetHead(t, w.bus, events.PRHead{RunID: newer.ID(), Run: newer, Updated: time.Now().UTC()})
	w.start()
	w.completed(11, workertest.SHA(11), workertest.SHA(1), ci)
	bustest.WaitFor(t, wait, func() error { return consumerIdle(t, w.bus) })
	if n := len(w.dbt.Requests()); n != 0 {
		t.Errorf("%d dbt Cloud requests for a superseded run", n)
	}
	if got := bustest.Stored[events.ManifestsResolved](t, w.bus, events.SubjectManifestsResolved); len(got) != 0 {
		t.Errorf("superseded run resolved: %+v", got)
	}
}
