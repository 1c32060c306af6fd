package details

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// testSecret signs the test links; it is also planted in stored text to
// check that no page ever shows it.
var testSecret = []byte("s3cr3t-signing-key-0123456789abcdef-ZZZ")

// objectStore starts an embedded NATS server with JetStream and returns a
// fresh object store bucket on it, removed when the test ends.
func objectStore(t testing.TB) jetstream.ObjectStore {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS did not become ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "details_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	obj, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: bucket, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatalf("create object store: %v", err)
	}
	t.Cleanup(func() { _ = js.DeleteObjectStore(context.Background(), bucket) })
	return obj
}

// store puts a report and its models' full results where the pipeline
// puts them.
func store(t testing.TB, obj jetstream.ObjectStore, r *report.Report, full map[string]*datadiff.Result) {
	t.Helper()
	ctx := context.Background()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.PutBytes(ctx, events.ReportObject(r.RunID), b); err != nil {
		t.Fatalf("put report: %v", err)
	}
	for id, res := range full {
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		name := events.ResultObject(r.RunID, id)
		if mr := r.Results[id]; mr != nil && mr.Full != nil {
			name = mr.Full.Name
		}
		if _, err := obj.PutBytes(ctx, name, b); err != nil {
			t.Fatalf("put result %s: %v", id, err)
		}
	}
}

func buildReport(t testing.TB, in report.Input) *report.Report {
	t.Helper()
	r, err := report.Build(in)
	if err != nil {
		t.Fatalf("build report: %v", err)
	}
	return r
}

func signer(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(testSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// server serves the pages over HTTP as an app mounts them.
func serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func isCI() bool { return os.Getenv("CI") == "true" }
