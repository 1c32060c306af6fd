package details

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
)

// ErrNotFound is returned by a Store for a report or result it does not
// hold (never stored, or removed by the retention).
var ErrNotFound = errors.New("details: not found")

// Store is what the pages read: a run's report and a model's full result
// with its samples.
type Store interface {
	Report(ctx context.Context, runID string) (*report.Report, error)
	// Result returns the full result of one model; ref is the object the
	// report names for it, nil to use the conventional name.
	Result(ctx context.Context, runID, modelID string, ref *events.ObjectRef) (*datadiff.Result, error)
}

// ObjectStore reads reports and results from the JetStream object store
// the pipeline writes them to (events.ObjectStore), under the names of
// events.ReportObject and events.ResultObject.
type ObjectStore struct {
	os jetstream.ObjectStore
}

// NewObjectStore wraps an open object store bucket.
func NewObjectStore(os jetstream.ObjectStore) *ObjectStore { return &ObjectStore{os: os} }

// Report reads the report of runID.
func (s *ObjectStore) Report(ctx context.Context, runID string) (*report.Report, error) {
	b, err := s.get(ctx, events.ReportObject(runID))
	if err != nil {
		return nil, err
	}
	r, err := report.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("details: report of %s: %w", runID, err)
	}
	return r, nil
}

// Result reads one model's full result.
func (s *ObjectStore) Result(ctx context.Context, runID, modelID string, ref *events.ObjectRef) (*datadiff.Result, error) {
	name := events.ResultObject(runID, modelID)
	if ref != nil && ref.Name != "" {
		name = ref.Name
	}
	b, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	var res datadiff.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("details: result %s: %w", name, err)
	}
	return &res, nil
}

func (s *ObjectStore) get(ctx context.Context, name string) ([]byte, error) {
	b, err := s.os.GetBytes(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	case err != nil:
		return nil, fmt.Errorf("details: read %s: %w", name, err)
	}
	return b, nil
}
