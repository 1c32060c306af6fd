package publish_test

import (
	"testing"
	"time"
)

// A status's title starts with a capital, except where the name that
// starts it is written in lower case: dbt.
func TestStatusTitlesKeepDBTLowerCase(t *testing.T) {
	tests := []struct{ message, title string }{
		{"waiting for the dbt Cloud CI run", "Waiting for the dbt Cloud CI run"},
		{"dbt Cloud run #90000002 is running", "dbt Cloud run #90000002 is running"},
		{"dbt's manifest is being read", "dbt's manifest is being read"},
		{"dbtx is not dbt", "Dbtx is not dbt"},
	}
	for _, tt := range tests {
		f := newFixture(t)
		run := runAt("aaaa111")
		f.setHead(run)
		f.status(run, "running", tt.message, time.Now())
		if st, _ := f.vcs.last(run); st.Title != tt.title {
			t.Errorf("message %q: title %q, want %q", tt.message, st.Title, tt.title)
		}
	}
}
