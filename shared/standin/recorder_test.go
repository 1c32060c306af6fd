package standin_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/standin"
)

func TestRecorderKeepsReports(t *testing.T) {
	var r standin.Recorder
	var tb standin.TB = &r
	tb.Errorf("unexpected request %s", "GET /x")
	tb.Errorf("bad body")
	if diff := cmp.Diff([]string{"unexpected request GET /x", "bad body"}, r.All()); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
	if got := r.Take(); len(got) != 2 {
		t.Errorf("Take returned %q; want both reports", got)
	}
	r.Errorf("later")
	if diff := cmp.Diff([]string{"later"}, r.Take()); diff != "" {
		t.Errorf("Take after Take (-want +got):\n%s", diff)
	}
	if got := r.All(); len(got) != 0 {
		t.Errorf("All after Take: %q; want nothing", got)
	}
}
