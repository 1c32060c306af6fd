package manifests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/workers/internal/stage"
)

// artifact is the file every dbt command that parses the project writes.
const artifact = "manifest.json"

// Errors of the production manifest search.
var (
	errNoProdRun      = errors.New("the artifacts job has no successful run")
	errNoProdManifest = errors.New("no recent successful run of the artifacts job saved manifest.json")
)

// handle fetches both manifests of one run.
func (w *Worker) handle(ctx context.Context, m *bus.Msg) error {
	var msg events.CICompleted
	if err := m.Decode(&msg); err != nil {
		return err
	}
	ctx, err := stage.Open(ctx, msg.Run, "ci completed")
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx)
	in, err := w.stage.Take(ctx, w.cfg, w.prs, msg.Run, msg.Integration)
	if in == nil {
		return err
	}
	d := in.DBTCloud
	cl := w.clients[in.Name]
	limit := int64(w.cfg.Limits.ManifestMaxSize)
	ci := msg.CIRun

	if err := w.stage.Progress(ctx, msg.Run, events.RunStatus{Message: fmt.Sprintf("Fetching the PR's manifest.json from dbt Cloud run #%d", ci.RunID), Link: ci.URL}); err != nil {
		return err
	}
	prRef, err := w.store(ctx, cl, d.AccountID, ci.RunID, limit)
	if err != nil {
		return w.fetchFailed(ctx, msg.Run, in, err, fmt.Sprintf("dbt Cloud run #%d (the PR's CI run)", ci.RunID), ci.URL)
	}

	if err := w.stage.Progress(ctx, msg.Run, events.RunStatus{Message: fmt.Sprintf("Fetching the production manifest.json from dbt Cloud job %d", d.ArtifactsJobID)}); err != nil {
		return err
	}
	prod, choice, prodRef, err := w.production(ctx, in, cl, msg.Run.BaseSHA, limit)
	switch {
	case errors.Is(err, errNoProdRun):
		return w.fail(ctx, msg.Run, events.FailNoManifest,
			fmt.Sprintf("dbt Cloud job %d has no successful run, so there is no production manifest to compare with", d.ArtifactsJobID),
			fmt.Sprintf("run job %d once in dbt Cloud (a production job running dbt build or dbt ls), or set dbt_cloud.artifacts_job_id of integration %q to the job that does", d.ArtifactsJobID, in.Name), "")
	case errors.Is(err, errNoProdManifest):
		return w.fail(ctx, msg.Run, events.FailNoManifest,
			fmt.Sprintf("none of the recent successful runs of dbt Cloud job %d saved a manifest.json (%v)", d.ArtifactsJobID, err),
			"make the artifacts job run a dbt command that writes manifest.json (dbt build, dbt run, dbt compile or dbt ls)", "")
	case err != nil && prod == nil: // listing the runs failed
		if dbtcloud.Permanent(err) {
			return w.fail(ctx, msg.Run, events.FailDBTCloud, fmt.Sprintf("dbt Cloud refused to list the runs of job %d: %v", d.ArtifactsJobID, err),
				fmt.Sprintf("check dbt_cloud.token, account_id and artifacts_job_id of integration %q", in.Name), "")
		}
		return fmt.Errorf("manifests: list the runs of job %d: %w", d.ArtifactsJobID, err)
	case err != nil:
		return w.fetchFailed(ctx, msg.Run, in, err, fmt.Sprintf("dbt Cloud run #%d (production, job %d)", prod.ID, d.ArtifactsJobID), cl.RunURL(prod))
	}

	res := events.ManifestsResolved{
		Version:      events.Version,
		Run:          msg.Run,
		Integration:  in.Name,
		Labels:       msg.Labels,
		AccountName:  w.accountName(ctx, cl, d.AccountID),
		CIRun:        ci,
		ProdRun:      cl.RunEvent(prod),
		ProdChoice:   choice,
		PRManifest:   prRef,
		ProdManifest: prodRef,
		At:           w.o.Now().UTC(),
	}
	if _, err := w.bus.Publish(ctx, res); err != nil {
		return fmt.Errorf("manifests: publish: %w", err)
	}
	log.Info().Str("pr_manifest", prRef.Name).Str("prod_manifest", prodRef.Name).Int64("prod_run", prod.ID).Msg("manifests: resolved")
	return nil
}

// fetchFailed turns a failed download into the run's end, or into a
// retry when dbt Cloud may answer later.
func (w *Worker) fetchFailed(ctx context.Context, run events.Run, in *config.Integration, err error, what, link string) error {
	switch {
	case errors.Is(err, dbtcloud.ErrArtifactTooLarge):
		return w.fail(ctx, run, events.FailManifestSize,
			fmt.Sprintf("the manifest.json of %s is larger than limits.manifest_max_size (%s): %s", what, w.cfg.Limits.ManifestMaxSize,
				strings.TrimPrefix(err.Error(), dbtcloud.ErrArtifactTooLarge.Error()+": ")),
			"raise limits.manifest_max_size in diffgate.yaml", link)
	case errors.Is(err, dbtcloud.ErrNotFound):
		return w.fail(ctx, run, events.FailNoManifest,
			fmt.Sprintf("%s saved no manifest.json", what),
			"the job must run a dbt command that writes manifest.json (dbt build, run or compile) and keep its artifacts", link)
	case errors.Is(err, dbtcloud.ErrUnauthorized), errors.Is(err, dbtcloud.ErrForbidden):
		return w.fail(ctx, run, events.FailDBTCloud, fmt.Sprintf("dbt Cloud refused the manifest.json of %s: %v", what, err),
			fmt.Sprintf("check dbt_cloud.token of integration %q", in.Name), link)
	}
	// dbt Cloud unavailable or the download broke off: the bus retries,
	// and a message that keeps failing becomes a dead letter (an error
	// report).
	return fmt.Errorf("manifests: %s: %w", what, err)
}

// store downloads a run's manifest.json into the object store, under the
// SHA-256 of its content, and returns the object. The download streams to
// a temporary file while it is hashed; an object with that digest already
// stored is reused.
func (w *Worker) store(ctx context.Context, cl *dbtcloud.Client, account, runID, limit int64) (events.ObjectRef, error) {
	f, err := os.CreateTemp(w.o.TempDir, "diffgate-manifest-*.json")
	if err != nil {
		return events.ObjectRef{}, fmt.Errorf("manifests: temporary file: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	size, err := cl.GetArtifact(ctx, account, runID, artifact, io.MultiWriter(f, h), dbtcloud.MaxBytes(limit))
	if err != nil {
		return events.ObjectRef{}, err
	}
	name := events.ManifestObject(hex.EncodeToString(h.Sum(nil)))
	log := zerolog.Ctx(ctx).With().Int64("dbt_cloud_run", runID).Str("object", name).Int64("bytes", size).Logger()
	if info, err := w.objects.GetInfo(ctx, name); err == nil && !info.Deleted {
		log.Debug().Msg("manifests: already stored")
		return ref(info), nil
	} else if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return events.ObjectRef{}, fmt.Errorf("manifests: look up %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return events.ObjectRef{}, fmt.Errorf("manifests: rewind: %w", err)
	}
	info, err := w.objects.Put(ctx, jetstream.ObjectMeta{
		Name:        name,
		Description: fmt.Sprintf("manifest.json of dbt Cloud run #%d", runID),
	}, f)
	if err != nil {
		return events.ObjectRef{}, fmt.Errorf("manifests: store %s: %w", name, err)
	}
	log.Debug().Msg("manifests: stored")
	return ref(info), nil
}

func ref(info *jetstream.ObjectInfo) events.ObjectRef {
	return events.ObjectRef{Name: info.Name, Digest: info.Digest, Size: int64(info.Size)}
}

// production finds and stores the production manifest: from the recent
// successful runs of the artifacts job, the one that built the PR's base
// commit when there is one, else the newest; a run that saved no manifest
// is passed over for the next. choice says which was used and why. On an
// error the run is the one whose download failed, nil when listing the
// runs failed.
func (w *Worker) production(ctx context.Context, in *config.Integration, cl *dbtcloud.Client, base string, limit int64) (*dbtcloud.Run, string, events.ObjectRef, error) {
	d := in.DBTCloud
	page, err := cl.ListRuns(ctx, d.AccountID, dbtcloud.RunFilter{
		JobDefinitionID: d.ArtifactsJobID,
		Status:          dbtcloud.StatusSuccess,
		OrderBy:         "-id",
		Limit:           RecentRuns,
	})
	if err != nil {
		return nil, "", events.ObjectRef{}, err
	}
	runs := page.Runs
	if len(runs) == 0 {
		return nil, "", events.ObjectRef{}, errNoProdRun
	}
	// The base commit's run first, then the rest newest first.
	order := make([]*dbtcloud.Run, 0, len(runs))
	var baseRun *dbtcloud.Run
	for i := range runs {
		if base != "" && baseRun == nil && dbtcloud.SameSHA(runs[i].SHA(), base) {
			baseRun = &runs[i]
			order = append(order, baseRun)
		}
	}
	for i := range runs {
		if &runs[i] != baseRun {
			order = append(order, &runs[i])
		}
	}
	var missing []int64
	for _, r := range order {
		obj, err := w.store(ctx, cl, d.AccountID, r.ID, limit)
		if errors.Is(err, dbtcloud.ErrNotFound) {
			zerolog.Ctx(ctx).Info().Int64("dbt_cloud_run", r.ID).Msg("manifests: production run saved no manifest.json; trying the next")
			missing = append(missing, r.ID)
			continue
		}
		if err != nil {
			return r, "", events.ObjectRef{}, err
		}
		return r, choice(d.ArtifactsJobID, r, r == baseRun, baseRun, base, len(runs), missing), obj, nil
	}
	return nil, "", events.ObjectRef{}, noProdManifest(missing)
}

// noProdManifest lists the production runs that saved no manifest.
type noProdManifest []int64

func (e noProdManifest) Error() string        { return runList(e) }
func (e noProdManifest) Is(target error) bool { return target == errNoProdManifest }

// choice is the sentence the report shows about the production run.
func choice(job int64, used *dbtcloud.Run, usedBase bool, baseRun *dbtcloud.Run, base string, considered int, missing []int64) string {
	var b strings.Builder
	if usedBase {
		fmt.Fprintf(&b, "dbt Cloud run #%d of job %d, which built the PR's base commit %s", used.ID, job, events.Short(base))
	} else {
		fmt.Fprintf(&b, "dbt Cloud run #%d of job %d, its newest successful run with a manifest.json", used.ID, job)
		if sha := used.SHA(); sha != "" {
			fmt.Fprintf(&b, " (commit %s)", events.Short(sha))
		}
		switch {
		case base == "":
		case baseRun == nil:
			fmt.Fprintf(&b, "; none of its %d most recent successful runs built the PR's base commit %s", considered, events.Short(base))
		default:
			fmt.Fprintf(&b, "; run #%d built the PR's base commit %s but saved no manifest.json", baseRun.ID, events.Short(base))
			missing = slices.DeleteFunc(slices.Clone(missing), func(id int64) bool { return id == baseRun.ID })
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "; %s saved no manifest.json", runList(missing))
	}
	b.WriteString(".")
	return b.String()
}

func runList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("#%d", id)
	}
	if len(parts) == 1 {
		return "run " + parts[0]
	}
	return "runs " + strings.Join(parts, ", ")
}

// accountName is the dbt Cloud account's name for reports, looked up once
// per process. It is only for show: a failure leaves it empty.
func (w *Worker) accountName(ctx context.Context, cl *dbtcloud.Client, account int64) string {
	key := fmt.Sprintf("%s#%d", cl.AccessURL(), account)
	w.mu.Lock()
	name, ok := w.accounts[key]
	w.mu.Unlock()
	if ok {
		return name
	}
	a, err := cl.GetAccount(ctx, account)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("manifests: the dbt Cloud account's name is unknown")
		return ""
	}
	w.mu.Lock()
	w.accounts[key] = a.Name
	w.mu.Unlock()
	return a.Name
}

// fail ends the run with an error a person can act on.
func (w *Worker) fail(ctx context.Context, run events.Run, code, msg, hint, link string) error {
	return w.stage.Fail(ctx, run, events.RunFailed{Code: code, Message: msg, Hint: hint, Link: link})
}
