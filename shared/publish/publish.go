// Package publish shows runs on the VCS, for the GitHub App and the GitLab
// bot alike: it consumes a provider's run statuses and final reports and
// drives the provider's status (a GitHub check run, a GitLab commit
// status) and its one sticky comment through a narrow Target the app
// implements.
//
// It keeps a small record per run in events.BucketPublished, so that a
// status arriving after the run's final report never reopens it and an
// older status never overwrites a newer one, and it takes a short lease
// per pull request in the same bucket, so that two publisher processes (or
// two handlers of one) never write to one pull request at once: the
// provider's "find it, else create it" steps cannot race into a second
// check run or a second comment.
package publish

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/details"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/prs"
	"github.com/diffgate/diffgate/shared/report"
)

// State is where a run's status stands, in the provider-neutral words the
// Target maps (GitHub: queued, in_progress, completed; GitLab: pending,
// running, and the conclusion's state).
type State string

const (
	Queued    State = "queued"
	Running   State = "running"
	Completed State = "completed"
)

// Status is one update of a run's status on the VCS.
type Status struct {
	State State
	// Conclusion is set when State is Completed.
	Conclusion events.Conclusion
	// Title is one short line (a check run's output.title).
	Title string
	// Summary is Markdown (a check run's output.summary), within
	// report.MaxCheckSummary.
	Summary string
	// Description is one plain line of at most report.MaxSummary
	// characters (a GitLab commit status's description).
	Description string
	// DetailsURL is the run's details page (a check run's details_url, a
	// commit status's target_url); empty while the run has no report.
	DetailsURL string
}

// Target is the VCS side a provider's app implements. Both calls must be
// idempotent: find the run's status or the pull request's comment (by the
// check's external id, by report.StickyMarker) and update it, creating it
// only when there is none. An error wrapping a *bus.Retry (bus.RetryAfter)
// asks for the message again later (rate limits); one wrapping
// bus.ErrPoison gives up on it at once (a request the provider will never
// accept).
type Target interface {
	SetStatus(ctx context.Context, run events.Run, st Status) error
	UpsertComment(ctx context.Context, run events.Run, body string) error
}

// Defaults.
const (
	// DefaultLeaseTTL bounds how long a crashed publisher's lease keeps
	// others off its pull request.
	DefaultLeaseTTL = 30 * time.Second
	// maxAttempts bounds the failed deliveries of a message (waits for a
	// rate limit or a busy lease not counted).
	maxAttempts = 20
)

// Sentinel errors.
var (
	// ErrOptions is returned by New for missing options.
	ErrOptions = errors.New("publish: invalid options")
)

// Options of New.
type Options struct {
	Provider events.Provider
	Bus      *bus.Bus
	Target   Target
	// Signer and PublicURL make the details links; without a Signer the
	// statuses and comments carry none.
	Signer    *details.Signer
	PublicURL string
	// Flavor of the comment's Markdown; default the provider's.
	Flavor report.Flavor
	// MaxComment bounds the comment body in bytes; 0 means
	// report.DefaultCommentLimit, the same for both providers (a longer
	// GitLab note is allowed but not read). The provider's own limit
	// caps it.
	MaxComment int
	// LeaseTTL: default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Publisher is the component: two durable consumers, publish-status-<p>
// and publish-report-<p>.
type Publisher struct {
	o      Options
	holder string
}

// New returns the publisher of one provider.
func New(o Options) (*Publisher, error) {
	switch {
	case !o.Provider.Valid():
		return nil, fmt.Errorf("%w: unknown provider %q", ErrOptions, o.Provider)
	case o.Bus == nil || o.Target == nil:
		return nil, fmt.Errorf("%w: a bus and a target are required", ErrOptions)
	case o.Signer != nil && o.PublicURL == "":
		return nil, fmt.Errorf("%w: details links need the public URL (server.public_url)", ErrOptions)
	}
	if o.Flavor == "" {
		o.Flavor = report.FlavorGitHub
		if o.Provider == events.GitLab {
			o.Flavor = report.FlavorGitLab
		}
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Publisher{o: o, holder: crand.Text()}, nil
}

// Name is the component's name.
func (p *Publisher) Name() string { return "publish-" + string(p.o.Provider) }

// StatusConsumer and ReportConsumer are the two consumers.
func (p *Publisher) StatusConsumer() bus.Consumer {
	return bus.Consumer{Name: "publish-status-" + string(p.o.Provider),
		Subject: events.SubjectRunStatusPrefix + string(p.o.Provider), MaxDeliver: -1, MaxFailures: maxAttempts}
}

func (p *Publisher) ReportConsumer() bus.Consumer {
	return bus.Consumer{Name: "publish-report-" + string(p.o.Provider),
		Subject: events.SubjectRunReportPrefix + string(p.o.Provider), MaxDeliver: -1, MaxFailures: maxAttempts}
}

// Run consumes statuses and reports until ctx is done.
func (p *Publisher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct {
		c bus.Consumer
		h bus.Handler
	}{{p.StatusConsumer(), p.HandleStatus}, {p.ReportConsumer(), p.HandleReport}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.o.Bus.Consume(ctx, c.c, c.h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// record is what the publisher showed of one run (events.BucketPublished,
// key "run.<run id>").
type record struct {
	// Final is set once the run's report is shown: statuses are ignored
	// from then on.
	Final      bool              `json:"final,omitempty"`
	Conclusion events.Conclusion `json:"conclusion,omitempty"`
	// StatusAt is the time of the newest status shown; older ones are
	// ignored.
	StatusAt time.Time `json:"status_at,omitzero"`
	// Done is the highest progress count shown ("diffing 4/12"); a lower
	// one, stamped later by a slower handler, is ignored.
	Done    int       `json:"done,omitempty"`
	Updated time.Time `json:"updated"`
}

func recordKey(runID string) string { return "run." + runID }
func leaseKey(prKey string) string  { return "lease." + prKey }

// HandleStatus shows one RunStatus. Rate limits come back as retries,
// which the consumer does not count as failures (MaxFailures).
func (p *Publisher) HandleStatus(ctx context.Context, m *bus.Msg) error {
	var st events.RunStatus
	if err := m.Decode(&st); err != nil {
		return err
	}
	run := st.Run
	ctx, log, sh, err := p.begin(ctx, run)
	if err != nil {
		return err
	}
	defer sh.release()
	rec := &sh.rec
	switch {
	case rec.Final:
		log.Debug().Str("state", st.State).Msg("publish: status after the final report; ignored")
		return nil
	case !rec.StatusAt.IsZero() && st.At.Before(rec.StatusAt):
		log.Debug().Time("at", st.At).Time("shown", rec.StatusAt).Msg("publish: status older than the one shown; ignored")
		return nil
	case st.Total > 0 && st.Done < rec.Done:
		log.Debug().Int("done", st.Done).Int("shown", rec.Done).Msg("publish: progress below the count shown; ignored")
		return nil
	}
	head, err := p.head(ctx, run)
	if err != nil {
		return err
	}
	if head != nil {
		if why, stale := prs.Stale(*head, run.ID()); stale {
			log.Debug().Str("current", head.RunID).Str("why", why).Msg("publish: status of a run that is no longer the pull request's current one; ignored")
			return nil
		}
	}

	status := statusOf(st)
	if p.o.Signer != nil {
		// The details page says the run is under way and refreshes itself,
		// so the link is useful before the report too.
		status.DetailsURL = p.o.Signer.URL(p.o.PublicURL, run.ID(), "", p.o.Now().UTC())
	}
	if err := p.o.Target.SetStatus(ctx, run, status); err != nil {
		return fmt.Errorf("publish: status of %s: %w", run, err)
	}
	rec.StatusAt, rec.Updated = st.At, p.o.Now().UTC()
	if st.Total > 0 {
		rec.Done = st.Done
	}
	if err := sh.save(ctx, run.ID()); err != nil {
		return err
	}
	log.Debug().Str("state", st.State).Str("message", st.Message).Msg("publish: status shown")
	return nil
}

// statusOf turns pipeline progress into what the VCS shows.
func statusOf(st events.RunStatus) Status {
	state := Running
	if st.State == "queued" {
		state = Queued
	}
	msg := strings.TrimSpace(st.Message)
	if msg == "" {
		msg = string(st.Stage)
	}
	if st.Total > 0 && !strings.Contains(msg, fmt.Sprintf("%d/%d", st.Done, st.Total)) {
		msg = fmt.Sprintf("%s (%d/%d)", msg, st.Done, st.Total)
	}
	title := report.UpperFirst(msg)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nCommit %s", report.Text(title), report.Code(st.Run.ShortSHA()))
	if u := report.SafeURL(st.Link); u != "" {
		fmt.Fprintf(&b, " · [details of this step](%s)", u)
	}
	b.WriteString("\n")
	return Status{
		State:       state,
		Title:       report.Clip(title, report.MaxTitle),
		Summary:     b.String(),
		Description: report.Clip(title, report.MaxSummary),
	}
}

// HandleReport shows one RunReport.
func (p *Publisher) HandleReport(ctx context.Context, m *bus.Msg) error {
	var rr events.RunReport
	if err := m.Decode(&rr); err != nil {
		return err
	}
	run := rr.Run
	ctx, log, sh, err := p.begin(ctx, run)
	if err != nil {
		return err
	}
	defer sh.release()
	rec := &sh.rec
	if rec.Final {
		log.Debug().Msg("publish: report already shown")
		return nil
	}
	head, err := p.head(ctx, run)
	if err != nil {
		return err
	}
	current := head == nil || head.RunID == run.ID()
	// A re-run of the same head shares its check: the newer run owns it.
	ownsStatus := current || head.Run.HeadSHA != run.HeadSHA

	now := p.o.Now().UTC()
	var detailsURL string
	var modelURL func(string) string
	if p.o.Signer != nil {
		detailsURL = p.o.Signer.URL(p.o.PublicURL, run.ID(), "", now)
		modelURL = p.o.Signer.ModelURLs(p.o.PublicURL, run.ID(), now)
	}
	r, err := p.loadReport(ctx, rr)
	if err != nil && !errors.Is(err, details.ErrNotFound) {
		return err
	}
	st := Status{State: Completed, Conclusion: rr.Conclusion, Title: report.Clip(rr.Title, report.MaxTitle),
		Summary: report.Text(rr.Summary), Description: report.Clip(rr.Summary, report.MaxSummary), DetailsURL: detailsURL}
	var body string
	if r != nil {
		r.DetailsURL = detailsURL
		st.Title = report.Clip(r.Title, report.MaxTitle)
		st.Summary = report.CheckSummary(r, report.Options{Flavor: p.o.Flavor, ModelURL: modelURL})
		st.Description = report.Description(r, report.MaxSummary)
		body = report.Markdown(r, report.Options{Flavor: p.o.Flavor, MaxLen: p.o.MaxComment, ModelURL: modelURL})
	} else {
		log.Error().Str("object", rr.Report.Name).Msg("publish: the run's report is not in the object store; completing the status from the message alone")
	}
	if rr.Superseded && st.Conclusion != events.ConclusionCancelled {
		st.Conclusion = events.ConclusionCancelled
	}
	if st.Conclusion == "" {
		st.Conclusion = events.ConclusionNeutral
	}

	if ownsStatus {
		if err := p.o.Target.SetStatus(ctx, run, st); err != nil {
			return fmt.Errorf("publish: complete the status of %s: %w", run, err)
		}
	} else {
		log.Info().Str("current", head.RunID).Msg("publish: a newer run of the same head owns the status; leaving it")
	}
	switch {
	case rr.Superseded || !current:
		log.Info().Msg("publish: superseded run; the comment is left to the newer run")
	case body == "":
	default:
		if err := p.o.Target.UpsertComment(ctx, run, body); err != nil {
			return fmt.Errorf("publish: comment of %s: %w", run, err)
		}
	}
	rec.Final, rec.Conclusion, rec.Updated = true, st.Conclusion, now
	if err := sh.save(ctx, run.ID()); err != nil {
		return err
	}
	log.Info().Str("conclusion", string(st.Conclusion)).Msg("publish: report shown")
	return nil
}

// head is the entry the gate keeps for run's pull request, nil when it has
// none.
func (p *Publisher) head(ctx context.Context, run events.Run) (*events.PRHead, error) {
	kv, err := p.o.Bus.KV(ctx, events.BucketPRs)
	if err != nil {
		return nil, err
	}
	return prs.Head(ctx, kv, run.PRKey())
}

func (p *Publisher) loadReport(ctx context.Context, rr events.RunReport) (*report.Report, error) {
	objs, err := p.o.Bus.Objects(ctx)
	if err != nil {
		return nil, err
	}
	name := rr.Report.Name
	if name == "" {
		name = events.ReportObject(rr.Run.ID())
	}
	data, err := objs.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: report %s", details.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("publish: read report %s: %w", name, err)
	}
	r, err := report.Decode(data)
	if err != nil {
		return nil, bus.Poison(fmt.Errorf("publish: report %s: %w", name, err))
	}
	return r, nil
}

func (p *Publisher) check(run events.Run) error {
	if run.Provider != p.o.Provider {
		return bus.Poison(fmt.Errorf("publish-%s: a run of provider %q", p.o.Provider, run.Provider))
	}
	if err := run.Validate(); err != nil {
		return bus.Poison(err)
	}
	return nil
}

func (p *Publisher) logger(ctx context.Context, run events.Run) (context.Context, *zerolog.Logger) {
	ctx = observe.WithRun(ctx, run)
	l := zerolog.Ctx(ctx).With().Str("head", run.ShortSHA()).Logger()
	return l.WithContext(ctx), &l
}

// showing is one message of a run being shown: the pull request's lease,
// held until release, and the run's record as read under it.
type showing struct {
	kv      jetstream.KeyValue
	rec     record
	rev     uint64
	release func()
}

// begin checks run, puts it on the logger, takes its pull request's lease
// and reads its record: what showing a status or a report starts with.
func (p *Publisher) begin(ctx context.Context, run events.Run) (context.Context, *zerolog.Logger, *showing, error) {
	if err := p.check(run); err != nil {
		return ctx, nil, nil, err
	}
	ctx, log := p.logger(ctx, run)
	kv, err := p.o.Bus.KV(ctx, events.BucketPublished)
	if err != nil {
		return ctx, log, nil, err
	}
	release, err := p.lease(ctx, kv, run.PRKey())
	if err != nil {
		return ctx, log, nil, err
	}
	rec, rev, err := readRecord(ctx, kv, run.ID())
	if err != nil {
		release()
		return ctx, log, nil, err
	}
	return ctx, log, &showing{kv: kv, rec: rec, rev: rev, release: release}, nil
}

// save writes the record back (writeRecord).
func (s *showing) save(ctx context.Context, runID string) error {
	return writeRecord(ctx, s.kv, runID, s.rec, s.rev)
}

func readRecord(ctx context.Context, kv jetstream.KeyValue, runID string) (record, uint64, error) {
	e, err := kv.Get(ctx, recordKey(runID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, 0, nil
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("publish: read the record of %s: %w", runID, err)
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("publish: unreadable record; starting afresh")
		return record{}, e.Revision(), nil
	}
	return rec, e.Revision(), nil
}

// writeRecord writes under the PR's lease, so the revision cannot have
// moved unless the lease expired under a slow handler: then the write
// fails and the message comes again.
func writeRecord(ctx context.Context, kv jetstream.KeyValue, runID string, rec record, rev uint64) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("publish: encode record: %w", err)
	}
	if rev == 0 {
		_, err = kv.Create(ctx, recordKey(runID), data)
	} else {
		_, err = kv.Update(ctx, recordKey(runID), data, rev)
	}
	if err != nil {
		return fmt.Errorf("publish: write the record of %s: %w", runID, err)
	}
	return nil
}

type leaseValue struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// lease takes the pull request's lease, or asks for the message again
// shortly when another handler holds it. A lease whose holder died
// expires after LeaseTTL.
func (p *Publisher) lease(ctx context.Context, kv jetstream.KeyValue, prKey string) (func(), error) {
	key := leaseKey(prKey)
	now := p.o.Now()
	data, _ := json.Marshal(leaseValue{Holder: p.holder, Until: now.Add(p.o.LeaseTTL)})
	rev, err := kv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := kv.Get(ctx, key)
		var held leaseValue
		switch {
		case errors.Is(gerr, jetstream.ErrKeyNotFound):
			rev, err = kv.Create(ctx, key, data) // released meanwhile
		case gerr != nil:
			return nil, fmt.Errorf("publish: read lease: %w", gerr)
		case json.Unmarshal(e.Value(), &held) != nil || now.After(held.Until):
			rev, err = kv.Update(ctx, key, data, e.Revision())
		}
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		zerolog.Ctx(ctx).Debug().Msg("publish: another publisher is writing to this pull request; later")
		return nil, bus.RetryAfter(200*time.Millisecond + rand.N(300*time.Millisecond))
	}
	if err != nil {
		return nil, fmt.Errorf("publish: take lease: %w", err)
	}
	return func() {
		// A fresh context: the handler's may be over, and the lease must go.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := kv.Delete(dctx, key, jetstream.LastRevision(rev)); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("publish: release lease; it expires by itself")
		}
	}, nil
}
