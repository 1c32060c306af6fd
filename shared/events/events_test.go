package events

import (
	"encoding/json"
	"strings"
	"testing"
)

var run = Run{Provider: GitHub, Repository: "github.com/acme/analytics", PR: 7, HeadSHA: "0123456789abcdef", BaseSHA: "fedcba"}

func TestRunIDs(t *testing.T) {
	// The id is a pure function of the identifying fields: other fields
	// never change it, the identifying ones always do.
	same := run
	same.BaseSHA, same.Title, same.Installation = "other", "a title", 42
	if run.ID() != same.ID() {
		t.Error("non-identifying fields changed the run id")
	}
	for name, mod := range map[string]func(*Run){
		"provider": func(r *Run) { r.Provider = GitLab },
		"repo":     func(r *Run) { r.Repository = "github.com/acme/other" },
		"pr":       func(r *Run) { r.PR = 8 },
		"head":     func(r *Run) { r.HeadSHA = "1111111" },
		"rerun":    func(r *Run) { r.Rerun = "delivery-2" },
	} {
		r := run
		mod(&r)
		if r.ID() == run.ID() {
			t.Errorf("changing %s kept the run id", name)
		}
	}
	rerun := run
	rerun.Rerun = "delivery-2"
	if rerun.HeadKey() != run.HeadKey() {
		t.Error("a re-run must keep the head key (one check run per head)")
	}
	other := run
	other.HeadSHA = "2222222"
	if other.PRKey() != run.PRKey() || other.HeadKey() == run.HeadKey() {
		t.Error("PR key must ignore the head; head key must not")
	}
	// Ids are used as KV keys and object names: only safe characters.
	for _, id := range []string{run.ID(), run.PRKey(), run.HeadKey()} {
		if strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("id %q has characters unsafe for KV keys", id)
		}
	}
	if got := run.String(); got != "github.com/acme/analytics#7@0123456" {
		t.Errorf("String() = %q", got)
	}
}

func TestValidate(t *testing.T) {
	if err := run.Validate(); err != nil {
		t.Fatal(err)
	}
	err := (Run{Provider: "svn"}).Validate()
	if err == nil || !strings.Contains(err.Error(), "provider, repository, pr, head_sha") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestSubjectsAndMsgIDs(t *testing.T) {
	gl := run
	gl.Provider = GitLab
	tests := []struct {
		m       Message
		subject string
		msgID   string // prefix
	}{
		{PREvent{Provider: GitHub, DeliveryID: "abc"}, "diffgate.pr.event.github", "gh:abc"},
		{PREvent{Provider: GitLab, DeliveryID: "abc"}, "diffgate.pr.event.gitlab", "gl:abc"},
		{RunRequested{Run: run}, SubjectRunRequested, run.ID()},
		{RunStatus{Run: gl}, "diffgate.run.status.gitlab", gl.ID() + ":status:"},
		{RunReport{Run: run}, "diffgate.run.report.github", run.ID() + ":report"},
		{DiffTask{Run: run, DataSource: "warehouse", ModelID: "model.p.orders"}, "diffgate.diff.task.warehouse", run.ID() + ":task:"},
		{DeadLetter{Consumer: "differ", Stream: "S", StreamSeq: 9}, "diffgate.deadletter.differ", "dead:differ:S:9"},
	}
	for _, tc := range tests {
		if got := tc.m.Subject(); got != tc.subject {
			t.Errorf("%T subject = %q; want %q", tc.m, got, tc.subject)
		}
		if got := tc.m.MsgID(); !strings.HasPrefix(got, tc.msgID) {
			t.Errorf("%T msg id = %q; want prefix %q", tc.m, got, tc.msgID)
		}
	}
	// Different models of one run, and different progress, get different ids.
	a := DiffTask{Run: run, ModelID: "model.p.a"}
	b := DiffTask{Run: run, ModelID: "model.p.b"}
	if a.MsgID() == b.MsgID() {
		t.Error("two models share a task id")
	}
	s1 := RunStatus{Run: run, Stage: StageDiff, Done: 1, Total: 3}
	s2 := RunStatus{Run: run, Stage: StageDiff, Done: 2, Total: 3}
	if s1.MsgID() == s2.MsgID() || s1.MsgID() != (RunStatus{Run: run, Stage: StageDiff, Done: 1, Total: 3}).MsgID() {
		t.Error("status ids must dedupe identical progress only")
	}
}

func TestRunOf(t *testing.T) {
	data, err := json.Marshal(CICompleted{Version: Version, Run: run})
	if err != nil {
		t.Fatal(err)
	}
	got, err := RunOf(data)
	if err != nil || got.ID() != run.ID() {
		t.Fatalf("RunOf = %+v, %v", got, err)
	}
	if _, err := RunOf([]byte(`{"version":1}`)); err == nil {
		t.Error("RunOf accepted a message without a run")
	}
	if _, err := RunOf([]byte(`not json`)); err == nil {
		t.Error("RunOf accepted garbage")
	}
}
