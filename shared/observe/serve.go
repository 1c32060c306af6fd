package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Serve serves srv on ln until ctx is done, then shuts it down, giving
// requests in flight up to grace to finish. It returns nil after a clean
// shutdown and the server's error if it stopped for another reason.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	if srv.BaseContext == nil {
		// Handlers get the process's logger, but not its cancellation:
		// Shutdown, not ctx, ends requests in flight.
		base := context.WithoutCancel(ctx)
		srv.BaseContext = func(net.Listener) context.Context { return base }
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	zerolog.Ctx(ctx).Info().Str("addr", ln.Addr().String()).Msg("http: serving")

	select {
	case err := <-errc:
		return fmt.Errorf("http: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("http: serve on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("http: shutdown within %s: %w", grace, err)
	}
	return nil
}
