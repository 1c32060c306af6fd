package bus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/events"
)

// Stream names of the default topology.
const (
	// StreamEvents holds webhook events: diffgate.pr.>, diffgate.dbtcloud.>.
	StreamEvents = "DIFFGATE_EVENTS"
	// StreamPipeline holds the messages between stages: diffgate.run.>,
	// diffgate.ci.>, diffgate.manifests.>, diffgate.diff.>.
	StreamPipeline = "DIFFGATE_PIPELINE"
	// StreamDeadLetter holds dead letters: diffgate.deadletter.>.
	StreamDeadLetter = "DIFFGATE_DEADLETTER"
)

// Defaults of TopologyOptions and of the streams.
const (
	DefaultRetention        = 30 * 24 * time.Hour
	DefaultDuplicateWindow  = 24 * time.Hour
	DefaultMessageMaxAge    = 7 * 24 * time.Hour
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
	PRsTTL                  = 30 * 24 * time.Hour
	RunsTTL                 = 7 * 24 * time.Hour
	CIWaitTTL               = 24 * time.Hour
	PublishedTTL            = 30 * 24 * time.Hour
	FailuresTTL             = DefaultMessageMaxAge
)

// Topology is every stream, KV bucket and object store diffgate needs,
// declared as code. Ensure creates or updates them.
type Topology struct {
	Streams      []jetstream.StreamConfig
	KeyValues    []jetstream.KeyValueConfig
	ObjectStores []jetstream.ObjectStoreConfig
}

// TopologyOptions tune DefaultTopology.
type TopologyOptions struct {
	// Retention is how long objects (manifests, plans, results, reports)
	// are kept; default 30 days.
	Retention time.Duration
	// Replicas of every stream and bucket in a clustered NATS; default 1.
	Replicas int
}

// DefaultTopology is diffgate's layout (docs/nats.md explains it).
func DefaultTopology(o TopologyOptions) Topology {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	stream := func(name, desc string, maxAge, dupes time.Duration, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			MaxAge:      maxAge,
			Duplicates:  dupes,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			MaxMsgs:     -1,
			MaxBytes:    -1,
		}
	}
	kv := func(bucket, desc string, ttl time.Duration) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: desc,
			History:     1,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
		}
	}
	return Topology{
		Streams: []jetstream.StreamConfig{
			stream(StreamEvents, "diffgate webhook events", DefaultMessageMaxAge, DefaultDuplicateWindow,
				"diffgate.pr.>", "diffgate.dbtcloud.>"),
			stream(StreamPipeline, "diffgate messages between pipeline stages", DefaultMessageMaxAge, DefaultDuplicateWindow,
				"diffgate.run.>", "diffgate.ci.>", "diffgate.manifests.>", "diffgate.diff.>"),
			stream(StreamDeadLetter, "diffgate messages that exhausted their deliveries", DefaultDeadLetterMaxAge, DefaultDuplicateWindow,
				"diffgate.deadletter.>"),
		},
		KeyValues: []jetstream.KeyValueConfig{
			kv(events.BucketPRs, "diffgate: current head of every pull request", PRsTTL),
			kv(events.BucketRuns, "diffgate: fan-in state of every run", RunsTTL),
			kv(events.BucketCIWait, "diffgate: shared dbt Cloud polls and woken runs", CIWaitTTL),
			kv(events.BucketPublished, "diffgate: what the apps published of every run", PublishedTTL),
			kv(events.BucketFailures, "diffgate: failed deliveries of messages that also wait", FailuresTTL),
		},
		ObjectStores: []jetstream.ObjectStoreConfig{{
			Bucket:      events.ObjectStore,
			Description: "diffgate: manifests, plans, results and reports",
			TTL:         o.Retention,
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
		}},
	}
}

// StreamOf is the stream of the default topology that captures subject,
// or "" for none.
func StreamOf(subject string) string {
	for _, s := range DefaultTopology(TopologyOptions{}).Streams {
		for _, pattern := range s.Subjects {
			if strings.HasPrefix(subject, strings.TrimSuffix(pattern, ">")) {
				return s.Name
			}
		}
	}
	return ""
}

// Ensure creates what t declares, or updates it to match. Several
// processes may run it at once: creating an identical stream is a no-op
// on the server, and a lost race is retried.
func (b *Bus) Ensure(ctx context.Context, t Topology) error {
	var names []string
	for _, cfg := range t.Streams {
		cfg.Name = b.Name(cfg.Name)
		subjects := make([]string, len(cfg.Subjects))
		for i, s := range cfg.Subjects {
			subjects[i] = b.Subject(s)
		}
		cfg.Subjects = subjects
		if err := retry(ctx, func() error {
			_, err := b.js.CreateOrUpdateStream(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("bus: ensure stream %s: %w", cfg.Name, err)
		}
		names = append(names, cfg.Name)
	}
	for _, cfg := range t.KeyValues {
		cfg.Bucket = b.Name(cfg.Bucket)
		if err := retry(ctx, func() error {
			_, err := b.js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("bus: ensure KV bucket %s: %w", cfg.Bucket, err)
		}
	}
	for _, cfg := range t.ObjectStores {
		cfg.Bucket = b.Name(cfg.Bucket)
		if err := retry(ctx, func() error {
			_, err := b.js.CreateOrUpdateObjectStore(ctx, cfg)
			return err
		}); err != nil {
			return fmt.Errorf("bus: ensure object store %s: %w", cfg.Bucket, err)
		}
	}
	b.mu.Lock()
	b.streams = names
	b.mu.Unlock()
	return nil
}

// retry runs f up to 4 times: two processes creating the same stream at
// the same moment can make one of them see "already in use" before the
// stream is visible to its update.
func retry(ctx context.Context, f func() error) error {
	var err error
	for attempt := range 4 {
		if err = f(); err == nil {
			return nil
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		t := time.NewTimer(time.Duration(50*(attempt+1))*time.Millisecond + rand.N(50*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}

// KV opens a KV bucket of the topology (events.BucketPRs, ...).
func (b *Bus) KV(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := b.js.KeyValue(ctx, b.Name(bucket))
	if err != nil {
		return nil, fmt.Errorf("bus: KV bucket %s: %w", b.Name(bucket), err)
	}
	return kv, nil
}

// Objects opens the object store (events.ObjectStore).
func (b *Bus) Objects(ctx context.Context) (jetstream.ObjectStore, error) {
	os, err := b.js.ObjectStore(ctx, b.Name(events.ObjectStore))
	if err != nil {
		return nil, fmt.Errorf("bus: object store %s: %w", b.Name(events.ObjectStore), err)
	}
	return os, nil
}
