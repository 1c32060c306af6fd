package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildDiffgate builds the binary into the test's temporary directory.
func buildDiffgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "diffgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServeWithoutConfig starts `diffgate serve` with nothing configured:
// it must run an embedded NATS, answer health checks, and stop cleanly
// and promptly on SIGTERM.
func TestServeWithoutConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildDiffgate(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DIFFGATE_CONFIG=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Read the JSON log until the "started" line says where it listens.
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			} else {
				t.Logf("non-JSON log line: %s", sc.Text())
			}
		}
		close(lines)
	}()
	var addr string
	var sawMissing bool
	deadline := time.After(60 * time.Second)
	for addr == "" {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatal("diffgate serve exited before it started")
			}
			if m["message"] == "started" {
				addr, _ = m["addr"].(string)
			}
			if strings.Contains(m["message"].(string), "missing parts") {
				sawMissing = true
			}
		case <-deadline:
			t.Fatal("diffgate serve did not start within 60s")
		}
	}
	if !sawMissing {
		t.Error("serve did not say once what is missing from the config")
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d: %s", path, resp.StatusCode, body)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		for range lines { // drain the log so the process never blocks on it
		}
		exited <- cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("diffgate serve did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("diffgate serve still running 5s after SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "nats")); err != nil {
		t.Errorf("embedded NATS kept nothing under data/nats: %v", err)
	}
}
