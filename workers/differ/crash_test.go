package differ_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/service"
	"github.com/diffgate/diffgate/workers/differ"
)

// A differ in a process of its own, for tests that kill one: the test
// binary runs itself with these variables set.
const (
	childConfig    = "DIFFGATE_DIFFER_TEST_CONFIG"
	childNamespace = "DIFFGATE_DIFFER_TEST_NAMESPACE"
	childAckWait   = "DIFFGATE_DIFFER_TEST_ACK_WAIT"
)

func TestMain(m *testing.M) {
	if os.Getenv(childConfig) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild runs one differ until it is killed or interrupted.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx = zerolog.New(os.Stderr).With().Str("process", "child").Logger().WithContext(ctx)
	cfg, err := config.Parse([]byte(os.Getenv(childConfig)), func(string) (string, bool) { return "", false })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ackWait, _ := time.ParseDuration(os.Getenv(childAckWait))
	b, err := bus.Connect(ctx, bus.Options{URL: bustest.URL(), Namespace: os.Getenv(childNamespace), Name: "differ-test-child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer b.Close()
	comps, err := differ.New(ctx, &service.Env{Config: cfg, Bus: b}, differ.Options{AckWait: ackWait})
	if err != nil || len(comps) != 1 {
		fmt.Fprintln(os.Stderr, "differ.New:", err)
		return 2
	}
	if err := comps[0].Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestCrashMidDiff: a differ process killed while its diff runs leaves the
// task to another process after the ack wait; the task gets one result.
// A task delivered once more after its result was stored (a process that
// stopped between storing and acknowledging) publishes the stored result
// again, which the stream drops as a duplicate: still one result.
func TestCrashMidDiff(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a process")
	}
	db := postgresWH(t)
	orders(&db.wh)
	db.slowView("orders", 1)
	w := newWorld(t)
	yaml := fmt.Sprintf("data_sources: [{name: wh, type: postgres, dsn: %q, max_concurrency: 1}]", db.dsn)
	const ackWait = 2 * time.Second

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childConfig+"="+yaml, childNamespace+"="+w.bus.Namespace(), childAckWait+"="+ackWait.String())
	child.Stderr = w.logs
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})

	r := run(14, strings.Repeat("7", 40))
	task := diffTask(r, "wh", "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{SampleSize: 5})
	w.publish(task)
	db.awaitRunning(t)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	// The survivor's diff takes longer than the ack wait: it keeps the
	// task by telling the server it is alive.
	w.start(configOf(t, source{name: "wh", typ: "postgres", dsn: db.dsn, maxConcurrency: 1}), differ.Options{AckWait: ackWait})
	got := w.awaitResults(r, 1)["model.shop.orders"]
	if got.Result == nil || got.Result.Changed != 2 || got.Result.Added != 1 || got.Result.Removed != 1 {
		t.Fatalf("result after the crash: %+v", got)
	}
	w.idle("wh")
	if n := w.deliveries("wh"); n != 2 {
		t.Errorf("the task was delivered %d times; want 2 (the killed process, the survivor)", n)
	}

	// The same task again, under another message id so the stream keeps
	// it: the differ finds the stored result and publishes it again.
	if _, err := w.bus.Publish(bustest.Context(t), task, bus.WithHeader(events.HeaderMsgID, task.MsgID()+":again")); err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, wait, func() error {
		if !strings.Contains(w.logs.String(), "published the result an earlier delivery stored") {
			return fmt.Errorf("the second delivery is not handled yet")
		}
		return nil
	})
	w.idle("wh")
	if n := len(w.results(r)); n != 1 {
		t.Errorf("%d results for one task, want 1", n)
	}
	full := w.full(got)
	if full.Changed != 2 || full.Samples == nil {
		t.Errorf("the stored result changed: %+v", full)
	}
}
