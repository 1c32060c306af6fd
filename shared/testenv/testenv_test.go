package testenv

import (
	"fmt"
	"testing"
)

type recorder struct{ fatal, skip string }

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestSkipsExceptUnderCI(t *testing.T) {
	for _, ci := range []string{"", "false", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			var r recorder
			SkipOrFail(&r, "PostgreSQL not reachable: %s", "refused")
			if ci == "true" {
				if r.fatal != "missing under CI=true: PostgreSQL not reachable: refused" || r.skip != "" {
					t.Errorf("under CI: fatal %q skip %q", r.fatal, r.skip)
				}
				return
			}
			if r.skip != "PostgreSQL not reachable: refused" || r.fatal != "" {
				t.Errorf("outside CI: fatal %q skip %q", r.fatal, r.skip)
			}
		})
	}
}
