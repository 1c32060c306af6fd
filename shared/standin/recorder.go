package standin

import (
	"fmt"
	"slices"
	"sync"
)

// Recorder is a TB that keeps what a stand-in reports instead of failing:
// for a test that checks a stand-in refuses what the real API refuses, and
// for the demo, which has no test to fail. The zero value is ready; it is
// safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	list []string
}

// Helper does nothing; it exists to satisfy TB.
func (*Recorder) Helper() {}

// Errorf keeps one report.
func (r *Recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, fmt.Sprintf(format, args...))
}

// All returns every report kept so far, in order.
func (r *Recorder) All() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

// Take returns the reports kept since the last Take, and forgets them.
func (r *Recorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.list
	r.list = nil
	return out
}
