package publish_test

import (
	"fmt"
	"testing"

	"github.com/diffgate/diffgate/shared/publish"
)

func TestMemo(t *testing.T) {
	var m publish.Memo[int64]
	if _, ok := m.Get("a"); ok {
		t.Fatal("an empty memo remembers a")
	}
	m.Put("a", 1)
	if got := m.GetOrPut("a", 2); got != 1 {
		t.Errorf("GetOrPut over a remembered key = %d; want the first value", got)
	}
	if got := m.GetOrPut("b", 3); got != 3 {
		t.Errorf("GetOrPut of a new key = %d; want 3", got)
	}
	m.Forget("a")
	if _, ok := m.Get("a"); ok {
		t.Error("a is remembered after Forget")
	}
	// Bounded: at MaxMemo entries it starts over.
	for i := range publish.MaxMemo + 1 {
		m.Put(fmt.Sprint("k", i), int64(i))
	}
	if _, ok := m.Get("k0"); ok {
		t.Error("the memo grew past MaxMemo")
	}
	if v, ok := m.Get(fmt.Sprint("k", publish.MaxMemo)); !ok || v != publish.MaxMemo {
		t.Errorf("the newest entry is %d, %t", v, ok)
	}
}
