package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// Consumer defaults.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 10
	DefaultMaxAckPending = 64
	DefaultConcurrency   = 4
)

// DefaultBackoff is the NakWithDelay schedule for transient errors, by
// delivery count (the last step repeats).
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute}

// pollWait bounds one pull request, so that a consumer notices a lost
// server or a deleted consumer within seconds.
const pollWait = 2 * time.Second

// Consumer declares a durable pull consumer and how it is run.
type Consumer struct {
	// Name is the durable name, e.g. "ciwait". Several processes with the
	// same Name share the work.
	Name string
	// Stream is the stream to read; empty means the default topology's
	// stream for Subject (StreamOf).
	Stream string
	// Subject is the one filter subject (several filters need server 2.10).
	Subject string
	// AckWait is how long a delivery may go without an ack or InProgress
	// before the server redelivers it; default 30s. It is also the
	// handler's deadline.
	AckWait time.Duration
	// MaxDeliver is the number of deliveries before the message becomes a
	// dead letter; default 10; -1 is unlimited.
	MaxDeliver int
	// MaxFailures bounds a consumer whose handler also waits with
	// RetryAfter (so MaxDeliver is -1): the message becomes a dead letter
	// after this many deliveries ended in an error, waits not counted. The
	// count is kept in the failures bucket, so every process sees it, and
	// the backoff follows it. 0: no bound but MaxDeliver.
	MaxFailures int
	// Backoff is the redelivery delay after a transient error, by delivery
	// count; default DefaultBackoff.
	Backoff []time.Duration
	// MaxAckPending bounds the messages in flight across every process of
	// this consumer; default 64.
	MaxAckPending int
	// Concurrency is the number of handlers running at once in this
	// process; default 4.
	Concurrency int
}

func (c Consumer) withDefaults() Consumer {
	if c.Stream == "" {
		c.Stream = StreamOf(c.Subject)
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	return c
}

// backoff is the delay before delivery n+1 after a transient failure of
// delivery n.
func (c Consumer) backoff(n uint64) time.Duration {
	i := int(min(n, uint64(len(c.Backoff)))) - 1
	return c.Backoff[max(i, 0)]
}

// Msg is one delivery given to a Handler.
type Msg struct {
	Subject      string // as published (without a test namespace)
	Data         []byte
	Header       nats.Header
	NumDelivered uint64 // 1 on the first delivery
	StreamSeq    uint64

	jm    jetstream.Msg
	lease *lease
}

// Decode decodes the JSON body into v. A body that is not JSON of v's
// shape, or whose version is not events.Version, is poison: the error
// wraps ErrPoison, so returning it terminates the message.
func (m *Msg) Decode(v any) error {
	if err := json.Unmarshal(m.Data, v); err != nil {
		return Poison(fmt.Errorf("decode %s: %w", m.Subject, err))
	}
	var probe struct {
		Version *int `json:"version"`
	}
	_ = json.Unmarshal(m.Data, &probe) // the body decoded above, so this does too
	switch {
	case probe.Version == nil:
		return Poison(fmt.Errorf("decode %s: the message has no version", m.Subject))
	case *probe.Version != events.Version:
		return Poison(fmt.Errorf("decode %s: message version %d is not %d, the version this build reads", m.Subject, *probe.Version, events.Version))
	}
	return nil
}

// InProgress tells the server the handler is still working, so it does
// not redeliver, and pushes the handler's deadline out by AckWait.
func (m *Msg) InProgress(ctx context.Context) error {
	if err := m.jm.InProgress(); err != nil {
		return fmt.Errorf("bus: in progress %s seq %d: %w", m.Subject, m.StreamSeq, err)
	}
	if !m.lease.extend() {
		return fmt.Errorf("bus: in progress %s seq %d: %w", m.Subject, m.StreamSeq, ErrAckDeadline)
	}
	zerolog.Ctx(ctx).Trace().Msg("bus: in progress")
	return nil
}

// KeepAlive tells the server that the message is still being worked on
// (InProgress) every third of the consumer's AckWait, until the returned
// function is called; that function returns once the heartbeat has
// stopped. Use it around the one long step of a handler; KeepAlive(h)
// covers a whole handler.
func (m *Msg) KeepAlive(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(m.lease.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := m.InProgress(ctx); err != nil {
					// The deadline passed or the server is gone: the
					// message is someone else's now, and ctx says so.
					zerolog.Ctx(ctx).Warn().Err(err).Msg("bus: cannot extend the message's ack deadline")
					return
				}
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// KeepAlive wraps h so that the server hears that its message is still
// being worked on for as long as h runs (Msg.KeepAlive): slow work (a
// download, an analysis, a wait on an API) is neither handed to another
// process nor cut short by the handler's deadline.
func KeepAlive(h Handler) Handler {
	return func(ctx context.Context, m *Msg) error {
		defer m.KeepAlive(ctx)()
		return h(ctx, m)
	}
}

// Handler handles one message. Return nil to ack it; an error wrapping
// ErrPoison to terminate it and publish a dead letter; RetryAfter(d) to
// have it again after d; any other error to have it again after the
// consumer's backoff (a dead letter once MaxDeliver is reached). A panic
// counts as an error.
type Handler func(ctx context.Context, m *Msg) error

// Consume creates or updates the durable pull consumer c and runs h on
// its messages, up to c.Concurrency at once, until ctx is done. Then it
// stops fetching, waits for the handlers in flight to finish and settle
// their messages (graceful drain), and returns nil. It returns an error
// when the consumer cannot be created or the connection is closed.
//
// A handler's context has the logger of ctx with the message's subject,
// consumer, stream sequence, delivery count and the run and delivery ids
// of its headers, and a deadline AckWait after delivery (less a small
// margin) that Msg.InProgress extends. It is not cancelled by ctx.
func (b *Bus) Consume(ctx context.Context, c Consumer, h Handler) error {
	c = c.withDefaults()
	if c.Name == "" || c.Subject == "" || c.Stream == "" {
		return fmt.Errorf("%w: consumer needs a name, a subject and a stream (name %q, subject %q)", ErrConfig, c.Name, c.Subject)
	}
	stream := b.Name(c.Stream)
	log := zerolog.Ctx(ctx).With().Str(observe.FieldConsumer, c.Name).Str(observe.FieldStream, c.Stream).Logger()
	ctx = log.WithContext(ctx)

	cons, err := b.ensureConsumer(ctx, stream, c)
	if err != nil {
		return err
	}

	// The server gives up on a message whose handler never settles it (a
	// process that dies on every delivery) with an advisory; turn it into
	// a dead letter too. Every process of the consumer listens, the
	// dead letter's message id makes it one.
	advisory := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", stream, c.Name)
	bg := context.WithoutCancel(ctx)
	sub, err := b.nc.Subscribe(advisory, func(am *nats.Msg) { b.onMaxDeliveries(bg, c, am) })
	if err != nil {
		return fmt.Errorf("bus: subscribe to %s: %w", advisory, err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	log.Info().Str(observe.FieldSubject, c.Subject).Int("concurrency", c.Concurrency).Msg("bus: consuming")
	slots := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	failures := 0
	for {
		if ctx.Err() != nil {
			log.Info().Msg("bus: stopping; waiting for handlers in flight")
			return nil
		}
		// Take one free slot (waiting for it), then every other free one:
		// never fetch more messages than there are handlers to start
		// them, so no message waits in a buffer while its AckWait runs.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			log.Info().Msg("bus: stopping; waiting for handlers in flight")
			return nil
		}
		n := 1
	more:
		for n < c.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		release := func(k int) {
			for range k {
				<-slots
			}
		}

		// A pull request is never cut short on shutdown: the server would
		// still deliver into it, and nobody would hear those messages
		// until their AckWait ran out. It runs to its expiry (pollWait).
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(pollWait))
		if err == nil {
			started := 0
			for jm := range batch.Messages() {
				// Even when shutting down: a message that reaches the last
				// pull request is handled as part of the drain (there is
				// a free slot for it). Handing it back instead would bounce
				// it into the same open request and spend its deliveries.
				started++
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer release(1)
					b.handle(ctx, c, jm, h)
				}()
			}
			release(n - started)
			err = batch.Error()
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
				err = nil
			}
		} else {
			release(n)
		}
		if b.nc.IsClosed() {
			return fmt.Errorf("%w: consumer %s", ErrClosed, c.Name)
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		log.Warn().Err(err).Int("failures", failures).Msg("bus: fetch failed")
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, nats.ErrNoResponders) {
			if c2, err := b.ensureConsumer(ctx, stream, c); err == nil {
				cons = c2
			}
		}
		wait := time.NewTimer(min(time.Duration(failures)*250*time.Millisecond, 5*time.Second) + rand.N(100*time.Millisecond))
		select {
		case <-ctx.Done():
		case <-wait.C:
		}
		wait.Stop()
	}
}

func (b *Bus) ensureConsumer(ctx context.Context, stream string, c Consumer) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Name,
		Description:   "diffgate " + c.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver,
		FilterSubject: b.Subject(c.Subject),
		MaxAckPending: c.MaxAckPending,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
	var cons jetstream.Consumer
	err := retry(ctx, func() error {
		var err error
		cons, err = b.js.CreateOrUpdateConsumer(ctx, stream, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on stream %s: %w", c.Name, stream, err)
	}
	return cons, nil
}

// handle runs h on one delivery and settles it.
func (b *Bus) handle(ctx context.Context, c Consumer, jm jetstream.Msg, h Handler) {
	received := time.Now()
	m := &Msg{
		Subject: b.plainSubject(jm.Subject()),
		Data:    jm.Data(),
		Header:  jm.Headers(),
		jm:      jm,
	}
	if md, err := jm.Metadata(); err == nil {
		m.NumDelivered, m.StreamSeq = md.NumDelivered, md.Sequence.Stream
	}
	if m.Header == nil {
		m.Header = nats.Header{}
	}

	log := zerolog.Ctx(ctx).With().
		Str(observe.FieldSubject, m.Subject).
		Uint64(observe.FieldStreamSeq, m.StreamSeq).
		Uint64(observe.FieldDeliveries, m.NumDelivered).
		Logger()
	hctx := log.WithContext(context.WithoutCancel(ctx))
	pr, _ := strconv.Atoi(m.Header.Get(events.HeaderPR))
	hctx = observe.WithRunFields(hctx, m.Header.Get(events.HeaderRunID), m.Header.Get(events.HeaderRepo), pr)
	hctx = observe.WithDeliveryID(hctx, m.Header.Get(events.HeaderDeliveryID))
	log = *zerolog.Ctx(hctx)

	m.lease = newLease(hctx, c.AckWait, received)
	err := call(m.lease, h, m)
	took := time.Since(received)
	m.lease.release()

	outcome := b.settle(log.WithContext(context.WithoutCancel(ctx)), c, m, err)
	b.metrics.Observe(m.Subject, c.Name, m.NumDelivered, took, outcome)
}

// call runs the handler, turning a panic into an error.
func call(ctx context.Context, h Handler, m *Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msgf("bus: handler panicked: %v", r)
			err = fmt.Errorf("bus: handler panicked: %v", r)
		}
	}()
	return h(ctx, m)
}

// settle acks, naks or terminates the delivery according to the handler's
// result.
func (b *Bus) settle(ctx context.Context, c Consumer, m *Msg, herr error) observe.Outcome {
	log := zerolog.Ctx(ctx)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	var retry *Retry
	switch {
	case herr == nil:
		// DoubleAck waits for the server, so an ack lost in a reconnect
		// shows here rather than as a surprise redelivery.
		if err := m.jm.DoubleAck(sctx); err != nil {
			log.Warn().Err(err).Msg("bus: ack failed; the message will be redelivered")
		} else {
			log.Debug().Msg("bus: handled")
		}
		return observe.OutcomeOK

	case errors.As(herr, &retry):
		if err := m.jm.NakWithDelay(retry.After); err != nil {
			log.Warn().Err(err).Msg("bus: nak failed; the message will be redelivered after AckWait")
		}
		log.Debug().Dur("after", retry.After).Msg("bus: redelivery requested")
		return observe.OutcomeRetry

	case errors.Is(herr, ErrPoison):
		log.Error().Err(herr).Msg("bus: poison message; dead-lettering it")
		b.terminate(sctx, c, m, herr)
		return observe.OutcomeFailed

	case c.MaxDeliver > 0 && m.NumDelivered >= uint64(c.MaxDeliver):
		log.Error().Err(herr).Int("max_deliver", c.MaxDeliver).Msg("bus: handler failed on the last delivery; dead-lettering the message")
		b.terminate(sctx, c, m, herr)
		return observe.OutcomeFailed

	default:
		n := m.NumDelivered
		if c.MaxFailures > 0 {
			failures, err := b.countFailure(sctx, c, m)
			if err != nil {
				// Without the count, fall back to the delivery count: it
				// only overstates the failures.
				log.Warn().Err(err).Msg("bus: failure not counted")
				failures = m.NumDelivered
			}
			if failures >= uint64(c.MaxFailures) {
				log.Error().Err(herr).Int("max_failures", c.MaxFailures).Msg("bus: handler failed too often; dead-lettering the message")
				b.terminate(sctx, c, m, herr)
				return observe.OutcomeFailed
			}
			n = failures
		}
		d := c.backoff(n)
		log.Warn().Err(herr).Dur("retry_in", d).Msg("bus: handler failed; will retry")
		if err := m.jm.NakWithDelay(d); err != nil {
			log.Warn().Err(err).Msg("bus: nak failed; the message will be redelivered after AckWait")
		}
		return observe.OutcomeFailed
	}
}

// terminate publishes the dead letter, then terminates the message. If the
// dead letter cannot be published the message is not terminated, so that
// nothing is lost: it comes back after the backoff (or, past MaxDeliver,
// through the advisory).
func (b *Bus) terminate(ctx context.Context, c Consumer, m *Msg, herr error) {
	dl := deadLetter(c, m.Subject, m.StreamSeq, m.NumDelivered, m.Header, m.Data, herr.Error())
	if err := b.publishDeadLetter(ctx, dl, m.Header); err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Msg("bus: dead letter not published; keeping the message")
		_ = m.jm.NakWithDelay(c.backoff(m.NumDelivered))
		return
	}
	if err := m.jm.Term(); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("bus: term failed")
	}
}

// lease is the handler's context: done when the message's AckWait runs
// out, extended by InProgress. It is a Context of its own (rather than
// context.WithDeadline) because its deadline moves.
type lease struct {
	parent  context.Context
	ackWait time.Duration
	done    chan struct{}

	mu       sync.Mutex
	deadline time.Time
	timer    *time.Timer
	err      error
}

// leaseMargin is taken off AckWait so that a handler stops before the
// server redelivers its message to someone else.
func leaseMargin(ackWait time.Duration) time.Duration {
	return min(ackWait/10, time.Second)
}

func newLease(parent context.Context, ackWait time.Duration, start time.Time) *lease {
	l := &lease{parent: parent, ackWait: ackWait, done: make(chan struct{})}
	l.deadline = start.Add(ackWait - leaseMargin(ackWait))
	l.timer = time.AfterFunc(time.Until(l.deadline), l.expire)
	return l
}

func (l *lease) expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || time.Now().Before(l.deadline) {
		return // released, or extended while this timer fired
	}
	l.err = context.DeadlineExceeded
	close(l.done)
}

// extend pushes the deadline to AckWait from now; false if it had passed.
func (l *lease) extend() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false
	}
	l.deadline = time.Now().Add(l.ackWait - leaseMargin(l.ackWait))
	l.timer.Reset(time.Until(l.deadline))
	return true
}

// release ends the lease when the handler returns; what was started under
// it must stop.
func (l *lease) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer.Stop()
	if l.err == nil {
		l.err = context.Canceled
		close(l.done)
	}
}

func (l *lease) Deadline() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline, true
}

func (l *lease) Done() <-chan struct{} { return l.done }

func (l *lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *lease) Value(key any) any { return l.parent.Value(key) }

// countFailure adds one to the failed deliveries of m and returns the new
// count. The entry expires with the bucket's TTL; a message handled in the
// end leaves a stale count nobody reads again.
func (b *Bus) countFailure(ctx context.Context, c Consumer, m *Msg) (uint64, error) {
	kv, err := b.KV(ctx, events.BucketFailures)
	if err != nil {
		return 0, err
	}
	key := fmt.Sprintf("%s.%d", c.Name, m.StreamSeq)
	for range 10 {
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if _, err := kv.Create(ctx, key, []byte("1")); err == nil {
				return 1, nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return 0, err
			}
		case err != nil:
			return 0, err
		default:
			n, perr := strconv.ParseUint(string(e.Value()), 10, 64)
			if perr != nil {
				n = 0
			}
			if _, err := kv.Update(ctx, key, []byte(strconv.FormatUint(n+1, 10)), e.Revision()); err == nil {
				return n + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("bus: count failures of %s: too much contention", key)
}
