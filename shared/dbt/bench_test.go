package dbt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
)

// The benchmarks time the whole impact analysis of a production/PR pair of
// synthetic manifests: reading both (concurrently, as the worker does) and
// planning. The manifests are generated once and cached in the system's
// temporary directory, so only the first run pays for generating them.
//
//	go test -run '^$' -bench Impact -benchtime 5x ./dbt/

func BenchmarkImpact1k(b *testing.B)  { benchmarkImpact(b, 1000) }
func BenchmarkImpact10k(b *testing.B) { benchmarkImpact(b, 10000) }

// benchFormat changes when the generator changes, so stale caches are not
// reused.
const benchFormat = "v2"

func benchManifests(b *testing.B, models int) (prodPath, prPath string) {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "diffgate-dbt-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	paths := [2]string{}
	for i, pr := range []bool{false, true} {
		side := map[bool]string{false: "prod", true: "pr"}[pr]
		path := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.json", benchFormat, models, side))
		paths[i] = path
		if _, err := os.Stat(path); err == nil {
			continue
		}
		m, _ := dbtgen.Generate(dbtgen.Config{Models: models, Seed: 42, PR: pr})
		tmp, err := os.CreateTemp(dir, "gen-*")
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Write(tmp); err != nil {
			b.Fatal(err)
		}
		if err := tmp.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			b.Fatal(err)
		}
	}
	return paths[0], paths[1]
}

func readFile(ctx context.Context, path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(ctx, bufio.NewReaderSize(f, 1<<20), ReadOptions{})
}

func benchmarkImpact(b *testing.B, models int) {
	prodPath, prPath := benchManifests(b, models)
	st, _ := os.Stat(prodPath)
	ctx := context.Background()
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	stop := sampleHeap()
	cpu0 := cpuTime()
	b.ResetTimer()
	var plan int
	for b.Loop() {
		var prod, pr *Manifest
		var perr, rerr error
		var wg sync.WaitGroup
		wg.Go(func() { prod, perr = readFile(ctx, prodPath) })
		wg.Go(func() { pr, rerr = readFile(ctx, prPath) })
		wg.Wait()
		if perr != nil || rerr != nil {
			b.Fatal(perr, rerr)
		}
		p, err := Plan(ctx, prod, pr, PlanOptions{ImportMetadata: true})
		if err != nil {
			b.Fatal(err)
		}
		plan = len(p.Models)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	peakHeap := stop()
	// CPU time is less disturbed than wall time by other work on the
	// machine: with the two reads in parallel, wall time on an idle
	// 2-core machine is a little over half of it.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(st.Size())/1e6, "MB/manifest")
	b.ReportMetric(float64(plan), "planned-models")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

// sampleHeap samples the Go heap until stopped and returns the peak.
func sampleHeap() (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		var peak uint64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64() + s[1].Value.Uint64(); v > peak {
				peak = v
			}
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-result }
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS restarts the kernel's peak-RSS count (VmHWM) so it covers
// only what follows (Linux; elsewhere a no-op).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's peak resident set since resetPeakRSS, from
// /proc/self/status (0 where unavailable).
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := strings.CutPrefix(string(line), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
