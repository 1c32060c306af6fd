package ciwait

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
	"github.com/diffgate/diffgate/shared/prs"
)

// maxHookBody bounds a webhook body; dbt Cloud's are under 2 KB.
const maxHookBody = 1 << 20

// ServeHTTP takes a dbt Cloud webhook: it checks the signature against the
// webhook secrets of the integrations on the payload's account, publishes
// the event and answers 200 once JetStream has stored it. Nothing is
// published for a request that no secret verifies.
func (h *hook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	log := h.log
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxHookBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "cannot read the body", http.StatusBadRequest)
		return
	}
	wh, decodeErr := dbtcloud.DecodeWebhook(body)
	secrets := h.w.webhookSecrets(wh)
	verified := false
	for _, s := range secrets {
		if dbtcloud.VerifyWebhook([]byte(s.Value()), body, r.Header.Get("Authorization")) == nil {
			verified = true
			break
		}
	}
	if !verified {
		ev := log.Warn().Int("secrets", len(secrets))
		if wh != nil {
			ev = ev.Int64("account", wh.AccountID)
		}
		ev.Msg("ciwait: dbt Cloud webhook refused: its signature matches no configured webhook secret")
		http.Error(rw, "signature does not match", http.StatusUnauthorized)
		return
	}
	if decodeErr != nil {
		log.Warn().Err(decodeErr).Msg("ciwait: dbt Cloud webhook refused: not a webhook payload")
		http.Error(rw, "not a dbt Cloud webhook payload", http.StatusBadRequest)
		return
	}
	ev := wh.ToEvent(h.w.now().UTC())
	ctx, cancel := bus.Detach(log.WithContext(r.Context()))
	defer cancel()
	ctx = observe.WithDeliveryID(ctx, ev.MsgID())
	if _, err := h.w.bus.Publish(ctx, ev); err != nil {
		log.Error().Err(err).Str("event", ev.EventID).Msg("ciwait: dbt Cloud webhook not stored; asking dbt Cloud to retry")
		http.Error(rw, "could not store the event, retry", http.StatusServiceUnavailable)
		return
	}
	log.Info().Str("event", ev.EventID).Str("type", ev.EventType).Int64("dbt_cloud_run", ev.RunID).Msg("ciwait: dbt Cloud webhook stored")
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(rw, "ok\n")
}

// webhookSecrets are the secrets that may have signed wh: those of the
// integrations on its account, or every one when the payload does not say
// (so that an unreadable body is refused as unsigned, not as malformed).
func (w *Worker) webhookSecrets(wh *dbtcloud.Webhook) []config.Secret {
	var out []config.Secret
	for _, in := range w.cfg.Integrations {
		d := in.DBTCloud
		if !d.WebhookSecret.IsSet() {
			continue
		}
		if wh == nil || wh.AccountID == d.AccountID {
			out = append(out, d.WebhookSecret)
		}
	}
	return out
}

// handleEvent wakes the runs waiting for the CI run a webhook announces.
func (w *Worker) handleEvent(ctx context.Context, m *bus.Msg) error {
	var ev events.DBTCloudEvent
	if err := m.Decode(&ev); err != nil {
		return err
	}
	if ev.EventType != dbtcloud.EventRunCompleted && ev.EventType != dbtcloud.EventRunErrored {
		return nil
	}
	log := zerolog.Ctx(ctx).With().Int64("dbt_cloud_run", ev.RunID).Str("event", ev.EventID).Logger()
	ctx = log.WithContext(ctx)
	for i := range w.cfg.Integrations {
		in := &w.cfg.Integrations[i]
		if in.DBTCloud.AccountID != ev.AccountID || in.DBTCloud.PRJobID != ev.JobID {
			continue
		}
		if err := w.wake(ctx, in, ev.RunID); err != nil {
			return err
		}
	}
	return nil
}

// wake finishes the runs waiting on a CI run that has finished.
func (w *Worker) wake(ctx context.Context, in *config.Integration, runID int64) error {
	d := in.DBTCloud
	cl := w.clients[in.Name]
	log := zerolog.Ctx(ctx)
	r, err := cl.GetRun(ctx, d.AccountID, runID, dbtcloud.RelatedTrigger)
	if err != nil {
		if dbtcloud.Permanent(err) {
			// Polling will find what there is to find (and report a
			// token problem); the webhook only speeds things up.
			log.Warn().Err(err).Msg("ciwait: cannot read the dbt Cloud run of a webhook")
			return nil
		}
		return err
	}
	ci := toCIRun(cl, r)
	if !ci.status().Done() || ci.PR == 0 {
		log.Debug().Int("status", ci.Status).Int64("pr", ci.PR).Msg("ciwait: webhook run is not a finished pull request run")
		return nil
	}
	waiting, err := w.waitingFor(ctx, d.AccountID, d.PRJobID, int(ci.PR))
	if err != nil {
		return err
	}
	for _, rec := range waiting {
		req := rec.Request
		if !ci.builds(req.Run.PR, req.Run.HeadSHA) || rec.CIRunID > ci.RunID {
			continue // another head, or a newer CI run of the same head is what counts
		}
		rctx := observe.WithRun(ctx, req.Run)
		if done, err := w.finished(rctx, req.Run.ID()); err != nil {
			return err
		} else if done {
			continue
		}
		if cur, _, err := prs.Current(rctx, w.prs, req.Run); err != nil {
			return err
		} else if !cur {
			continue // its own next delivery drops it
		}
		if err := w.finish(rctx, in, req, &ci); err != nil {
			return err
		}
	}
	return nil
}
