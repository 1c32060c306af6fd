package sandbox

import (
	"bytes"
	"sync"
)

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
