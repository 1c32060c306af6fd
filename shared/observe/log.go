// Package observe gives every long-running diffgate component the same
// logs, metrics and health endpoints: zerolog JSON lines that carry the
// run and delivery they belong to, Prometheus metrics on an injected
// registry, and /healthz, /readyz and /metrics handlers.
package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/events"
)

// Log field names. Every component uses these so that the lines of one
// run, across apps and workers, can be found with one query.
const (
	FieldRunID      = "run_id"
	FieldDeliveryID = "delivery_id"
	FieldRepo       = "repo"
	FieldPR         = "pr"
	FieldSubject    = "subject"
	FieldConsumer   = "consumer"
	FieldStream     = "stream"
	FieldStreamSeq  = "stream_seq"
	FieldDeliveries = "deliveries"
	FieldComponent  = "component"
	// FieldProcess names the process (diffgate, diffgate-github, ...); a
	// line of one of its components also names the component.
	FieldProcess = "process"
)

// ErrLogLevel is returned by NewLogger for a level zerolog does not know.
var ErrLogLevel = errors.New("unknown log level")

// NewLogger returns a JSON logger writing to w at the given level
// (trace, debug, info, warn, error; empty means info). Every line carries
// a UTC timestamp with millisecond precision.
func NewLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl := zerolog.InfoLevel
	if s := strings.TrimSpace(strings.ToLower(level)); s != "" {
		var err error
		lvl, err = zerolog.ParseLevel(s)
		if err != nil || lvl == zerolog.NoLevel {
			return zerolog.Nop(), fmt.Errorf("%w %q: use trace, debug, info, warn or error", ErrLogLevel, level)
		}
	}
	return zerolog.New(w).Level(lvl).Hook(timeHook{}), nil
}

// TimeFormat is the format of the "time" field: RFC 3339 in UTC with
// milliseconds, so that lines from several machines sort together.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// timeHook stamps each line. A hook rather than zerolog's Timestamp()
// because that one's format is a package global we should not change.
type timeHook struct{}

func (timeHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, time.Now().UTC().Format(TimeFormat))
}

type ctxKey int

const (
	keyDeliveryID ctxKey = iota
	keyRun
)

// WithRun returns a context whose logger carries the run's id, repository
// and PR number. A field the context carries already with the same value
// (the bus puts the run a message's headers name on its handler's
// context) is not added again: the same field twice makes a JSON line
// ambiguous.
func WithRun(ctx context.Context, run events.Run) context.Context {
	return WithRunFields(ctx, run.ID(), run.Repository, run.PR)
}

// runFields are the run fields a context's logger carries.
type runFields struct {
	id, repo string
	pr       int
}

// WithRunFields is WithRun for a run known by its fields alone, such as
// the Diffgate-* headers of a message; empty fields are left out.
func WithRunFields(ctx context.Context, runID, repo string, pr int) context.Context {
	have, _ := ctx.Value(keyRun).(runFields)
	c := zerolog.Ctx(ctx).With()
	added := false
	if runID != "" && runID != have.id {
		c, have.id, added = c.Str(FieldRunID, runID), runID, true
	}
	if repo != "" && repo != have.repo {
		c, have.repo, added = c.Str(FieldRepo, repo), repo, true
	}
	if pr > 0 && pr != have.pr {
		c, have.pr, added = c.Int(FieldPR, pr), pr, true
	}
	if !added {
		return ctx
	}
	l := c.Logger()
	return context.WithValue(l.WithContext(ctx), keyRun, have)
}

// WithDeliveryID returns a context whose logger carries the webhook
// delivery id, and which remembers it so that messages published under
// this context carry it on to the next stage (see DeliveryID). A context
// that carries that id already is returned as it is.
func WithDeliveryID(ctx context.Context, id string) context.Context {
	if id == "" || DeliveryID(ctx) == id {
		return ctx
	}
	l := zerolog.Ctx(ctx).With().Str(FieldDeliveryID, id).Logger()
	return context.WithValue(l.WithContext(ctx), keyDeliveryID, id)
}

// DeliveryID is the delivery id set by WithDeliveryID, or "".
func DeliveryID(ctx context.Context) string {
	id, _ := ctx.Value(keyDeliveryID).(string)
	return id
}
