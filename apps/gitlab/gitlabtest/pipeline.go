package gitlabtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/diffgate/diffgate/shared/bus/bustest"
)

// Patience is how long the waiting helpers wait.
const Patience = 20 * time.Second

// WaitStatus waits until the newest record of the diffgate status of a
// commit is in state, and returns it.
func (s *Server) WaitStatus(t testing.TB, projectID int64, sha, state string) Status {
	t.Helper()
	var got Status
	bustest.WaitFor(t, Patience, func() error {
		st, ok := s.Latest(projectID, sha, "diffgate")
		got = st
		if !ok || st.State != state {
			return fmt.Errorf("status of %.7s is %q, want %q", sha, st.State, state)
		}
		return nil
	})
	return got
}

// WaitNotes waits until the bot's notes on a merge request satisfy ok,
// and returns them.
func (s *Server) WaitNotes(t testing.TB, projectID int64, iid int, what string, ok func([]Note) bool) []Note {
	t.Helper()
	var got []Note
	bustest.WaitFor(t, Patience, func() error {
		if got = s.BotNotes(projectID, iid); ok(got) {
			return nil
		}
		return fmt.Errorf("bot notes on !%d: want %s; have %d", iid, what, len(got))
	})
	return got
}
