// Package bustest gives tests a real JetStream to run against: an
// isolated namespace on the shared server at $NATS_URL, or an embedded
// server of their own.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
)

// DefaultURL is used when NATS_URL is not set.
const DefaultURL = "nats://127.0.0.1:4222"

// URL is the shared test server: $NATS_URL, else DefaultURL.
func URL() string {
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Context returns a context whose logger writes to the test's output
// (shown for failed tests and with -v) and that is cancelled when the test
// ends.
func Context(t testing.TB) context.Context {
	t.Helper()
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop) // registered first, so it runs after every other cleanup
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := zerolog.New(w).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	return l.WithContext(ctx)
}

// testWriter drops writes once the test is over (late log lines from
// connection callbacks must not fail it).
type testWriter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// New connects to the shared server in a namespace of its own, with the
// default topology ensured, and deletes the namespace's streams and
// buckets when the test ends. Code under test uses the plain names
// (events.Subject..., bus.Stream..., events.Bucket...); the bus maps them.
func New(t testing.TB) *bus.Bus {
	t.Helper()
	ctx := Context(t)
	b := connect(t, ctx, URL(), newNamespace())
	sweepOnce.Do(func() { sweep(ctx, b) })
	t.Cleanup(func() { deleteNamespace(t, b) })
	if err := b.Ensure(ctx, bus.DefaultTopology(bus.TopologyOptions{Retention: time.Hour})); err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return b
}

// NewBare is New without the topology: a namespace of its own with
// nothing in it yet (for tests of Ensure).
func NewBare(t testing.TB) *bus.Bus {
	t.Helper()
	b := connect(t, Context(t), URL(), newNamespace())
	t.Cleanup(func() { deleteNamespace(t, b) })
	return b
}

// Another is a second connection to the namespace of b: another process
// of the same deployment.
func Another(t testing.TB, b *bus.Bus) *bus.Bus {
	t.Helper()
	return connect(t, Context(t), URL(), b.Namespace())
}

// ConnectTo connects to the server at url with the plain names and the
// default topology ensured (for a server of the test's own, see Embedded).
func ConnectTo(t testing.TB, url string) *bus.Bus {
	t.Helper()
	ctx := Context(t)
	b := connect(t, ctx, url, "")
	if err := b.Ensure(ctx, bus.DefaultTopology(bus.TopologyOptions{})); err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return b
}

// Embedded starts a server of the test's own on a fresh store directory;
// it is shut down when the test ends.
func Embedded(t testing.TB) *bus.Embedded {
	t.Helper()
	return EmbeddedAt(t, t.TempDir())
}

// EmbeddedAt starts a server on dir (start it again on the same dir to
// test a restart); it is shut down when the test ends if it is still up.
func EmbeddedAt(t testing.TB, dir string) *bus.Embedded {
	t.Helper()
	ctx, cancel := context.WithTimeout(Context(t), 30*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{StoreDir: dir})
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func connect(t testing.TB, ctx context.Context, url, ns string) *bus.Bus {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := bus.Connect(cctx, bus.Options{URL: url, Name: "diffgate-test " + t.Name(), Namespace: ns})
	if err != nil {
		t.Fatalf("bustest: %v (start nats-server with JetStream (-js), or set NATS_URL)", err)
	}
	t.Cleanup(b.Close)
	return b
}

// deleteNamespace removes every stream, KV bucket and object store of the
// namespace (buckets are streams named KV_<bucket> and OBJ_<bucket>).
func deleteNamespace(t testing.TB, b *bus.Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := b.JetStream()
	names := js.StreamNames(ctx)
	var doomed []string
	for n := range names.Name() {
		if strings.Contains(n, b.Namespace()+"_") {
			doomed = append(doomed, n)
		}
	}
	if err := names.Err(); err != nil {
		t.Errorf("bustest: list streams: %v", err)
	}
	for _, n := range doomed {
		if err := js.DeleteStream(ctx, n); err != nil {
			t.Errorf("bustest: delete stream %s: %v", n, err)
		}
	}
}

// WaitFor polls cond every 10ms until it returns nil, and fails the test
// with cond's last error if that does not happen within timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bustest: not within %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// Stored returns the messages stored on subject (events.Subject...),
// oldest first, decoded as T: everything JetStream acknowledged before the
// call, read with an ordered consumer.
func Stored[T any](t testing.TB, b *bus.Bus, subject string) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(Context(t), 10*time.Second)
	defer cancel()
	cons, err := b.JetStream().OrderedConsumer(ctx, b.Name(bus.StreamOf(subject)), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.Subject(subject)},
	})
	if err != nil {
		t.Fatalf("bustest: read %s: %v", subject, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("bustest: read %s: %v", subject, err)
	}
	want := int(info.NumPending)
	out := make([]T, 0, want)
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatalf("bustest: read %s: %v", subject, err)
		}
		n := 0
		for m := range batch.Messages() {
			var v T
			if err := json.Unmarshal(m.Data(), &v); err != nil {
				t.Fatalf("bustest: %s: %v", subject, err)
			}
			out = append(out, v)
			n++
		}
		if n == 0 {
			t.Fatalf("bustest: read %d of the %d messages on %s", len(out), want, subject)
		}
	}
	return out
}

// Idle says what the durable consumer name of stream (bus.Stream...) still
// holds, or nil when it holds nothing: for WaitFor.
func Idle(t testing.TB, b *bus.Bus, stream, name string) error {
	t.Helper()
	// Not Context(t): WaitFor calls this every few milliseconds, and each
	// Context(t) stays registered for cleanup until the test ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.JetStream().Consumer(ctx, b.Name(stream), name)
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		return fmt.Errorf("%s still holds %d messages (%d pending)", name, info.NumAckPending, info.NumPending)
	}
	return nil
}

// newNamespace is t<unix seconds>x<random>: unique, and dated so that
// namespaces left behind by a killed test run can be swept.
func newNamespace() string {
	return fmt.Sprintf("t%dx%s", time.Now().Unix(), randomHex(4))
}

var (
	sweepOnce   sync.Once
	nsStream    = regexp.MustCompile(`^(?:KV_|OBJ_)?t(\d+)x[0-9a-f]+_`)
	sweepMaxAge = 2 * time.Hour
)

// sweep deletes the streams of test namespaces older than sweepMaxAge:
// those of runs that were killed before their cleanup ran.
func sweep(ctx context.Context, b *bus.Bus) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	js := b.JetStream()
	names := js.StreamNames(ctx)
	var doomed []string
	for n := range names.Name() {
		m := nsStream.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		if sec, err := strconv.ParseInt(m[1], 10, 64); err == nil && time.Since(time.Unix(sec, 0)) > sweepMaxAge {
			doomed = append(doomed, n)
		}
	}
	for _, n := range doomed {
		_ = js.DeleteStream(ctx, n) // best effort; another run may sweep it first
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
