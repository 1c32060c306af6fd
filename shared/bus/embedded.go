package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// ErrEmbedded is wrapped by errors starting the embedded server.
var ErrEmbedded = errors.New("bus: embedded NATS server")

// EmbeddedOptions configure the in-process server.
type EmbeddedOptions struct {
	// StoreDir is where JetStream keeps its files; required. Messages,
	// KV entries and objects survive a restart on the same directory.
	StoreDir string
	// Host to listen on; default 127.0.0.1 (only this machine).
	Host string
	// Port to listen on; 0 or -1 picks a free port (see URL). Use 4222
	// explicitly for the usual port.
	Port int
}

// Embedded is a nats-server running inside this process, with JetStream
// on file storage. `diffgate serve` uses it when no NATS URL is given.
type Embedded struct {
	srv  *server.Server
	once sync.Once
}

// StartEmbedded starts the server and waits until it accepts connections.
// The server's own log lines go to the logger of ctx (notices at debug).
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if opts.StoreDir == "" {
		return nil, fmt.Errorf("%w: a store directory is required", ErrEmbedded)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "diffgate-embedded",
		Host:       opts.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true, // the process owns its signals
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbedded, err)
	}
	srv.SetLoggerV2(serverLog{zerolog.Ctx(ctx).With().Str("component", "nats-server").Logger()}, false, false, false)
	go srv.Start()

	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: not ready within %s on %s:%d (store %s)", ErrEmbedded, wait, opts.Host, opts.Port, opts.StoreDir)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: JetStream did not start (store %s)", ErrEmbedded, opts.StoreDir)
	}
	return &Embedded{srv: srv}, nil
}

// URL is the client URL, e.g. nats://127.0.0.1:39211.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has stopped, its files
// written. Calling it again does nothing.
func (e *Embedded) Shutdown() {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}

// serverLog adapts zerolog to the server's logger.
type serverLog struct{ l zerolog.Logger }

func (s serverLog) Noticef(format string, v ...any) { s.l.Debug().Msgf(format, v...) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn().Msgf(format, v...) }
func (s serverLog) Fatalf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLog) Errorf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLog) Debugf(format string, v ...any)  { s.l.Trace().Msgf(format, v...) }
func (s serverLog) Tracef(format string, v ...any)  { s.l.Trace().Msgf(format, v...) }
