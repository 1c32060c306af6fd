package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/bus"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/observe"
)

// MaxPayload is the largest delivery accepted; GitHub caps payloads at
// 25 MB.
const MaxPayload = 25 << 20

// Publisher stores an event in JetStream and waits for the PubAck.
type Publisher interface {
	Publish(ctx context.Context, m events.Message, opts ...bus.PubOption) (bus.PubResult, error)
}

// hooks is what every webhook handler shares.
type hooks struct {
	pub     Publisher
	webHost string
	appID   int64
	now     func() time.Time
}

// Webhook is the handler at githubapp.DefaultWebhookRoute: it checks
// X-Hub-Signature-256 (401 when missing or wrong), then go-githubapp's
// dispatcher runs the handler of the event type synchronously, so that
// the answer is 2xx only once the normalised event is stored in
// JetStream. A malformed payload answers 400, a failed publish 500, an
// event type nobody handles 202.
func Webhook(base *zerolog.Logger, secret string, pub Publisher, webHost string, appID int64) http.Handler {
	h := &hooks{pub: pub, webHost: webHost, appID: appID, now: time.Now}
	d := githubapp.NewEventDispatcher(
		// One handler per event type, in one list.
		[]githubapp.EventHandler{
			pullRequestHandler{h},
			checkRunHandler{h},
			installationHandler{h},
		},
		secret,
		githubapp.WithErrorCallback(onError),
	)
	return requireSignature(base, []byte(secret), d)
}

// requireSignature refuses deliveries without a valid HMAC-SHA256 of the
// body under the webhook secret: GitHub Apps always sign with SHA-256, so
// the legacy SHA-1 header alone is not enough.
func requireSignature(base *zerolog.Logger, secret []byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The dispatcher adds the event type and delivery id itself.
		r = r.WithContext(base.WithContext(r.Context()))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPayload))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "payload over 25 MB", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read the payload", http.StatusBadRequest)
			return
		}
		if !validSignature(secret, body, r.Header.Get(github.SHA256SignatureHeader)) {
			base.Warn().Str(githubapp.LogKeyEventType, r.Header.Get("X-GitHub-Event")).
				Str(githubapp.LogKeyDeliveryID, r.Header.Get("X-GitHub-Delivery")).
				Bool("signed", r.Header.Get(github.SHA256SignatureHeader) != "").
				Msg("github: webhook delivery with a missing or wrong X-Hub-Signature-256; refused")
			http.Error(w, "missing or invalid X-Hub-Signature-256", http.StatusUnauthorized)
			return
		}
		if r.Header.Get("X-GitHub-Delivery") == "" {
			http.Error(w, "missing X-GitHub-Delivery", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// onError answers 400 for a delivery that cannot be read and 500 for
// anything else (a publish that failed): GitHub then shows the delivery
// as failed, and it can be redelivered.
func onError(w http.ResponseWriter, r *http.Request, err error) {
	log := zerolog.Ctx(r.Context())
	var ve githubapp.ValidationError
	if errors.As(err, &ve) {
		log.Warn().Err(ve.Cause).Msg("github: invalid webhook delivery")
		http.Error(w, "invalid webhook headers or payload", http.StatusBadRequest)
		return
	}
	log.Error().Err(err).Msg("github: webhook event not stored; answering 500 so the delivery can be redelivered")
	http.Error(w, "the event could not be stored", http.StatusInternalServerError)
}

func invalid(eventType, deliveryID string, err error) error {
	return githubapp.ValidationError{EventType: eventType, DeliveryID: deliveryID, Cause: err}
}

// publish stores one normalised event.
func (h *hooks) publish(ctx context.Context, ev events.PREvent) error {
	ctx, cancel := bus.Detach(observe.WithDeliveryID(ctx, ev.DeliveryID))
	defer cancel()
	res, err := h.pub.Publish(ctx, ev)
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx).With().Str("action", ev.Action).Str(observe.FieldRepo, ev.Run.Repository).
		Int(observe.FieldPR, ev.Run.PR).Uint64(observe.FieldStreamSeq, res.Seq).Logger()
	if res.Duplicate {
		log.Info().Msg("github: delivery already stored; nothing new")
		return nil
	}
	log.Info().Msg("github: event stored")
	return nil
}

// pullRequestActions are the pull_request actions the gate reads.
var pullRequestActions = []string{"opened", "synchronize", "reopened", "ready_for_review", "converted_to_draft",
	"labeled", "unlabeled", "closed", "edited"}

type pullRequestHandler struct{ *hooks }

func (pullRequestHandler) Handles() []string { return []string{"pull_request"} }

func (h pullRequestHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev github.PullRequestEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	if !slices.Contains(pullRequestActions, ev.GetAction()) {
		zerolog.Ctx(ctx).Debug().Str("action", ev.GetAction()).Msg("github: pull_request action diffgate does not read")
		return nil
	}
	pe, err := normalisePR(h.webHost, deliveryID, h.now(), &ev)
	if err != nil {
		return invalid(eventType, deliveryID, err)
	}
	return h.publish(ctx, pe)
}

// normalisePR turns a pull_request delivery into a PREvent.
func normalisePR(webHost, deliveryID string, now time.Time, ev *github.PullRequestEvent) (events.PREvent, error) {
	pr, repo := ev.GetPullRequest(), ev.GetRepo()
	if pr == nil || repo.GetFullName() == "" || pr.GetHead().GetSHA() == "" {
		return events.PREvent{}, errors.New("pull_request payload without pull_request, repository or head")
	}
	out := events.PREvent{
		Version: events.Version, Provider: events.GitHub, DeliveryID: deliveryID, ReceivedAt: now.UTC(),
		Action: ev.GetAction(),
		Run:    runOf(webHost, webHost+"/"+repo.GetFullName(), ev.GetInstallation().GetID(), pr),
		Label:  ev.GetLabel().GetName(),
	}
	fillPR(&out, pr)
	return out, nil
}

// runOf is the run identity of a pull request at its current head.
func runOf(webHost, repository string, installation int64, pr *github.PullRequest) events.Run {
	return events.Run{
		Provider: events.GitHub, Repository: repository, PR: pr.GetNumber(),
		HeadSHA: pr.GetHead().GetSHA(), BaseSHA: pr.GetBase().GetSHA(),
		Installation: installation, BaseRef: pr.GetBase().GetRef(), HeadRef: pr.GetHead().GetRef(),
		URL: pr.GetHTMLURL(), Title: pr.GetTitle(),
	}
}

// fillPR copies the pull request's state onto an event.
func fillPR(out *events.PREvent, pr *github.PullRequest) {
	out.Draft = pr.GetDraft()
	out.Merged = pr.GetMerged()
	out.Author = pr.GetUser().GetLogin()
	out.Labels = nil
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	headRepo, baseRepo := pr.GetHead().GetRepo().GetFullName(), pr.GetBase().GetRepo().GetFullName()
	// A deleted fork has no head repository at all.
	out.Fork = headRepo == "" || !strings.EqualFold(headRepo, baseRepo)
}

type checkRunHandler struct{ *hooks }

func (checkRunHandler) Handles() []string { return []string{"check_run"} }

// Handle turns "Re-run" on diffgate's check into a rerun event. GitHub
// lists the check's pull requests except for heads in forks; then the
// event names none and the gate looks the pull request up by head commit
// (an API call, so not on this path).
func (h checkRunHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	// Only the fields read here are decoded: GitHub's check_run payloads
	// carry timestamps in more than one format.
	var ev struct {
		Action   string `json:"action"`
		CheckRun struct {
			Name       string `json:"name"`
			HeadSHA    string `json:"head_sha"`
			ExternalID string `json:"external_id"`
			App        struct {
				ID int64 `json:"id"`
			} `json:"app"`
			CheckSuite struct {
				HeadBranch string `json:"head_branch"`
			} `json:"check_suite"`
			PullRequests []struct {
				Number int   `json:"number"`
				Head   prRef `json:"head"`
				Base   prRef `json:"base"`
			} `json:"pull_requests"`
		} `json:"check_run"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	cr := ev.CheckRun
	if ev.Action != "rerequested" || cr.Name != CheckName || (cr.App.ID != 0 && cr.App.ID != h.appID) {
		zerolog.Ctx(ctx).Debug().Str("action", ev.Action).Str("check", cr.Name).Msg("github: check_run event not about re-running diffgate")
		return nil
	}
	if ev.Repository.FullName == "" || cr.HeadSHA == "" {
		return invalid(eventType, deliveryID, errors.New("check_run payload without repository or head_sha"))
	}
	run := events.Run{Provider: events.GitHub, Repository: h.webHost + "/" + ev.Repository.FullName,
		HeadSHA: cr.HeadSHA, Installation: ev.Installation.ID, HeadRef: cr.CheckSuite.HeadBranch}
	// The check's external id is the head key of one pull request: pick
	// that one when GitHub lists several with this head.
	for _, p := range cr.PullRequests {
		cand := run
		cand.PR, cand.BaseSHA, cand.BaseRef, cand.HeadRef = p.Number, p.Base.SHA, p.Base.Ref, p.Head.Ref
		if run.PR == 0 || cand.HeadKey() == cr.ExternalID {
			run = cand
		}
	}
	return h.publish(ctx, events.PREvent{Version: events.Version, Provider: events.GitHub, DeliveryID: deliveryID,
		ReceivedAt: h.now().UTC(), Action: "rerun", Run: run})
}

type prRef struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}

type installationHandler struct{ *hooks }

func (installationHandler) Handles() []string {
	return []string{"installation", "installation_repositories"}
}

// Handle logs installations: access is checked per request, so there is
// nothing to store.
func (h installationHandler) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev struct {
		Action       string `json:"action"`
		Installation struct {
			ID      int64 `json:"id"`
			Account struct {
				Login string `json:"login"`
			} `json:"account"`
		} `json:"installation"`
		Added []struct {
			FullName string `json:"full_name"`
		} `json:"repositories_added"`
		Removed []struct {
			FullName string `json:"full_name"`
		} `json:"repositories_removed"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		return invalid(eventType, deliveryID, err)
	}
	names := func(list []struct {
		FullName string `json:"full_name"`
	}) []string {
		var out []string
		for _, r := range list {
			out = append(out, r.FullName)
		}
		return out
	}
	zerolog.Ctx(ctx).Info().Str("action", ev.Action).Int64(githubapp.LogKeyInstallationID, ev.Installation.ID).
		Str("account", ev.Installation.Account.Login).Strs("added", names(ev.Added)).Strs("removed", names(ev.Removed)).
		Msgf("github: %s %s", eventType, ev.Action)
	return nil
}
