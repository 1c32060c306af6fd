package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// ErrNoMsgID is returned by Publish for a message without a message id:
// without one a redelivered webhook or a replayed stage would publish
// twice.
var ErrNoMsgID = errors.New("bus: message has no message id")

// ErrBadSubject is returned by Publish for a subject with an empty token
// (e.g. a provider or data source name that was not set).
var ErrBadSubject = errors.New("bus: invalid subject")

func validSubject(s string) bool {
	if s == "" {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n*>") {
			return false
		}
	}
	return true
}

// PubResult is what the server acknowledged.
type PubResult struct {
	Stream string // server name of the stream that stored the message
	Seq    uint64
	// Duplicate is true when a message with the same Nats-Msg-Id was
	// already stored within the stream's duplicate window; nothing new
	// was stored.
	Duplicate bool
}

// PubOption changes one publish.
type PubOption func(*nats.Msg)

// WithHeader sets a header on the published message (after the standard
// ones, so it can override them).
func WithHeader(k, v string) PubOption {
	return func(m *nats.Msg) { m.Header.Set(k, v) }
}

// DetachedPublishTimeout bounds a publish made under Detach.
const DetachedPublishTimeout = 10 * time.Second

// Detach returns a context for storing what a webhook delivered: it keeps
// ctx's values (the logger, the delivery id) but not its cancellation, so
// a sender that hangs up mid-request still gets its event stored. GitHub
// and GitLab do not send a failed delivery again by themselves.
func Detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), DetachedPublishTimeout)
}

// Publish stores m in its stream and waits for the server's
// acknowledgement. The message is JSON; Nats-Msg-Id is m.MsgID(); the
// Diffgate-* headers carry the run (when m has one) and the delivery id
// (from ctx, see observe.WithDeliveryID, else from m) so that the logs of
// every stage join.
func (b *Bus) Publish(ctx context.Context, m events.Message, opts ...PubOption) (PubResult, error) {
	subject, id := m.Subject(), m.MsgID()
	if !validSubject(subject) {
		return PubResult{}, fmt.Errorf("%w: %q (%T)", ErrBadSubject, subject, m)
	}
	// Every message id is prefix:value; a bare prefix means the value
	// (a delivery id, an event id) was missing.
	if id == "" || strings.HasSuffix(id, ":") {
		return PubResult{}, fmt.Errorf("%w: %T on %s has message id %q", ErrNoMsgID, m, subject, id)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return PubResult{}, fmt.Errorf("bus: encode %T: %w", m, err)
	}
	msg := nats.NewMsg(b.Subject(subject))
	msg.Data = data
	msg.Header.Set(events.HeaderMsgID, id)
	msg.Header.Set(events.HeaderVersion, strconv.Itoa(events.Version))
	run, delivery := correlation(m)
	if run != nil {
		if s, ok := m.(interface{ RunSettled() bool }); !ok || s.RunSettled() {
			msg.Header.Set(events.HeaderRunID, run.ID())
		}
		msg.Header.Set(events.HeaderRepo, run.Repository)
		msg.Header.Set(events.HeaderPR, strconv.Itoa(run.PR))
	}
	if d := observe.DeliveryID(ctx); d != "" {
		delivery = d
	}
	if delivery != "" {
		msg.Header.Set(events.HeaderDeliveryID, delivery)
	}
	for _, o := range opts {
		o(msg)
	}

	ack, err := b.js.PublishMsg(ctx, msg)
	if err != nil {
		return PubResult{}, fmt.Errorf("bus: publish %s (msg id %s): %w", subject, id, err)
	}
	if ack.Duplicate {
		zerolog.Ctx(ctx).Debug().Str(observe.FieldSubject, subject).Str("msg_id", id).
			Uint64(observe.FieldStreamSeq, ack.Sequence).Msg("bus: duplicate publish ignored by the server")
	}
	return PubResult{Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

var (
	runType = reflect.TypeFor[events.Run]()
)

// correlation finds the Run field and the DeliveryID field of a message
// struct, if it has them. Every pipeline message carries its run in a
// field named Run; reflection keeps this in step with new message types.
func correlation(m events.Message) (*events.Run, string) {
	v := reflect.ValueOf(m)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, ""
	}
	var run *events.Run
	if f := v.FieldByName("Run"); f.IsValid() && f.Type() == runType {
		r := f.Interface().(events.Run)
		run = &r
	}
	var delivery string
	if f := v.FieldByName("DeliveryID"); f.IsValid() && f.Kind() == reflect.String {
		delivery = f.String()
	}
	return run, delivery
}
