package publish

import "sync"

// MaxMemo bounds a Memo: at that many entries it starts over.
const MaxMemo = 10_000

// Memo is what an app's client remembers of what it found on the VCS (a
// check run's id per head commit, the sticky comment's per pull request),
// so that a run's updates cost one request each. It is bounded rather
// than least-recently-used: a miss costs one list request, no more. The
// zero value is ready; it is safe for concurrent use.
type Memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

// Get returns what is remembered under key.
func (c *Memo[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// Put remembers v under key.
func (c *Memo[V]) Put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.put(key, v)
}

// GetOrPut returns what is remembered under key, and remembers v there
// first when nothing is.
func (c *Memo[V]) GetOrPut(key string, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		return old
	}
	c.put(key, v)
	return v
}

// Forget drops key (the thing it named is gone).
func (c *Memo[V]) Forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

func (c *Memo[V]) put(key string, v V) {
	if c.m == nil || len(c.m) >= MaxMemo {
		c.m = map[string]V{}
	}
	c.m[key] = v
}
