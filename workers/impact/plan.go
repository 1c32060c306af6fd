package impact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbt"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/hightouch"
	"github.com/diffgate/diffgate/workers/internal/stage"
)

// handle plans one run.
func (w *Worker) handle(ctx context.Context, m *bus.Msg) error {
	var msg events.ManifestsResolved
	if err := m.Decode(&msg); err != nil {
		return err
	}
	ctx, err := stage.Open(ctx, msg.Run, "manifests resolved")
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx)
	in, err := w.stage.Take(ctx, w.cfg, w.prs, msg.Run, msg.Integration)
	if in == nil {
		return err
	}
	if err := w.stage.Progress(ctx, msg.Run, events.RunStatus{Message: "Comparing the PR's manifest with production's"}); err != nil {
		return err
	}

	prod, err := w.read(ctx, msg.ProdManifest)
	if err != nil {
		return w.unreadable(ctx, msg.Run, err, fmt.Sprintf("the production manifest.json (dbt Cloud run #%d)", msg.ProdRun.RunID))
	}
	pr, err := w.read(ctx, msg.PRManifest)
	if err != nil {
		return w.unreadable(ctx, msg.Run, err, fmt.Sprintf("the PR's manifest.json (dbt Cloud run #%d)", msg.CIRun.RunID))
	}
	size, off := in.CI.Samples()
	plan, err := dbt.Plan(ctx, prod, pr, dbt.PlanOptions{
		SlimDiff:               in.CI.SlimDiff,
		Labels:                 msg.Labels,
		DiffAllDownstreamLabel: in.CI.DiffAllDownstreamLabel,
		PrimaryKeyTag:          in.PrimaryKeyTag,
		ImportMetadata:         in.CI.ImportMetadata(),
		SampleSize:             size,
		SamplesOff:             off,
	})
	if err != nil {
		return fmt.Errorf("impact: plan: %w", err)
	}
	run, ci, prodRun := msg.Run, msg.CIRun, msg.ProdRun
	plan.Run, plan.Integration, plan.DataSource = &run, in.Name, in.DataSource
	plan.AccountName, plan.CIRun, plan.ProdRun, plan.ProdChoice = msg.AccountName, &ci, &prodRun, msg.ProdChoice
	if failed, err := w.addHightouch(ctx, in, plan, prod); err != nil || failed {
		return err
	}
	tasks := w.tasks(ctx, in, plan)

	ref, err := w.storePlan(ctx, plan)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if _, err := w.bus.Publish(ctx, t); err != nil {
			return fmt.Errorf("impact: publish the task of %s: %w", t.ModelID, err)
		}
	}
	planned := events.DiffPlanned{Version: events.Version, Run: msg.Run, Integration: in.Name, Plan: ref, Tasks: len(tasks), At: w.o.Now().UTC()}
	if _, err := w.bus.Publish(ctx, planned); err != nil {
		return fmt.Errorf("impact: publish the plan: %w", err)
	}
	log.Info().Int("models", len(plan.Models)).Int("tasks", len(tasks)).Int("hightouch", len(plan.Hightouch)).Msg("impact: planned")
	return nil
}

// read streams a stored manifest into dbt.Read.
func (w *Worker) read(ctx context.Context, ref events.ObjectRef) (*dbt.Manifest, error) {
	obj, err := w.objects.Get(ctx, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("impact: open %s: %w", ref.Name, err)
	}
	defer obj.Close()
	return dbt.Read(ctx, obj, dbt.ReadOptions{MaxBytes: int64(w.cfg.Limits.ManifestMaxSize)})
}

// unreadable ends the run when a manifest cannot be used, or has the
// message retried when the object store did not answer.
func (w *Worker) unreadable(ctx context.Context, run events.Run, err error, what string) error {
	var hint string
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return w.fail(ctx, run, events.FailNoManifest, fmt.Sprintf("%s is no longer in the object store", what),
			"it was removed after server.retention; re-run the check to fetch it again")
	case errors.Is(err, dbt.ErrUnsupportedVersion):
		hint = "diffgate reads the manifests of dbt 1.0 to 1.11 (schema v4 to v12); run the job with one of them"
	case errors.Is(err, dbt.ErrTooLarge):
		hint = "raise limits.manifest_max_size in diffgate.yaml"
	case errors.Is(err, dbt.ErrEmpty), errors.Is(err, dbt.ErrSyntax), errors.Is(err, dbt.ErrInvalid):
		hint = "re-run the dbt Cloud job; if it happens again, the job's dbt version writes a manifest diffgate does not understand"
	default:
		return err // the object store: try again
	}
	return w.fail(ctx, run, events.FailNoManifest, fmt.Sprintf("%s cannot be read: %v", what, err), hint)
}

// addHightouch adds the Hightouch models that read impacted tables.
// failed is true when it ended the run (Hightouch refused the key).
func (w *Worker) addHightouch(ctx context.Context, in *config.Integration, plan *events.Plan, prod *dbt.Manifest) (failed bool, err error) {
	client, ok := w.hightouch[in.Name]
	if !ok {
		return false, nil
	}
	models, err := client.ListModels(ctx)
	if err != nil {
		if hightouch.Permanent(err) {
			return true, w.fail(ctx, *plan.Run, events.FailHightouch, "Hightouch refused to list the workspace's models: "+err.Error(),
				fmt.Sprintf("check hightouch.token of integration %q: a workspace API key that can read models", in.Name))
		}
		return false, fmt.Errorf("impact: Hightouch: %w", err) // unavailable: the bus retries
	}
	ds, _ := w.cfg.DataSourceByName(in.DataSource)
	q, err := quoter(ds.Type)
	if err != nil {
		return false, err
	}
	var nodes []hightouch.DBTNode
	for _, r := range prod.Relations() {
		nodes = append(nodes, hightouch.DBTNode{UniqueID: r.UniqueID, Relation: r.Relation})
	}
	size, off := in.CI.Samples()
	err = hightouch.AddToPlan(ctx, plan, models, nodes, hightouch.PlanOptions{
		DiffModels: in.CI.DiffHightouch(),
		SourceIDs:  in.Hightouch.SourceIDs,
		Quote:      q,
		Options:    events.DiffOptions{SampleSize: size, SamplesOff: off},
	})
	if err != nil {
		return false, fmt.Errorf("impact: Hightouch models: %w", err)
	}
	return false, nil
}

// tasks makes the diff task of every model the plan diffs. A model
// without a PR side (which the planner should never produce) is marked
// not diffed rather than sent to a differ that could do nothing with it.
func (w *Worker) tasks(ctx context.Context, in *config.Integration, plan *events.Plan) []events.DiffTask {
	var out []events.DiffTask
	for i := range plan.Models {
		pm := &plan.Models[i]
		if !pm.Diff {
			continue
		}
		t := events.DiffTask{
			Version: events.Version, Run: *plan.Run, Integration: in.Name, DataSource: in.DataSource,
			ModelID: pm.ID, ModelName: pm.Name, Kind: pm.Kind, Key: pm.PrimaryKey, Options: pm.Options,
		}
		switch {
		case pm.PRQuery != "":
			t.PR = events.DiffSide{Query: pm.PRQuery}
			if pm.ProdQuery != "" {
				t.Prod = &events.DiffSide{Query: pm.ProdQuery}
			}
		case pm.PR != nil:
			t.PR = events.DiffSide{Relation: pm.PR}
			if pm.Prod != nil {
				t.Prod = &events.DiffSide{Relation: pm.Prod}
			}
		default:
			zerolog.Ctx(ctx).Warn().Str("model", pm.ID).Msg("impact: planned to diff a model with no PR relation; not diffing it")
			pm.Diff, pm.SkipReason = false, "no relation or query to read in the PR"
			continue
		}
		out = append(out, t)
	}
	return out
}

// storePlan stores the plan as JSON under events.PlanObject.
func (w *Worker) storePlan(ctx context.Context, plan *events.Plan) (events.ObjectRef, error) {
	data, err := json.Marshal(plan)
	if err != nil {
		return events.ObjectRef{}, fmt.Errorf("impact: encode the plan: %w", err)
	}
	name := events.PlanObject(plan.Run.ID())
	info, err := w.objects.PutBytes(ctx, name, data)
	if err != nil {
		return events.ObjectRef{}, fmt.Errorf("impact: store %s: %w", name, err)
	}
	return events.ObjectRef{Name: info.Name, Digest: info.Digest, Size: int64(info.Size)}, nil
}

// fail ends the run with an error a person can act on.
func (w *Worker) fail(ctx context.Context, run events.Run, code, msg, hint string) error {
	return w.stage.Fail(ctx, run, events.RunFailed{Code: code, Message: msg, Hint: hint})
}
