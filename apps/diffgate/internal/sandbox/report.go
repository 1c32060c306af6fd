package sandbox

import (
	"bytes"
	"fmt"
	"sync"
)

// Problems collects what the stand-ins refuse when no test is there to
// fail: the demo passes it as their TB and fails if it holds anything.
type Problems struct {
	mu   sync.Mutex
	list []string
}

// Helper does nothing; it is part of TB.
func (*Problems) Helper() {}

// Errorf records one problem.
func (p *Problems) Errorf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// List returns the problems recorded so far.
func (p *Problems) List() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// Tail keeps the last lines written to it: the logs a quiet run shows
// only when something went wrong.
type Tail struct {
	mu    sync.Mutex
	max   int
	lines [][]byte
	part  []byte
}

// NewTail keeps the last n lines.
func NewTail(n int) *Tail { return &Tail{max: n} }

// Write implements io.Writer.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	data := append(t.part, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, append([]byte(nil), data[:i+1]...))
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
		data = data[i+1:]
	}
	t.part = append([]byte(nil), data...)
	return len(p), nil
}

// String returns the lines kept.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.Join(t.lines, nil)) + string(t.part)
}
