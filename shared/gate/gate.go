package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/report"
)

// QueuedMessage is the first status of every run the gate starts.
const QueuedMessage = "waiting for the dbt Cloud CI run"

// maxAttempts bounds the failed deliveries of an event (waits for a rate
// limit not counted) before it becomes a dead letter.
const maxAttempts = 10

// Sentinel errors.
var (
	// ErrOptions is returned by New for missing options.
	ErrOptions = errors.New("gate: invalid options")
	// ErrNoPR is returned by a PRLookup that finds no open pull request
	// for the event; the gate then ignores the event.
	ErrNoPR = errors.New("gate: no open pull request for the event")
	// ErrNotAllowed is returned by a PRLookup when whoever asked for the
	// re-run may not start one; the gate then ignores the event.
	ErrNotAllowed = errors.New("gate: the re-run was asked by someone who may not start one")
)

// Files lists a pull request's changed files: the paths after the change
// and, for renames, the paths before it. truncated is set when the
// provider could not list them all (GitHub stops at 3,000).
type Files interface {
	ChangedFiles(ctx context.Context, run events.Run) (files []string, truncated bool, err error)
}

// PRLookup completes an event that does not carry the pull request's
// state: a re-run asked on a check run names a head commit (and, except
// for forks, the PR number) but neither labels nor draft state. It returns
// the pull request as it is now (Run with the PR's current head, Draft,
// Labels, ...), or an error wrapping ErrNoPR or ErrNotAllowed.
type PRLookup interface {
	LookupPR(ctx context.Context, ev events.PREvent) (events.PREvent, error)
}

// Bases finds the base commit of a run whose event carries none (GitLab's
// merge request hooks name no diff_refs): the commit the pull request's
// changes are taken against, which the pipeline prefers a production
// manifest of. It returns "" when the provider cannot tell yet.
type Bases interface {
	BaseSHA(ctx context.Context, run events.Run) (string, error)
}

// Options of New.
type Options struct {
	Provider events.Provider
	Bus      *bus.Bus
	Config   *config.Config
	Files    Files
	// Lookup is optional: a provider whose re-run events carry the whole
	// pull request leaves it nil.
	Lookup PRLookup
	// Bases is optional: it is asked only when a run is about to start
	// without a base commit.
	Bases Bases
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Gate is the component that applies Decide to a provider's webhook
// events (subject diffgate.pr.event.<provider>, durable gate-<provider>).
//
// It keeps each PR's current head in events.BucketPRs, written with
// compare-and-set and never by an event older (by stream sequence) than
// the one that wrote it, so that events handled out of order cannot bring
// back an old head. Every step is idempotent: the entry records the event
// that wrote it and the run it superseded, so a redelivered event
// publishes the same messages again (with the same message ids).
type Gate struct {
	o Options
}

// New returns the gate of one provider.
func New(o Options) (*Gate, error) {
	switch {
	case !o.Provider.Valid():
		return nil, fmt.Errorf("%w: unknown provider %q", ErrOptions, o.Provider)
	case o.Bus == nil || o.Config == nil || o.Files == nil:
		return nil, fmt.Errorf("%w: a bus, a config and a file lister are required", ErrOptions)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Gate{o: o}, nil
}

// Name is the component's name and the durable consumer's.
func (g *Gate) Name() string { return "gate-" + string(g.o.Provider) }

// Consumer is the consumer the gate reads from.
func (g *Gate) Consumer() bus.Consumer {
	return bus.Consumer{
		Name:    g.Name(),
		Subject: events.SubjectPREventPrefix + string(g.o.Provider),
		// Rate limits come back as retries, which must not use up the
		// deliveries: only failures count toward giving up.
		MaxDeliver:  -1,
		MaxFailures: maxAttempts,
	}
}

// Run consumes the provider's events until ctx is done.
func (g *Gate) Run(ctx context.Context) error {
	return g.o.Bus.Consume(ctx, g.Consumer(), g.Handle)
}

// Handle decides and applies one event. It is the consumer's handler.
func (g *Gate) Handle(ctx context.Context, m *bus.Msg) error {
	var ev events.PREvent
	if err := m.Decode(&ev); err != nil {
		return err
	}
	if ev.Provider != g.o.Provider {
		return bus.Poison(fmt.Errorf("gate-%s: event of provider %q", g.o.Provider, ev.Provider))
	}
	ctx = observe.WithRunFields(observe.WithDeliveryID(ctx, ev.DeliveryID), "", ev.Run.Repository, ev.Run.PR)
	log := zerolog.Ctx(ctx).With().Str("action", ev.Action).Logger()
	ctx = log.WithContext(ctx)

	it, ok := g.o.Config.Integration(ev.Provider, ev.Run.Repository)
	if !ok {
		log.Info().Msg("gate: no integration is configured for this repository; nothing posted")
		return nil
	}
	if ev.Action == "rerun" && g.o.Lookup != nil {
		cur, err := g.o.Lookup.LookupPR(ctx, ev)
		if errors.Is(err, ErrNoPR) {
			log.Info().Err(err).Msg("gate: re-run asked for a commit that is no open pull request's; ignored")
			return nil
		}
		if errors.Is(err, ErrNotAllowed) {
			log.Info().Err(err).Str("requested_by", ev.RequestedBy).Msg("gate: re-run ignored")
			return nil
		}
		if err != nil {
			return fmt.Errorf("gate: look up the pull request of a re-run: %w", err)
		}
		if cur.Run.HeadSHA != ev.Run.HeadSHA {
			log.Info().Str("head", events.Short(ev.Run.HeadSHA)).Str("current", events.Short(cur.Run.HeadSHA)).
				Msg("gate: re-run asked for an older head of the pull request; ignored")
			return nil
		}
		cur.Action, cur.DeliveryID, cur.ReceivedAt, cur.Provider, cur.Version = ev.Action, ev.DeliveryID, ev.ReceivedAt, ev.Provider, ev.Version
		ev = cur
		ctx = observe.WithRunFields(ctx, "", "", ev.Run.PR)
		log = *zerolog.Ctx(ctx)
	}
	if err := ev.Run.Validate(); err != nil {
		return bus.Poison(fmt.Errorf("gate: %w", err))
	}

	in := Input{Event: ev, Integration: it}
	d := Decide(in)
	if d.NeedsFiles {
		files, truncated, err := g.o.Files.ChangedFiles(ctx, ev.Run)
		if err != nil {
			return fmt.Errorf("gate: list the changed files of %s: %w", ev.Run, err)
		}
		if files == nil {
			files = []string{}
		}
		in.Files, in.FilesTruncated = files, truncated
		d = Decide(in)
	}

	if d.Verdict == Start && ev.Run.BaseSHA == "" && g.o.Bases != nil {
		base, err := g.o.Bases.BaseSHA(ctx, ev.Run)
		var retry *bus.Retry
		switch {
		case errors.As(err, &retry):
			return fmt.Errorf("gate: find the base commit of %s: %w", ev.Run, err)
		case err != nil:
			// The run works without it: the production manifest is then
			// the newest one rather than the base commit's.
			log.Warn().Err(err).Msg("gate: the base commit could not be found; starting without it")
		default:
			ev.Run.BaseSHA = base
		}
	}

	t := &turn{g: g, ev: ev, it: it, d: d, seq: m.StreamSeq, key: ev.Run.PRKey()}
	switch d.Verdict {
	case Start:
		return t.apply(ctx, t.start)
	case Skip:
		return t.apply(ctx, t.skip)
	case Cancel:
		return t.apply(ctx, t.cancel)
	default:
		zerolog.Ctx(ctx).Debug().Str("reason", d.Reason).Msg("gate: nothing to do")
		return nil
	}
}

// turn is one event being applied.
type turn struct {
	g   *Gate
	ev  events.PREvent
	it  *config.Integration
	d   Decision
	seq uint64
	key string
}

// next computes the PR's new entry from the current one (nil when the PR
// has none), or nil when the event changes nothing.
type nextFunc func(ctx context.Context, cur *events.PRHead) *events.PRHead

// apply writes the PR's new entry with compare-and-set and then announces
// it. An event older than the entry's is dropped; the event that wrote the
// entry (a redelivery) announces it again.
func (t *turn) apply(ctx context.Context, next nextFunc) error {
	kv, err := t.g.o.Bus.KV(ctx, events.BucketPRs)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, rev, err := readHead(ctx, kv, t.key)
		if err != nil {
			return err
		}
		if cur != nil && cur.Seq > t.seq {
			zerolog.Ctx(ctx).Info().Uint64("newer_seq", cur.Seq).Msg("gate: a newer event already set the pull request's head; this one is stale")
			return nil
		}
		if cur != nil && cur.Seq == t.seq {
			return t.announce(ctx, cur)
		}
		n := next(ctx, cur)
		if n == nil {
			return nil
		}
		n.Seq, n.Updated = t.seq, t.g.o.Now().UTC()
		data, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("gate: encode PR head: %w", err)
		}
		if rev == 0 {
			_, err = kv.Create(ctx, t.key, data)
		} else {
			_, err = kv.Update(ctx, t.key, data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			if attempt < 8 {
				continue // another event of the PR won the race: decide again on its entry
			}
		}
		if err != nil {
			return fmt.Errorf("gate: write the head of %s: %w", t.ev.Run, err)
		}
		return t.announce(ctx, n)
	}
}

func readHead(ctx context.Context, kv jetstream.KeyValue, key string) (*events.PRHead, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("gate: read PR head %s: %w", key, err)
	}
	var h events.PRHead
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		// An entry this build cannot read is replaced, not fatal.
		zerolog.Ctx(ctx).Warn().Err(err).Str("key", key).Msg("gate: unreadable PR head; replacing it")
		return nil, e.Revision(), nil
	}
	return &h, e.Revision(), nil
}

// live is the run of cur that is still under way and must be cancelled
// when cur is replaced: not closed, not skipped (a skip already ended with
// its report), and not the run that replaces it.
func live(cur *events.PRHead, next string) *events.Run {
	if cur == nil || cur.Closed || cur.Skipped || cur.RunID == next {
		return nil
	}
	r := cur.Run
	return &r
}

// reopens reports whether an action may start a run of a closed PR.
func reopens(action string) bool {
	switch action {
	case "reopened", "reopen", "opened", "open":
		return true
	}
	return false
}

func (t *turn) start(ctx context.Context, cur *events.PRHead) *events.PRHead {
	log := zerolog.Ctx(ctx)
	run := t.ev.Run
	run.Rerun = ""
	if t.d.Rerun {
		run.Rerun = t.ev.DeliveryID
	}
	if cur != nil && cur.Closed && !reopens(t.ev.Action) {
		log.Info().Msg("gate: the pull request is closed; not starting a run")
		return nil
	}
	if cur != nil && cur.Run.HeadSHA == run.HeadSHA {
		switch {
		case cur.Closed || cur.Skipped:
			// That head's run already ended (skipped or cancelled), so its
			// id is spent: a new run of the same head needs a new one.
			run.Rerun = t.ev.DeliveryID
		case !t.d.Rerun:
			log.Debug().Str("existing_run", cur.RunID).Msg("gate: the head already has its run; nothing new")
			return nil
		}
	}
	return &events.PRHead{RunID: run.ID(), Run: run, Supersedes: live(cur, run.ID())}
}

func (t *turn) skip(ctx context.Context, cur *events.PRHead) *events.PRHead {
	if cur != nil && cur.Closed && !reopens(t.ev.Action) {
		zerolog.Ctx(ctx).Info().Msg("gate: the pull request is closed; not reporting a skip")
		return nil
	}
	run := t.ev.Run
	run.Rerun = ""
	if t.d.Rerun || (cur != nil && cur.Run.HeadSHA == run.HeadSHA) {
		// A head reported on before gets a report of its own, so the
		// check shows the newest reason.
		run.Rerun = t.ev.DeliveryID
	}
	return &events.PRHead{RunID: run.ID(), Run: run, Skipped: true, Supersedes: live(cur, run.ID())}
}

func (t *turn) cancel(ctx context.Context, cur *events.PRHead) *events.PRHead {
	if cur == nil {
		// Remember the close, so that an older event handled late does
		// not start a run; there is no run to cancel.
		run := t.ev.Run
		return &events.PRHead{RunID: run.ID(), Run: run, Closed: true}
	}
	if cur.Closed {
		zerolog.Ctx(ctx).Debug().Msg("gate: already closed")
		return nil
	}
	n := *cur
	n.Closed = true
	n.Supersedes = live(cur, "")
	return &n
}

// announce publishes what an entry means. Every message id is derived
// from the entry, so announcing twice publishes nothing new.
func (t *turn) announce(ctx context.Context, h *events.PRHead) error {
	b, now := t.g.o.Bus, t.g.o.Now().UTC()
	ctx = observe.WithRunFields(ctx, h.RunID, "", 0)
	log := zerolog.Ctx(ctx).With().Str("head", h.Run.ShortSHA()).Logger()
	ctx = log.WithContext(ctx)

	if h.Closed {
		if h.Supersedes == nil {
			log.Info().Msg("gate: pull request closed; no run under way")
			return nil
		}
		pr := report.WordsFor(h.Run.Provider).PR
		msg := "the " + pr + " was closed"
		if t.ev.Merged {
			msg = "the " + pr + " was merged"
		}
		if _, err := b.Publish(ctx, events.RunCancelled{Version: events.Version, Run: *h.Supersedes,
			Reason: events.CancelClosed, Message: msg, At: now}); err != nil {
			return err
		}
		log.Info().Msg("gate: pull request closed; its run is cancelled")
		return nil
	}

	if s := h.Supersedes; s != nil {
		msg := "a newer commit was pushed"
		if s.HeadSHA == h.Run.HeadSHA {
			msg = "the " + report.WordsFor(h.Run.Provider).PR + " was run again"
		}
		if _, err := b.Publish(ctx, events.RunCancelled{Version: events.Version, Run: *s,
			Reason: events.CancelSuperseded, By: h.Run.HeadSHA, Message: msg, At: now}); err != nil {
			return err
		}
		log.Info().Str("superseded", s.ID()).Msg("gate: older run superseded")
	}

	if h.Skipped {
		return t.announceSkip(ctx, h, now)
	}
	at := t.ev.ReceivedAt
	if at.IsZero() {
		at = now
	}
	if _, err := b.Publish(ctx, events.RunRequested{Version: events.Version, Run: h.Run, Integration: t.it.Name,
		Labels: t.ev.Labels, Trigger: t.ev.Action, DeliveryID: t.ev.DeliveryID, RequestedAt: at}); err != nil {
		return err
	}
	if _, err := b.Publish(ctx, events.RunStatus{Version: events.Version, Run: h.Run, Stage: events.StageGate,
		State: "queued", Message: QueuedMessage, At: now}); err != nil {
		return err
	}
	log.Info().Msg("gate: run requested")
	return nil
}

// announceSkip stores the skip report and publishes it.
func (t *turn) announceSkip(ctx context.Context, h *events.PRHead, now time.Time) error {
	r, err := report.Build(report.Input{
		Run:                    h.Run,
		Integration:            t.it.Name,
		FailOnPrimaryKeyIssues: t.it.CI.FailOnPrimaryKeyIssues,
		Skip:                   &report.Skip{Code: t.d.Code, Reason: t.d.Reason, Hint: t.d.Hint},
		StartedAt:              now,
		FinishedAt:             now,
	})
	if err != nil {
		return bus.Poison(fmt.Errorf("gate: build the skip report: %w", err))
	}
	data, err := r.Encode()
	if err != nil {
		return fmt.Errorf("gate: encode the skip report: %w", err)
	}
	objs, err := t.g.o.Bus.Objects(ctx)
	if err != nil {
		return err
	}
	name := events.ReportObject(h.RunID)
	info, err := objs.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("gate: store the skip report: %w", err)
	}
	if _, err := t.g.o.Bus.Publish(ctx, events.RunReport{Version: events.Version, Run: h.Run,
		Conclusion: r.Conclusion, Title: r.Title, Summary: r.Summary,
		Report: events.ObjectRef{Name: name, Digest: info.Digest, Size: int64(info.Size)}, At: now}); err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("code", t.d.Code).Str("reason", t.d.Reason).Msg("gate: skipped")
	return nil
}
