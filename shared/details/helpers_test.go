package details

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// testSecret signs the test links; it is also planted in stored text to
// check that no page ever shows it.
var testSecret = []byte("s3cr3t-signing-key-0123456789abcdef-ZZZ")

// objectStore is the pipeline's object store in a namespace of the
// test's own on the shared NATS server, removed when the test ends.
func objectStore(t testing.TB) jetstream.ObjectStore {
	t.Helper()
	obj, err := bustest.New(t).Objects(bustest.Context(t))
	if err != nil {
		t.Fatal(err)
	}
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
