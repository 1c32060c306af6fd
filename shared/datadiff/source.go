package datadiff

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options.
const (
	DefaultMaxConcurrency = 4
	DefaultQueryTimeout   = 10 * time.Minute
)

// JoinStrategy chooses how the value pass joins the two sides.
type JoinStrategy int

const (
	// JoinAuto asks the dialect (Dialect.FullOuterJoin).
	JoinAuto JoinStrategy = iota
	// JoinFull runs one FULL OUTER JOIN.
	JoinFull
	// JoinLeftAnti runs a LEFT JOIN for values and an anti-join for the
	// rows only in the PR.
	JoinLeftAnti
)

// Options are a data source's limits.
type Options struct {
	// MaxConcurrency bounds the statements this Source runs at once
	// (the data source's max_concurrency). 0 means DefaultMaxConcurrency.
	MaxConcurrency int
	// QueryTimeout bounds each statement (the data source's
	// query_timeout), on the server where the database has a statement
	// timeout and in the client always. 0 means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// Join overrides the dialect's choice of join; tests use it to run
	// both plans on one database.
	Join JoinStrategy
	// OnClose runs when the Source is closed, after the pool is closed.
	OnClose func() error
}

// Source is a data source the engine diffs in: a connection pool, its
// dialect and its limits. It is safe for concurrent use; every Diff on it
// shares its concurrency bound.
type Source struct {
	db      *sql.DB
	dialect Dialect
	sem     chan struct{}
	timeout time.Duration
	join    JoinStrategy
	onClose func() error
}

// NewSource wraps a pool. The dialect packages' Open functions call it; the
// pool's own limits are raised to the concurrency bound so that a statement
// never waits for a connection while holding a slot.
func NewSource(db *sql.DB, d Dialect, o Options) *Source {
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	db.SetMaxOpenConns(o.MaxConcurrency)
	db.SetMaxIdleConns(o.MaxConcurrency)
	return &Source{
		db:      db,
		dialect: d,
		sem:     make(chan struct{}, o.MaxConcurrency),
		timeout: o.QueryTimeout,
		join:    o.Join,
		onClose: o.OnClose,
	}
}

// DB returns the pool, for callers that need to run their own statements
// (e.g. `diffgate check` pinging the warehouse).
func (s *Source) DB() *sql.DB { return s.db }

// Dialect returns the source's dialect.
func (s *Source) Dialect() Dialect { return s.dialect }

// MaxConcurrency returns the bound on concurrent statements.
func (s *Source) MaxConcurrency() int { return cap(s.sem) }

// Close closes the pool.
func (s *Source) Close() error {
	err := s.db.Close()
	if s.onClose != nil {
		err = errors.Join(err, s.onClose())
	}
	return err
}

// Ping checks that the data source answers.
func (s *Source) Ping(ctx context.Context) error {
	return s.run(ctx, nil, statement{label: "ping", sql: "SELECT 1", scan: func(r *sql.Rows) error {
		for r.Next() {
		}
		return nil
	}})
}

// statement is one SQL statement of a diff and how to read its rows.
type statement struct {
	label string // for logs
	sql   string
	// side and relation name what the statement reads, for errors.
	side, relation string
	// what wraps a classified-as-unknown failure; nil leaves it internal.
	what error
	// probe replaces the query: Dialect.Columns, which reads no row.
	probe func(ctx context.Context, conn *sql.Conn) error
	scan  func(*sql.Rows) error
}

// recorder keeps the statements of one diff in the order they started.
type recorder struct {
	mu      sync.Mutex
	queries []string
}

func (r *recorder) add(q string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.queries = append(r.queries, q)
	r.mu.Unlock()
}

// run executes one statement: it waits for a slot, opens a read-only
// transaction with the statement timeout on a connection of its own, runs
// the statement and ends the transaction. When ctx ends, the statement is
// cancelled on the server (by the driver, or by the dialect's
// Interrupter).
func (s *Source) run(ctx context.Context, rec *recorder, st statement) (err error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return s.wrap(ctx, nil, st, ctx.Err())
	}
	defer func() { <-s.sem }()

	// The client-side deadline is a backstop for the server's statement
	// timeout (and the only timeout on databases without one).
	stmtCtx, cancel := context.WithTimeoutCause(ctx, s.timeout+time.Second, ErrTimeout)
	defer cancel()

	start := time.Now()
	conn, err := s.db.Conn(stmtCtx)
	if err != nil {
		return s.wrap(ctx, stmtCtx, st, err)
	}
	defer conn.Close()

	for _, b := range s.dialect.Begin(s.timeout) {
		if _, err := conn.ExecContext(stmtCtx, b); err != nil {
			discard(conn)
			return s.wrap(ctx, stmtCtx, st, fmt.Errorf("start read-only transaction: %w", err))
		}
	}
	done := false
	defer func() {
		if done {
			return
		}
		// The statement failed or was cancelled: end the transaction with
		// a context of its own, and drop the connection if even that fails.
		rbCtx, rbCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rbCancel()
		if _, rbErr := conn.ExecContext(rbCtx, "ROLLBACK"); rbErr != nil {
			discard(conn)
		}
	}()

	if st.probe != nil {
		rec.add("/* columns only: no row is read */ " + st.sql)
		if err := st.probe(stmtCtx, conn); err != nil {
			return s.wrap(ctx, stmtCtx, st, err)
		}
	} else {
		if g, ok := s.dialect.(StatementGuard); ok {
			if err := g.CheckSingle(stmtCtx, conn, st.sql); err != nil {
				return s.wrap(ctx, stmtCtx, st, err)
			}
		}
		if in, ok := s.dialect.(Interrupter); ok {
			kill, err := in.Interrupt(stmtCtx, conn)
			if err != nil {
				return s.wrap(ctx, stmtCtx, st, err)
			}
			stop := context.AfterFunc(stmtCtx, kill)
			defer stop()
		}
		rec.add(st.sql)
		rows, err := conn.QueryContext(stmtCtx, st.sql)
		if err != nil {
			return s.wrap(ctx, stmtCtx, st, err)
		}
		err = st.scan(rows)
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return s.wrap(ctx, stmtCtx, st, err)
		}
	}
	if _, err := conn.ExecContext(stmtCtx, "COMMIT"); err != nil {
		return s.wrap(ctx, stmtCtx, st, err)
	}
	done = true
	zerolog.Ctx(ctx).Debug().Str("statement", st.label).Dur("took", time.Since(start)).Msg("datadiff statement")
	return nil
}

// discard makes database/sql close conn instead of reusing it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// wrap turns a statement's failure into an *Error with a sentinel kind.
func (s *Source) wrap(ctx, stmtCtx context.Context, st statement, err error) error {
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	e := &Error{Side: st.side, Relation: st.relation, Err: err}
	switch {
	case ctx.Err() != nil:
		e.Kind, e.Msg, e.Err = ErrCancelled, "the diff was cancelled", nil
		return e
	case stmtCtx != nil && errors.Is(context.Cause(stmtCtx), ErrTimeout):
		e.Kind = ErrTimeout
	default:
		e.Kind = classify(s.dialect, err)
	}
	if e.Kind == ErrCancelled && ctx.Err() == nil {
		// Cancelled on the server by someone else (e.g. an operator).
		e.Msg = "a statement was cancelled on the server"
		return e
	}
	switch e.Kind {
	case ErrRelationMissing:
		e.Msg = "relation missing"
	case ErrPermissionDenied:
		e.Msg = "permission denied"
	case ErrTimeout:
		e.Msg = fmt.Sprintf("a statement ran longer than the query timeout of %s", s.timeout)
		e.Err = nil
	case ErrBadFilter:
		e.Msg = "the filter tried to do more than read"
	case ErrUnavailable:
		// Not the filter's or the query's fault, whatever statement it
		// broke.
		e.Msg = "the warehouse is unavailable"
	case nil:
		if st.what != nil {
			e.Kind = st.what
			switch st.what {
			case ErrBadFilter:
				e.Msg = "the filter does not compile"
			case ErrBadQuery:
				e.Msg = "the query does not compile"
			default:
				e.Msg = "statement failed"
			}
		} else {
			return fmt.Errorf("datadiff: %s: %w", st.label, err)
		}
	default:
		e.Msg = "statement failed"
	}
	if e.Side != "" {
		e.Msg += " on the " + e.Side + " side"
	}
	if e.Relation != "" {
		e.Msg += " (" + e.Relation + ")"
	}
	e.Hint = Hint(e)
	return e
}

// sideName returns how errors name a side.
func sideName(prod bool) string {
	if prod {
		return "production"
	}
	return "PR"
}
