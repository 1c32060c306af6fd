package gitlab

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// HookRoute is where GitLab delivers the project's webhook.
const HookRoute = "/api/gitlab/hook"

// Webhook event types (X-Gitlab-Event) the bot reads.
const (
	EventMergeRequest = "Merge Request Hook"
	EventNote         = "Note Hook"
)

// RerunCommand is the note that runs a merge request again.
const RerunCommand = "/diffgate run"

// maxBody bounds a delivery. GitLab sends merge request and note hooks of
// a few kilobytes; a body this large is not one of them.
const maxBody = 25 << 20

// Publisher stores an event in JetStream and waits for the PubAck.
type Publisher interface {
	Publish(ctx context.Context, m events.Message, opts ...bus.PubOption) (bus.PubResult, error)
}

// errPayload marks a delivery whose body cannot be read as the event its
// header names: the answer is 400.
var errPayload = errors.New("gitlab: malformed webhook payload")

// hook is the webhook handler.
type hook struct {
	log     *zerolog.Logger
	token   [sha256.Size]byte
	pub     Publisher
	webHost string
	now     func() time.Time
}

// Webhook is the handler at HookRoute. It refuses a delivery whose
// X-Gitlab-Token is missing or is not secret (401); GitLab sends the
// token as it was typed, not a signature, so it is compared in constant
// time (of equal-length digests, so not even its length leaks). It
// normalises merge request and note hooks to events.PREvent and answers
// 2xx only once JetStream has stored them; a publish that failed answers
// 500 so the delivery can be sent again, and a second delivery of the
// same event is stored once (message id gl: + Idempotency-Key, else
// X-Gitlab-Event-UUID, else a digest of the body). webHost is the host of
// gitlab.url, the first part of every repository name.
func Webhook(log *zerolog.Logger, secret string, pub Publisher, webHost string) http.Handler {
	return &hook{log: log, token: sha256.Sum256([]byte(secret)), pub: pub, webHost: webHost, now: time.Now}
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := r.Header.Get("X-Gitlab-Event")
	log := h.log.With().Str("event", kind).Str("event_uuid", r.Header.Get("X-Gitlab-Event-UUID")).Logger()
	got := r.Header.Get("X-Gitlab-Token")
	sum := sha256.Sum256([]byte(got))
	if got == "" || subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
		// Never the received token: it may be a real secret sent to the
		// wrong place.
		log.Warn().Bool("token_sent", got != "").Str("instance", r.Header.Get("X-Gitlab-Instance")).
			Msg("gitlab: webhook delivery with a missing or wrong X-Gitlab-Token; refused")
		http.Error(w, "missing or invalid X-Gitlab-Token", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		http.Error(w, "cannot read the payload", http.StatusBadRequest)
		return
	case len(body) > maxBody:
		http.Error(w, "payload over 25 MB", http.StatusRequestEntityTooLarge)
		return
	}
	id := deliveryID(r.Header, body)
	ctx := observe.WithDeliveryID(log.WithContext(r.Context()), id)

	var evs []events.PREvent
	switch kind {
	case EventMergeRequest:
		evs, err = mergeRequestEvents(h.webHost, id, h.now().UTC(), body)
	case EventNote:
		evs, err = noteEvents(h.webHost, id, h.now().UTC(), body)
	default:
		zerolog.Ctx(ctx).Debug().Msg("gitlab: an event type diffgate does not read")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("gitlab: invalid webhook delivery")
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, ev := range evs {
		if err := h.publish(ctx, ev); err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Msg("gitlab: webhook event not stored; answering 500 so the delivery can be sent again")
			http.Error(w, "the event could not be stored", http.StatusInternalServerError)
			return
		}
	}
	if len(evs) == 0 {
		zerolog.Ctx(ctx).Debug().Msg("gitlab: nothing in this delivery for diffgate")
	}
	w.WriteHeader(http.StatusOK)
}

func (h *hook) publish(ctx context.Context, ev events.PREvent) error {
	ctx, cancel := bus.Detach(ctx)
	defer cancel()
	res, err := h.pub.Publish(ctx, ev)
	if err != nil {
		return err
	}
	msg := "gitlab: event stored"
	if res.Duplicate {
		msg = "gitlab: delivery already stored; nothing new"
	}
	zerolog.Ctx(ctx).Info().Str("action", ev.Action).Str(observe.FieldRepo, ev.Run.Repository).Int(observe.FieldPR, ev.Run.PR).
		Uint64(observe.FieldStreamSeq, res.Seq).Bool("duplicate", res.Duplicate).Msg(msg)
	return nil
}

// deliveryID names a delivery for deduplication: Idempotency-Key stays the
// same when GitLab sends an event again (GitLab 17.4 and later);
// X-Gitlab-Event-UUID names the event (14.8 and later); older GitLab sends
// neither, and then the same body is the same delivery.
func deliveryID(h http.Header, body []byte) string {
	for _, k := range []string{"Idempotency-Key", "X-Gitlab-Event-UUID"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return v
		}
	}
	sum := sha256.Sum256(body)
	return "body-" + hex.EncodeToString(sum[:16])
}

// The parts of GitLab's hook payloads the bot reads. Only these are
// decoded: fields the bot ignores change type between GitLab versions
// (timestamps, ids), and they must not make a delivery unreadable.
type (
	hookProject struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	}
	hookLabel struct {
		Title string `json:"title"`
	}
	// hookMR is a merge request: object_attributes of a merge request hook,
	// merge_request of a note hook.
	hookMR struct {
		IID             int         `json:"iid"`
		Action          string      `json:"action"`
		State           string      `json:"state"`
		Title           string      `json:"title"`
		URL             string      `json:"url"`
		OldRev          string      `json:"oldrev"`
		Draft           bool        `json:"draft"`
		WorkInProgress  bool        `json:"work_in_progress"`
		SourceBranch    string      `json:"source_branch"`
		TargetBranch    string      `json:"target_branch"`
		SourceProjectID int64       `json:"source_project_id"`
		TargetProjectID int64       `json:"target_project_id"`
		Target          hookProject `json:"target"`
		LastCommit      struct {
			ID string `json:"id"`
		} `json:"last_commit"`
		Labels []hookLabel `json:"labels"`
	}
	// hookHead is what every hook payload starts with.
	hookHead struct {
		ObjectKind string      `json:"object_kind"`
		Project    hookProject `json:"project"`
	}
	mergeRequestHook struct {
		hookHead
		Attrs   hookMR      `json:"object_attributes"`
		Labels  []hookLabel `json:"labels"`
		Changes struct {
			Labels *struct {
				Previous []hookLabel `json:"previous"`
				Current  []hookLabel `json:"current"`
			} `json:"labels"`
			Draft *struct {
				Previous bool `json:"previous"`
				Current  bool `json:"current"`
			} `json:"draft"`
			Title *struct {
				Previous string `json:"previous"`
				Current  string `json:"current"`
			} `json:"title"`
		} `json:"changes"`
	}
	noteHook struct {
		hookHead
		Attrs struct {
			Note         string `json:"note"`
			NoteableType string `json:"noteable_type"`
			System       bool   `json:"system"`
			Action       string `json:"action"`
			AuthorID     int64  `json:"author_id"`
		} `json:"object_attributes"`
		MergeRequest *hookMR `json:"merge_request"`
		User         struct {
			ID       int64  `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
	}
)

// mergeRequestEvents turns a merge request hook into the events the gate
// reads, named as on GitHub (events.PREvent.Action):
//
//   - open, reopen: opened, reopened.
//   - update with oldrev (new commits): synchronize. GitLab sends oldrev
//     only when the code changed.
//   - update that turns a draft ready (changes.draft, or on older GitLab a
//     title that loses its "Draft:" prefix): ready_for_review; the
//     reverse: converted_to_draft.
//   - update that adds labels: one labeled event per label added, as
//     GitHub sends them, so the label gate sees each.
//   - any other update (title, description, assignees, target branch):
//     nothing, like an edited pull request.
//   - close and merge: closed (Merged for merge).
//   - approvals: nothing.
func mergeRequestEvents(webHost, id string, now time.Time, body []byte) ([]events.PREvent, error) {
	var p mergeRequestHook
	if err := decodeHook(body, "merge_request", &p, &p.hookHead); err != nil {
		return nil, err
	}
	mr := p.Attrs
	if len(mr.Labels) == 0 {
		mr.Labels = p.Labels // older GitLab lists them only at the top
	}
	base, err := eventOf(webHost, id, now, p.Project, &mr)
	if err != nil {
		return nil, err
	}
	one := func(action string) []events.PREvent {
		base.Action = action
		return []events.PREvent{base}
	}
	switch mr.Action {
	case "open":
		return one("opened"), nil
	case "reopen":
		return one("reopened"), nil
	case "close":
		return one("closed"), nil
	case "merge":
		base.Merged = true
		return one("closed"), nil
	case "update":
	default:
		return nil, nil
	}
	if mr.OldRev != "" {
		// New commits: a new head, whatever else changed with them.
		return one("synchronize"), nil
	}
	type change struct{ action, label string }
	var changes []change
	switch c := p.Changes; {
	case c.Draft != nil && c.Draft.Previous != c.Draft.Current:
		changes = append(changes, change{action: draftAction(c.Draft.Current)})
	case c.Title != nil && isDraftTitle(c.Title.Previous) != isDraftTitle(c.Title.Current):
		changes = append(changes, change{action: draftAction(isDraftTitle(c.Title.Current))})
	}
	if c := p.Changes.Labels; c != nil {
		had := map[string]bool{}
		for _, l := range c.Previous {
			had[strings.ToLower(l.Title)] = true
		}
		for _, l := range c.Current {
			if !had[strings.ToLower(l.Title)] {
				changes = append(changes, change{action: "labeled", label: l.Title})
			}
		}
	}
	out := make([]events.PREvent, 0, len(changes))
	for i, c := range changes {
		ev := base
		ev.Action, ev.Label = c.action, c.label
		if len(changes) > 1 {
			// One delivery, several events: each its own message id.
			ev.DeliveryID = id + "#" + strconv.Itoa(i+1)
		}
		out = append(out, ev)
	}
	return out, nil
}

// decodeHook reads a payload into v, whose head must say it is of kind.
func decodeHook(body []byte, kind string, v any, head *hookHead) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", errPayload, err)
	}
	if head.ObjectKind != kind {
		return fmt.Errorf("%w: object_kind %q where %q was expected", errPayload, head.ObjectKind, kind)
	}
	return nil
}

func draftAction(draft bool) string {
	if draft {
		return "converted_to_draft"
	}
	return "ready_for_review"
}

// isDraftTitle reports whether a title marks a draft, as GitLab versions
// before the draft field did: "Draft:", "[Draft]", "(Draft)" or the older
// "WIP:" and "[WIP]" at its start.
func isDraftTitle(title string) bool {
	t := strings.ToLower(strings.TrimSpace(title))
	for _, p := range []string{"draft:", "[draft]", "(draft)", "wip:", "[wip]"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// noteEvents turns a note "/diffgate run" on a merge request into a
// rerun event; every other note is nothing.
func noteEvents(webHost, id string, now time.Time, body []byte) ([]events.PREvent, error) {
	var p noteHook
	if err := decodeHook(body, "note", &p, &p.hookHead); err != nil {
		return nil, err
	}
	a := p.Attrs
	// Older GitLab sends no action; an edited note does not run again.
	if a.NoteableType != "MergeRequest" || a.System || (a.Action != "" && a.Action != "create") || !isRerun(a.Note) {
		return nil, nil
	}
	if p.MergeRequest == nil {
		return nil, fmt.Errorf("%w: a note on a merge request without merge_request", errPayload)
	}
	ev, err := eventOf(webHost, id, now, p.Project, p.MergeRequest)
	if err != nil {
		return nil, err
	}
	// Older GitLab gives the author's id only as author_id.
	by := cmp.Or(a.AuthorID, p.User.ID)
	if by <= 0 {
		return nil, fmt.Errorf("%w: a note without object_attributes.author_id", errPayload)
	}
	ev.Action = "rerun"
	ev.RequestedBy, ev.RequestedByID = p.User.Username, by
	return []events.PREvent{ev}, nil
}

// isRerun reports whether a note asks for a run: its first line is the
// command, in any case, with nothing else on it.
func isRerun(note string) bool {
	first, _, _ := strings.Cut(strings.TrimSpace(note), "\n")
	return strings.EqualFold(strings.Join(strings.Fields(first), " "), RerunCommand)
}

// eventOf is the event of a merge request as a hook shows it. The
// repository is the target project's (where the merge request lives,
// also for a fork); the head is last_commit. Hooks carry no diff_refs, so
// BaseSHA stays empty: the gate asks GitLab for it when a run starts.
func eventOf(webHost, id string, now time.Time, project hookProject, mr *hookMR) (events.PREvent, error) {
	path := mr.Target.PathWithNamespace
	if path == "" {
		path = project.PathWithNamespace
	}
	pid := mr.TargetProjectID
	if pid == 0 {
		pid = project.ID
	}
	switch {
	case path == "":
		return events.PREvent{}, fmt.Errorf("%w: no target project path_with_namespace", errPayload)
	case mr.IID <= 0:
		return events.PREvent{}, fmt.Errorf("%w: no merge request iid", errPayload)
	case mr.LastCommit.ID == "":
		return events.PREvent{}, fmt.Errorf("%w: no last_commit.id", errPayload)
	}
	ev := events.PREvent{
		Version: events.Version, Provider: events.GitLab, DeliveryID: id, ReceivedAt: now,
		Run: events.Run{
			Provider: events.GitLab, Repository: webHost + "/" + path, PR: mr.IID,
			HeadSHA: mr.LastCommit.ID, ProjectID: pid,
			BaseRef: mr.TargetBranch, HeadRef: mr.SourceBranch, URL: mr.URL, Title: mr.Title,
		},
		Draft:           mr.Draft || mr.WorkInProgress,
		Merged:          mr.State == "merged",
		SourceProjectID: mr.SourceProjectID,
		Fork:            mr.SourceProjectID != 0 && mr.SourceProjectID != pid,
	}
	for _, l := range mr.Labels {
		ev.Labels = append(ev.Labels, l.Title)
	}
	return ev, nil
}
