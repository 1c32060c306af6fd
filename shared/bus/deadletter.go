package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// deadLetter builds the dead letter of a message. The original body is
// kept as JSON when it is JSON and byte for byte otherwise.
func deadLetter(c Consumer, subject string, seq, deliveries uint64, h nats.Header, data []byte, reason string) events.DeadLetter {
	dl := events.DeadLetter{
		Version:     events.Version,
		Stream:      c.Stream,
		Consumer:    c.Name,
		OrigSubject: subject,
		StreamSeq:   seq,
		Deliveries:  deliveries,
		Error:       reason,
		At:          time.Now().UTC(),
	}
	if len(h) > 0 {
		dl.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if len(v) > 0 {
				dl.Headers[k] = v[0]
			}
		}
	}
	if json.Valid(data) {
		dl.Data = json.RawMessage(data)
	} else {
		dl.Raw = data
	}
	return dl
}

// publishDeadLetter publishes dl with the original message's correlation
// headers, so the reporter can end the run it belongs to.
func (b *Bus) publishDeadLetter(ctx context.Context, dl events.DeadLetter, orig nats.Header) error {
	var opts []PubOption
	for _, k := range []string{events.HeaderRunID, events.HeaderRepo, events.HeaderPR, events.HeaderDeliveryID} {
		if v := orig.Get(k); v != "" {
			opts = append(opts, WithHeader(k, v))
		}
	}
	res, err := b.Publish(ctx, dl, opts...)
	if err != nil {
		return err
	}
	if !res.Duplicate {
		zerolog.Ctx(ctx).Info().Str("dead_letter", dl.Subject()).Uint64("dead_letter_seq", res.Seq).Msg("bus: dead letter published")
	}
	return nil
}

// maxDeliveriesAdvisory is the part of the server's
// io.nats.jetstream.advisory.v1.max_deliver advisory that we read.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// onMaxDeliveries turns the server's "gave up on this message" advisory
// into a dead letter, reading the message back from the stream.
func (b *Bus) onMaxDeliveries(ctx context.Context, c Consumer, am *nats.Msg) {
	log := zerolog.Ctx(ctx)
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(am.Data, &adv); err != nil || adv.StreamSeq == 0 {
		log.Warn().Err(err).Msg("bus: unreadable max deliveries advisory")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := b.js.Stream(ctx, adv.Stream)
	if err != nil {
		log.Error().Err(err).Uint64(observe.FieldStreamSeq, adv.StreamSeq).Msg("bus: max deliveries: stream unavailable; no dead letter")
		return
	}
	raw, err := st.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		log.Error().Err(err).Uint64(observe.FieldStreamSeq, adv.StreamSeq).Msg("bus: max deliveries: message unavailable; no dead letter")
		return
	}
	reason := fmt.Sprintf("no handler finished in %d deliveries (the process stopped or the ack deadline passed each time)", adv.Deliveries)
	dl := deadLetter(c, b.plainSubject(raw.Subject), adv.StreamSeq, adv.Deliveries, raw.Header, raw.Data, reason)
	log.Error().Str(observe.FieldSubject, dl.OrigSubject).Uint64(observe.FieldStreamSeq, adv.StreamSeq).
		Uint64(observe.FieldDeliveries, adv.Deliveries).Msg("bus: message exhausted its deliveries; dead-lettering it")
	if err := b.publishDeadLetter(ctx, dl, raw.Header); err != nil {
		log.Error().Err(err).Uint64(observe.FieldStreamSeq, adv.StreamSeq).Msg("bus: dead letter not published")
	}
}
