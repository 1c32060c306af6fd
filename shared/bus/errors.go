package bus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrPoison marks a message that can never be handled (undecodable, an
// unknown version, a contract violation). The runner terminates it and
// publishes a dead letter at once instead of retrying.
var ErrPoison = errors.New("poison message")

// ErrAckDeadline is returned by Msg.InProgress when the handler's deadline
// had already passed: the message's AckWait ran out without InProgress, so
// the server is about to redeliver it. It wraps context.DeadlineExceeded,
// which is also what the handler's context then reports.
var ErrAckDeadline = fmt.Errorf("bus: ack deadline passed: %w", context.DeadlineExceeded)

// Poison wraps err as poison (errors.Is(err, ErrPoison) holds).
func Poison(err error) error {
	if err == nil {
		return ErrPoison
	}
	return &poisonError{err}
}

type poisonError struct{ err error }

func (e *poisonError) Error() string   { return "poison: " + e.err.Error() }
func (e *poisonError) Unwrap() []error { return []error{ErrPoison, e.err} }

// Retry asks the runner to redeliver the message after After, without
// counting it as a failure (a durable wait, e.g. for a CI run to finish).
// Each retry still uses one delivery, so a consumer that waits this way
// sets MaxDeliver to -1.
type Retry struct {
	After time.Duration
}

func (r *Retry) Error() string { return fmt.Sprintf("retry after %s", r.After) }

// RetryAfter returns a *Retry.
func RetryAfter(d time.Duration) error { return &Retry{After: d} }
