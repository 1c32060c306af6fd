package differ_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/differ"
)

// TestSupersededTasksAreDropped: tasks of a run that a newer head replaced,
// or whose PR was closed, are acknowledged without a result; the current
// run's task is diffed.
func TestSupersededTasksAreDropped(t *testing.T) {
	t.Parallel()
	db := duckdbWH(t)
	orders(db)
	w := newWorld(t)
	w.start(configOf(t, source{name: "wh", typ: "duckdb", dsn: db.dsn}), differ.Options{})

	old, current := run(10, strings.Repeat("1", 40)), run(10, strings.Repeat("2", 40))
	w.setHead(events.PRHead{RunID: current.ID(), Run: current})
	closed := run(11, strings.Repeat("3", 40))
	w.setHead(events.PRHead{RunID: closed.ID(), Run: closed, Closed: true})

	task := func(r events.Run) events.DiffTask {
		return diffTask(r, "wh", "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{})
	}
	w.publish(task(old), task(closed), task(current))
	if got := w.awaitResults(current, 1)["model.shop.orders"]; got.Result == nil || got.Result.Changed != 2 {
		t.Errorf("the current run's result: %+v", got)
	}
	w.idle("wh")
	for _, r := range []events.Run{old, closed} {
		if n := len(w.results(r)); n != 0 {
			t.Errorf("run %s: %d results, want none", r, n)
		}
	}
	if names := w.objectNames(); len(names) != 1 || !strings.HasPrefix(names[0], "results/"+current.ID()+"/") {
		t.Errorf("stored objects %v; want the current run's result only", names)
	}
}

// TestSupersededWhileRunning: a run superseded while its diff runs has the
// diff's statement cancelled in the server and publishes no result.
func TestSupersededWhileRunning(t *testing.T) {
	t.Parallel()
	db := postgresWH(t)
	orders(&db.wh)
	db.slowView("orders", 120) // far longer than the test waits
	w := newWorld(t)
	w.start(configOf(t, source{name: "wh", typ: "postgres", dsn: db.dsn}), differ.Options{})

	old := run(12, strings.Repeat("4", 40))
	w.setHead(events.PRHead{RunID: old.ID(), Run: old})
	w.publish(diffTask(old, "wh", "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{SampleSize: 5}))
	db.awaitRunning(t)

	newer := run(12, strings.Repeat("5", 40))
	w.setHead(events.PRHead{RunID: newer.ID(), Run: newer, Supersedes: &old})
	bustest.WaitFor(t, wait, func() error {
		if n := db.active(t); n != 0 {
			return fmt.Errorf("%d statements of the superseded diff still run", n)
		}
		return nil
	})
	w.idle("wh")
	if n := len(w.results(old)); n != 0 {
		t.Errorf("%d results published for the superseded run", n)
	}
	if names := w.objectNames(); len(names) != 0 {
		t.Errorf("stored objects %v for a superseded run", names)
	}
	if !strings.Contains(w.logs.String(), "superseded while its diff ran") {
		t.Error("the differ did not say why the diff ended")
	}
}

// TestConcurrencyAcrossProcesses: with max_concurrency 2, two differ
// processes and six slow diffs, the warehouse never runs more than two of
// the differ's statements at once.
func TestConcurrencyAcrossProcesses(t *testing.T) {
	t.Parallel()
	db := postgresWH(t)
	orders(&db.wh)
	db.slowView("orders", 0.4)
	w := newWorld(t)
	cfg := configOf(t, source{name: "wh", typ: "postgres", dsn: db.dsn, maxConcurrency: 2})
	w.start(cfg, differ.Options{})
	w.start(cfg, differ.Options{})

	r := run(13, strings.Repeat("6", 40))
	for i := range 6 {
		tk := diffTask(r, "wh", fmt.Sprintf("orders_%d", i), db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{})
		w.publish(tk)
	}
	var seen []int
	bustest.WaitFor(t, 2*wait, func() error {
		seen = append(seen, db.active(t))
		if n := len(w.results(r)); n < 6 {
			return fmt.Errorf("%d of 6 results", n)
		}
		return nil
	})
	most := slices.Max(seen)
	t.Logf("most statements at once: %d (%d samples)", most, len(seen))
	if most > 2 {
		t.Errorf("%d statements ran at once; max_concurrency is 2", most)
	}
	if most < 2 {
		t.Errorf("never more than %d statement at once: the test did not exercise the bound", most)
	}
	for id, dr := range w.awaitResults(r, 6) {
		if dr.Result == nil || dr.Result.Status != datadiff.StatusDiffed || dr.Result.Changed != 2 {
			t.Errorf("%s: %+v", id, dr)
		}
	}
}

// TestStopHandsTasksBack: a differ that stops cancels the statement of the
// diff it runs and hands the task back at once, for another process to
// diff.
func TestStopHandsTasksBack(t *testing.T) {
	t.Parallel()
	db := postgresWH(t)
	orders(&db.wh)
	db.slowView("orders", 120)
	w := newWorld(t)
	cfg := configOf(t, source{name: "wh", typ: "postgres", dsn: db.dsn})
	stop := w.start(cfg, differ.Options{})

	r := run(15, strings.Repeat("8", 40))
	w.publish(diffTask(r, "wh", "orders", db.rel("prod", "orders"), db.rel("pr", "orders"), events.DiffOptions{}))
	db.awaitRunning(t)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	bustest.WaitFor(t, wait, func() error {
		select {
		case <-stopped:
			return nil
		default:
			return fmt.Errorf("the differ has not stopped")
		}
	})
	if n := db.active(t); n != 0 {
		t.Errorf("%d statements still run after the differ stopped", n)
	}
	if n := len(w.results(r)); n != 0 {
		t.Errorf("%d results published by a differ that stopped mid-diff", n)
	}

	db.exec("CREATE OR REPLACE VIEW pr.orders AS SELECT * FROM pr.orders_t")
	w.start(cfg, differ.Options{})
	if got := w.awaitResults(r, 1)["model.shop.orders"]; got.Result == nil || got.Result.Changed != 2 {
		t.Errorf("result after the hand-back: %+v", got)
	}
}
