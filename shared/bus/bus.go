// Package bus is diffgate's access to NATS JetStream: the connection, the
// streams, KV buckets and object store declared as code, a publisher that
// waits for the PubAck and reports duplicates, a consumer runner with
// explicit acks, backoff, dead letters and graceful drain, and an embedded
// server for single-process installs and tests.
//
// It uses the jetstream package of nats.go and works with nats-server
// 2.9.0 and later (see docs/nats.md).
package bus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/observe"
)

// Sentinel errors.
var (
	// ErrConfig is wrapped by errors about the connection options.
	ErrConfig = errors.New("bus: invalid options")
	// ErrNotConnected is returned by Ready while the connection is down.
	ErrNotConnected = errors.New("bus: not connected to NATS")
	// ErrStreamMissing is returned by Ready when a stream of the topology
	// is not on the server.
	ErrStreamMissing = errors.New("bus: stream missing")
	// ErrClosed is returned by Consume when the connection was closed
	// under it.
	ErrClosed = errors.New("bus: connection closed")
)

// TLSOptions are the files for a TLS connection; all optional. With only
// CAFile the server is verified against it; CertFile and KeyFile add a
// client certificate (both or neither).
type TLSOptions struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Options say how to reach NATS.
type Options struct {
	// URL is nats://host:4222, or a comma-separated list of servers.
	URL string
	// CredsFile is a NATS credentials file (JWT and seed), optional.
	CredsFile string
	TLS       TLSOptions
	// Name is the connection name shown by the server (e.g. "diffgate-ciwait").
	Name string

	// Metrics, when set, is updated by Consume.
	Metrics *observe.Metrics

	// Namespace isolates tests that share a server: it prefixes stream,
	// bucket and object store names (NS_NAME) and subjects (NS.subject)
	// on the server, while code keeps using the plain names. Production
	// leaves it empty. Letters, digits, '-' and '_' only.
	Namespace string
}

// Bus is a connection to NATS JetStream. It is safe for concurrent use.
type Bus struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	ns      string
	metrics *observe.Metrics
	closed  chan struct{}

	mu      sync.Mutex
	streams []string // server names of the streams Ensure declared
}

var nsPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Connect connects to NATS. The first connection attempt must succeed
// within ctx (so that a wrong URL or bad credentials fail at start-up,
// naming the server); after that the connection is re-established forever
// with backoff and jitter, and each change of state is logged with the
// logger of ctx.
func Connect(ctx context.Context, opts Options) (*Bus, error) {
	if strings.TrimSpace(opts.URL) == "" {
		return nil, fmt.Errorf("%w: no NATS URL", ErrConfig)
	}
	if opts.Namespace != "" && !nsPattern.MatchString(opts.Namespace) {
		return nil, fmt.Errorf("%w: namespace %q: use letters, digits, '-' and '_'", ErrConfig, opts.Namespace)
	}
	where := RedactURL(opts.URL)
	log := zerolog.Ctx(ctx).With().Str("nats", where).Logger()
	closed := make(chan struct{})

	nopts := []nats.Option{
		nats.Name(opts.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.PingInterval(20 * time.Second),
		nats.DrainTimeout(10 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() || nc.IsDraining() {
				return // our own Close; the closed handler says so
			}
			log.Warn().Err(err).Msg("nats: disconnected; reconnecting")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("server", RedactURL(nc.ConnectedUrl())).Msg("nats: reconnected")
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			log.Info().Msg("nats: connection closed")
			close(closed)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Warn().Err(err)
			if sub != nil {
				ev = ev.Str("sub", sub.Subject)
			}
			ev.Msg("nats: asynchronous error")
		}),
	}
	if d, ok := ctx.Deadline(); ok {
		nopts = append(nopts, nats.Timeout(max(time.Until(d), 100*time.Millisecond)))
	}
	if opts.CredsFile != "" {
		if _, err := os.Stat(opts.CredsFile); err != nil {
			return nil, fmt.Errorf("%w: credentials file: %w", ErrConfig, err)
		}
		nopts = append(nopts, nats.UserCredentials(opts.CredsFile))
	}
	if opts.TLS.CAFile != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLS.CAFile))
	}
	if (opts.TLS.CertFile == "") != (opts.TLS.KeyFile == "") {
		return nil, fmt.Errorf("%w: TLS client certificate needs both a certificate file and a key file", ErrConfig)
	}
	if opts.TLS.CertFile != "" {
		nopts = append(nopts, nats.ClientCert(opts.TLS.CertFile, opts.TLS.KeyFile))
	}

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(opts.URL, nopts...)
		done <- result{nc, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("bus: connect to %s: %w", where, ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("bus: connect to %s: %w", where, r.err)
	}
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.nc.Close()
		return nil, fmt.Errorf("bus: jetstream on %s: %w", where, err)
	}
	log.Info().Str("server", RedactURL(r.nc.ConnectedUrl())).Str("version", r.nc.ConnectedServerVersion()).Msg("nats: connected")
	return &Bus{nc: r.nc, js: js, ns: opts.Namespace, metrics: opts.Metrics, closed: closed}, nil
}

// reconnectDelay doubles from 250ms to 8s, plus up to 25% jitter so that a
// fleet of workers does not reconnect in lockstep after a server restart.
func reconnectDelay(attempts int) time.Duration {
	d := 8 * time.Second
	if attempts < 5 {
		d = 250 * time.Millisecond << attempts
	}
	return d + rand.N(d/4+1)
}

// RedactURL hides user names, passwords and tokens in a (comma-separated
// list of) NATS URL(s), so that it can be logged.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			if strings.Contains(p, "@") {
				p = "redacted@" + p[strings.LastIndex(p, "@")+1:]
			}
			parts[i] = p
			continue
		}
		if u.User != nil {
			u.User = url.User("redacted")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// Conn is the underlying NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the JetStream context of the connection. Names passed to
// it directly are not namespaced; use Name and Subject for that.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Namespace is the namespace of Options (empty in production).
func (b *Bus) Namespace() string { return b.ns }

// Name is the server name of a stream, KV bucket or object store.
func (b *Bus) Name(name string) string {
	if b.ns == "" {
		return name
	}
	return b.ns + "_" + name
}

// Subject is the server subject of a subject.
func (b *Bus) Subject(subject string) string {
	if b.ns == "" {
		return subject
	}
	return b.ns + "." + subject
}

// plainSubject undoes Subject.
func (b *Bus) plainSubject(subject string) string {
	if b.ns == "" {
		return subject
	}
	return strings.TrimPrefix(subject, b.ns+".")
}

// Ready reports whether the connection is up and every stream that Ensure
// declared (the default topology's if Ensure was not called) exists. It is
// the "nats" check of /readyz.
func (b *Bus) Ready(ctx context.Context) error {
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w (%s)", ErrNotConnected, strings.ToLower(st.String()))
	}
	b.mu.Lock()
	streams := b.streams
	b.mu.Unlock()
	if streams == nil {
		for _, s := range DefaultTopology(TopologyOptions{}).Streams {
			streams = append(streams, b.Name(s.Name))
		}
	}
	for _, name := range streams {
		if _, err := b.js.Stream(ctx, name); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("%w: %s", ErrStreamMissing, name)
			}
			return fmt.Errorf("bus: stream %s: %w", name, err)
		}
	}
	return nil
}

// Close drains the connection: subscriptions stop, pending publishes are
// flushed, then the connection closes. Stop Consume (cancel its context)
// first so that handlers in flight can still ack.
func (b *Bus) Close() {
	if b.nc.IsClosed() {
		return
	}
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
	}
	select {
	case <-b.closed:
	case <-time.After(15 * time.Second):
		b.nc.Close()
	}
}
