package bus_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/events"
)

func TestEmbeddedServerKeepsMessagesAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := bustest.Context(t)
	m := runRequested(31)

	first := bustest.EmbeddedAt(t, dir)
	b := bustest.ConnectTo(t, first.URL())
	res, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, m.Run.PRKey(), []byte(m.Run.ID())); err != nil {
		t.Fatal(err)
	}
	b.Close()
	first.Shutdown()

	second := bustest.EmbeddedAt(t, dir)
	b = bustest.ConnectTo(t, second.URL())
	st, err := b.JetStream().Stream(ctx, bus.StreamPipeline)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.GetMsg(ctx, res.Seq)
	if err != nil {
		t.Fatalf("message %d after restart: %v", res.Seq, err)
	}
	var back events.RunRequested
	if err := (&bus.Msg{Subject: stored.Subject, Data: stored.Data}).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, back); diff != "" {
		t.Errorf("message after restart (-want +got):\n%s", diff)
	}
	kv, err = b.KV(ctx, events.BucketPRs)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, m.Run.PRKey())
	if err != nil {
		t.Fatalf("KV entry after restart: %v", err)
	}
	if string(e.Value()) != m.Run.ID() {
		t.Errorf("KV entry %q, want %q", e.Value(), m.Run.ID())
	}
	// The duplicate window survives too: a webhook redelivered across the
	// restart is still recognised.
	again, err := b.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate {
		t.Error("publish after restart not recognised as a duplicate")
	}
}

// The embedded server is the current nats-server; the shared one is 2.9.
// The whole flow must work on both.
func TestCurrentServerRunsTheFlow(t *testing.T) {
	e := bustest.Embedded(t)
	b := bustest.ConnectTo(t, e.URL())
	ctx := bustest.Context(t)

	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, runRequested(41)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, runRequested(42)); err != nil {
		t.Fatal(err)
	}
	var got deliveries
	start(t, b, bus.Consumer{Name: "current", Subject: events.SubjectRunRequested, MaxDeliver: 1}, func(ctx context.Context, m *bus.Msg) error {
		var req events.RunRequested
		if err := m.Decode(&req); err != nil {
			return err
		}
		if got.add(m) == 1 {
			return errTransient // last delivery: dead letter
		}
		return nil
	})
	bustest.WaitFor(t, wait, got.count(2))
	dl := deadLetter(t, b, "current")
	if dl.Error != errTransient.Error() {
		t.Errorf("dead letter error %q", dl.Error)
	}

	objs, err := b.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objs.PutBytes(ctx, events.PlanObject("r1"), []byte(`{"models":[]}`)); err != nil {
		t.Fatal(err)
	}
	data, err := objs.GetBytes(ctx, events.PlanObject("r1"))
	if err != nil || string(data) != `{"models":[]}` {
		t.Errorf("object read back %q, %v", data, err)
	}
}

func TestEnsureIsIdempotentAcrossProcessesStartingTogether(t *testing.T) {
	b := bustest.NewBare(t)
	ctx := bustest.Context(t)
	procs := []*bus.Bus{b, bustest.Another(t, b), bustest.Another(t, b), bustest.Another(t, b)}
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			errs[i] = p.Ensure(ctx, bus.DefaultTopology(bus.TopologyOptions{}))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}

	// A later start with other settings updates in place.
	if err := b.Ensure(ctx, bus.DefaultTopology(bus.TopologyOptions{Retention: 72 * time.Hour})); err != nil {
		t.Fatal(err)
	}
	objs, err := b.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status, err := objs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status.TTL() != 72*time.Hour {
		t.Errorf("object store TTL %s after update, want 72h", status.TTL())
	}
	for _, bucket := range []string{events.BucketPRs, events.BucketRuns, events.BucketCIWait, events.BucketPublished} {
		if _, err := b.KV(ctx, bucket); err != nil {
			t.Error(err)
		}
	}
}

func TestReadyNamesWhatIsMissing(t *testing.T) {
	b := bustest.New(t)
	ctx := bustest.Context(t)
	if err := b.Ready(ctx); err != nil {
		t.Fatalf("ready after Ensure: %v", err)
	}
	if err := b.JetStream().DeleteStream(ctx, b.Name(bus.StreamDeadLetter)); err != nil {
		t.Fatal(err)
	}
	err := b.Ready(ctx)
	if !errors.Is(err, bus.ErrStreamMissing) || !strings.Contains(err.Error(), bus.StreamDeadLetter) {
		t.Errorf("Ready = %v, want ErrStreamMissing naming %s", err, bus.StreamDeadLetter)
	}
}

func TestReadyFailsWhileTheServerIsDown(t *testing.T) {
	e := bustest.Embedded(t)
	b := bustest.ConnectTo(t, e.URL())
	ctx := bustest.Context(t)
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	e.Shutdown()
	bustest.WaitFor(t, wait, func() error {
		if err := b.Ready(ctx); !errors.Is(err, bus.ErrNotConnected) {
			return errors.New("still ready")
		}
		return nil
	})
}

func TestConnectFailsFastNamingTheServer(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "missing.creds")
	tests := []struct {
		name string
		opts bus.Options
		want []string // in the error
		not  string   // never in the error
	}{
		{"nothing listening", bus.Options{URL: "nats://diffgate:s3cret-pass@127.0.0.1:1"}, []string{"connect to nats://redacted@127.0.0.1:1"}, "s3cret-pass"},
		{"no URL", bus.Options{}, []string{"no NATS URL"}, ""},
		{"credentials file missing", bus.Options{URL: bustest.URL(), CredsFile: creds}, []string{"credentials file", "missing.creds"}, ""},
		{"half a client certificate", bus.Options{URL: bustest.URL(), TLS: bus.TLSOptions{CertFile: "client.pem"}}, []string{"both a certificate file and a key file"}, ""},
		{"bad namespace", bus.Options{URL: bustest.URL(), Namespace: "a.b"}, []string{`namespace "a.b"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(bustest.Context(t), 5*time.Second)
			defer cancel()
			b, err := bus.Connect(ctx, tt.opts)
			if err == nil {
				b.Close()
				t.Fatal("connected")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("error %q leaks %q", err, tt.not)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"nats://127.0.0.1:4222":                 "nats://127.0.0.1:4222",
		"nats://user:pass@nats:4222":            "nats://redacted@nats:4222",
		"nats://token@a:4222, tls://u:p@b:4222": "nats://redacted@a:4222,tls://redacted@b:4222",
		"user:pass@nats:4222":                   "redacted@nats:4222",
	}
	for in, want := range tests {
		if got := bus.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStreamOf(t *testing.T) {
	tests := map[string]string{
		events.SubjectPREventPrefix + "github":     bus.StreamEvents,
		events.SubjectDBTCloudEvent:                bus.StreamEvents,
		events.SubjectRunRequested:                 bus.StreamPipeline,
		events.SubjectRunStatusPrefix + "gitlab":   bus.StreamPipeline,
		events.SubjectCICompleted:                  bus.StreamPipeline,
		events.SubjectManifestsResolved:            bus.StreamPipeline,
		events.SubjectDiffTaskPrefix + "warehouse": bus.StreamPipeline,
		events.SubjectDeadLetterPrefix + "differ":  bus.StreamDeadLetter,
		"other.subject":                            "",
	}
	for subject, want := range tests {
		if got := bus.StreamOf(subject); got != want {
			t.Errorf("StreamOf(%q) = %q, want %q", subject, got, want)
		}
	}
}

// Every subject of the contract is captured by exactly one stream.
func TestDefaultTopologyCapturesEverySubjectOnce(t *testing.T) {
	subjects := []string{
		events.PREvent{Provider: events.GitHub}.Subject(), events.DBTCloudEvent{}.Subject(),
		events.RunRequested{}.Subject(), events.RunStatus{Run: events.Run{Provider: events.GitLab}}.Subject(),
		events.RunCancelled{}.Subject(), events.RunFailed{}.Subject(), events.CICompleted{}.Subject(),
		events.ManifestsResolved{}.Subject(), events.DiffPlanned{}.Subject(), events.DiffTask{DataSource: "pg"}.Subject(),
		events.DiffResult{}.Subject(), events.RunReport{Run: events.Run{Provider: events.GitHub}}.Subject(),
		events.DeadLetter{Consumer: "differ"}.Subject(),
	}
	topo := bus.DefaultTopology(bus.TopologyOptions{})
	for _, s := range subjects {
		n := 0
		for _, st := range topo.Streams {
			for _, p := range st.Subjects {
				if strings.HasPrefix(s, strings.TrimSuffix(p, ">")) {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("%s is captured by %d stream subjects, want 1", s, n)
		}
	}
	for _, st := range topo.Streams {
		if st.Storage != jetstream.FileStorage || st.Duplicates == 0 || st.MaxAge == 0 {
			t.Errorf("stream %s: storage %v duplicates %s max age %s", st.Name, st.Storage, st.Duplicates, st.MaxAge)
		}
	}
}

func TestDecodeRefusesWhatThisBuildCannotRead(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		poison bool
	}{
		{"current", `{"version":1,"integration":"x"}`, false},
		{"no version", `{"integration":"x"}`, true},
		{"newer version", `{"version":2,"integration":"x"}`, true},
		{"wrong shape", `{"version":1,"integration":5}`, true},
		{"not JSON", `<html>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v events.RunRequested
			err := (&bus.Msg{Subject: events.SubjectRunRequested, Data: []byte(tt.body)}).Decode(&v)
			if got := errors.Is(err, bus.ErrPoison); got != tt.poison {
				t.Errorf("Decode = %v; poison %v, want %v", err, got, tt.poison)
			}
		})
	}
}
