package datadiff

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// Sentinel errors. Every error Diff returns for a reason a person can act
// on matches one of them with errors.Is; errors.As with *Error gives the
// side and relation involved and a hint.
var (
	// ErrRelationMissing: a relation named by a query side does not exist,
	// or both relations are missing. (A missing PR relation alone is the
	// result StatusNotBuilt, a missing production relation StatusNew.)
	ErrRelationMissing = errors.New("relation does not exist")
	// ErrPermissionDenied: the data source's user may not read a relation.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrTimeout: a statement ran longer than the data source's
	// query_timeout.
	ErrTimeout = errors.New("query timed out")
	// ErrBadFilter: the filter is not a single SQL condition, does not
	// compile on one side, or tried to do something other than read.
	ErrBadFilter = errors.New("bad filter")
	// ErrBadQuery: a side given as a SQL query failed to compile or run.
	ErrBadQuery = errors.New("bad query")
	// ErrBadSpec: the diff cannot be set up as asked, e.g. a key column
	// is missing or a tolerance does not parse.
	ErrBadSpec = errors.New("bad diff settings")
	// ErrUnsupported: the data source cannot do what was asked (e.g. time
	// travel on PostgreSQL).
	ErrUnsupported = errors.New("not supported by this data source")
	// ErrCancelled: the context was cancelled (e.g. the run was
	// superseded); the statements running were cancelled on the server.
	ErrCancelled = errors.New("diff cancelled")
	// ErrUnavailable: the warehouse could not be reached, dropped the
	// connection, or could not serve just then (shutting down, starting
	// up, out of connections, a deadlock victim). Worth trying again
	// later; nothing about the diff is wrong.
	ErrUnavailable = errors.New("warehouse unavailable")
)

// classify maps a database or driver error to a sentinel error: the
// dialect's verdict on its own codes, else ErrUnavailable when the network
// or the server went away below the SQL layer, else nil.
func classify(d Dialect, err error) error {
	if kind := d.Classify(err); kind != nil {
		return kind
	}
	if unreachable(err) {
		return ErrUnavailable
	}
	return nil
}

// ConnectError is how a dialect's Open reports a failed first connection:
// when trying again later may succeed (the warehouse cannot be reached,
// is starting up, has no connection free) the error matches
// ErrUnavailable too; when a person must act (a refused login, a database
// that does not exist) it is returned as it is.
func ConnectError(d Dialect, err error) error {
	if classify(d, err) == ErrUnavailable {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err is the network or the server going
// away rather than anything the statement did.
func unreachable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

// Error is a failure of one diff, with what a person needs to fix it.
type Error struct {
	// Kind is one of the sentinel errors above.
	Kind error
	// Side is "production", "PR" or empty when both or neither.
	Side string
	// Relation is the relation or "query" the error is about, as the user
	// named it; empty when not about one.
	Relation string
	// Msg says what happened, in words for people.
	Msg string
	// Hint says what to do, when there is something to say.
	Hint string
	// Err is the underlying database or driver error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap exposes both the sentinel kind and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Codes returned by Code, the same words as events.Error codes.
const (
	CodeRelationMissing  = "relation_missing"
	CodePermissionDenied = "permission_denied"
	CodeTimeout          = "timeout"
	CodeBadFilter        = "bad_filter"
	CodeBadQuery         = "bad_query"
	CodeBadSpec          = "bad_spec"
	CodeUnsupported      = "unsupported"
	CodeCancelled        = "cancelled"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Code maps an error returned by Diff to a short stable code for machines
// (the differ worker's events.Error.Code).
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrCancelled):
		return CodeCancelled
	case errors.Is(err, ErrRelationMissing):
		return CodeRelationMissing
	case errors.Is(err, ErrPermissionDenied):
		return CodePermissionDenied
	case errors.Is(err, ErrTimeout):
		return CodeTimeout
	case errors.Is(err, ErrBadFilter):
		return CodeBadFilter
	case errors.Is(err, ErrBadQuery):
		return CodeBadQuery
	case errors.Is(err, ErrBadSpec):
		return CodeBadSpec
	case errors.Is(err, ErrUnsupported):
		return CodeUnsupported
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable
	default:
		return CodeInternal
	}
}

// Hint returns the hint of an *Error in err's chain, or a generic hint for
// the error's kind.
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Hint != "" {
		return e.Hint
	}
	switch Code(err) {
	case CodeRelationMissing:
		return "check that the relation was built and that the data source points at the right database"
	case CodePermissionDenied:
		return "grant the data source's user SELECT on the relation (and USAGE on its schema)"
	case CodeTimeout:
		return "raise the data source's query_timeout, or narrow the diff with a filter"
	case CodeBadFilter:
		return "fix the model's diff filter: it must be one SQL condition over columns both relations have"
	case CodeUnavailable:
		return "check that the warehouse is up and reachable; the same diff may succeed later"
	}
	return ""
}
