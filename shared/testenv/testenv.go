// Package testenv holds the one rule for tests that need something the
// machine may lack (a database, a browser, the team's fixtures, a tool):
// without it a test is skipped with a message saying what is missing,
// except under CI=true, where it fails. CI must never pass by skipping.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"sync"
)

// TB is the part of testing.TB this package needs; a *testing.T fits.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// CI reports whether the tests run in CI (CI=true), where everything a
// test needs must be there.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail ends the test because something it needs is missing: a skip,
// or under CI a failure.
func SkipOrFail(t TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("missing under CI=true: %s", msg)
		return
	}
	t.Skipf("%s", msg)
}

// Buffer collects what loggers write from many goroutines (a process's
// components, a stand-in's handlers) for a test to read.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
