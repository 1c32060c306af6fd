package datadiff

import (
	"context"
	"database/sql"
	"time"
)

// Dialect is what the engine needs to know about one SQL database. The
// engine writes portable SQL (CASE, count, sum, LEFT/FULL JOIN, NOT
// EXISTS, LIMIT) and asks the dialect for everything else. A new
// warehouse implements these methods; StatementGuard and Interrupter are
// optional.
type Dialect interface {
	// Name is the data source type, e.g. "postgres".
	Name() string

	// QuoteIdent quotes one identifier part so that it means exactly the
	// given name.
	QuoteIdent(name string) string
	// QuoteString renders a string literal.
	QuoteString(s string) string
	// Relation renders a relation name: parts not marked quoted are
	// folded the way the database folds unquoted names, then every part
	// is quoted.
	Relation(r Relation) (string, error)
	// SameName reports whether two column names denote the same column.
	SameName(a, b string) bool
	// Lexical describes how the database tokenises SQL, for the check
	// that a filter is one condition.
	Lexical() Lexical
	// FullOuterJoin reports whether the value pass should be one FULL
	// OUTER JOIN. When false the engine runs a LEFT JOIN for values and
	// an anti-join for the rows only in the PR (MySQL has no FULL JOIN;
	// PostgreSQL before 16 cannot run a FULL JOIN in parallel).
	FullOuterJoin() bool

	// Begin returns the statements that open a read-only transaction
	// whose statements time out after timeout (0: no timeout) and see
	// timestamps in UTC. The engine ends it with COMMIT or ROLLBACK.
	Begin(timeout time.Duration) []string
	// Columns returns the columns query (a SELECT) returns, reading no
	// row; it should fail as the query would (a missing relation, no
	// privilege, a bad filter). rel is the relation the query reads when
	// the side is a relation, nil for a query side.
	Columns(ctx context.Context, conn *sql.Conn, query string, rel *Relation) ([]Column, error)
	// Classify maps a database error to one of the sentinel errors
	// (ErrRelationMissing, ErrPermissionDenied, ErrTimeout, ErrCancelled,
	// ErrBadFilter for writes refused by the read-only transaction,
	// ErrUnavailable for the server's and the driver's ways of saying it
	// cannot serve just then) or nil when none applies. Network errors
	// below the driver need no classifying: the engine takes them as
	// ErrUnavailable.
	Classify(err error) error

	// Kind classifies a column type as Columns reports it.
	Kind(typ string) Kind
	// Comparable returns the expression to compare for a value of type
	// typ, so that equal values compare equal (e.g. json as jsonb,
	// strings byte-wise rather than by a case-insensitive collation).
	Comparable(expr, typ string) string
	// Distinct returns a condition that is true when x and y differ,
	// treating two NULLs as equal and NULL and a value as different.
	Distinct(x, y string) string
	// Text renders a value of type typ as text, for samples and for
	// comparing values whose types differ.
	Text(expr, typ string) string
	// Integer renders a boolean as 0 or 1.
	Integer(expr string) string
	// TimeTravel renders a relation as of a point in time, or returns
	// ErrUnsupported.
	TimeTravel(from, at string) (string, error)
}

// StatementGuard is implemented by dialects whose driver would run several
// statements passed in one string. CheckSingle returns ErrBadFilter when
// stmt is not exactly one read-only SELECT.
type StatementGuard interface {
	CheckSingle(ctx context.Context, conn *sql.Conn, stmt string) error
}

// Interrupter is implemented by dialects whose driver does not stop a
// running statement on the server when its context ends. Interrupt is
// called on conn before a statement runs and returns a function that stops
// that statement on the server from another connection.
type Interrupter interface {
	Interrupt(ctx context.Context, conn *sql.Conn) (func(), error)
}

// Lexical describes a dialect's tokens for the filter check.
type Lexical struct {
	// BackslashEscapes: a backslash escapes the next character inside
	// quoted strings (MySQL).
	BackslashEscapes bool
	// DoubleQuoteStrings: "..." is a string literal, not an identifier
	// (MySQL); either way its content is skipped.
	DoubleQuoteStrings bool
	// Backticks: `...` quotes identifiers (MySQL).
	Backticks bool
	// HashComments: # starts a comment to the end of the line (MySQL).
	HashComments bool
	// DashCommentNeedsSpace: -- starts a comment only when followed by
	// white space (MySQL).
	DashCommentNeedsSpace bool
	// DollarQuotes: $tag$...$tag$ strings (PostgreSQL).
	DollarQuotes bool
	// EscapeStrings: E'...' strings with backslash escapes (PostgreSQL).
	EscapeStrings bool
}

// Kind is a family of column types that compare with each other.
type Kind int

// Kinds of column types.
const (
	KindOther Kind = iota
	KindInteger
	KindDecimal
	KindFloat // double precision
	KindReal  // single precision
	KindText
	KindBoolean
	KindDate
	KindTimestamp   // without time zone
	KindTimestampTZ // with time zone
	KindTime
	KindJSON
	KindUUID
	KindBinary
)

func (k Kind) String() string {
	switch k {
	case KindInteger:
		return "integer"
	case KindDecimal:
		return "decimal"
	case KindFloat:
		return "float"
	case KindReal:
		return "real"
	case KindText:
		return "text"
	case KindBoolean:
		return "boolean"
	case KindDate:
		return "date"
	case KindTimestamp:
		return "timestamp"
	case KindTimestampTZ:
		return "timestamptz"
	case KindTime:
		return "time"
	case KindJSON:
		return "json"
	case KindUUID:
		return "uuid"
	case KindBinary:
		return "binary"
	}
	return "other"
}

func (k Kind) numeric() bool {
	return k == KindInteger || k == KindDecimal || k == KindFloat || k == KindReal
}

func (k Kind) float() bool { return k == KindFloat || k == KindReal }

func (k Kind) temporal() bool {
	return k == KindDate || k == KindTimestamp || k == KindTimestampTZ
}
