package ciwait

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/dbtcloud"
)

// pollState is the shared, recent list of one dbt Cloud job's pull
// request runs. One delivery refreshes it per poll interval; every other
// run waiting on the job reads it.
type pollState struct {
	// FetchedAt is when the list was requested; the list is fresh for one
	// poll interval after it.
	FetchedAt time.Time `json:"fetched_at,omitzero"`
	Runs      []ciRun   `json:"runs,omitempty"`
	// Requests is the number of list requests the refresh took (dbt Cloud
	// pages at 100 runs).
	Requests int `json:"requests,omitempty"`
	// Error is why the last refresh failed, as the dbt Cloud client says
	// it (never with the token); Runs are then the previous list.
	// Permanent is set when trying again cannot help (token, job id).
	Error     string `json:"error,omitempty"`
	Permanent bool   `json:"permanent,omitempty"`

	// ClaimedBy is set while a delivery refreshes the list.
	ClaimedBy string    `json:"claimed_by,omitempty"`
	ClaimedAt time.Time `json:"claimed_at,omitzero"`
}

const (
	// claimTTL is how long a refresh may hold its claim before another
	// delivery takes over (the claimer died or dbt Cloud is very slow).
	claimTTL = 3 * time.Minute
	// lookback is added to the timeout when deciding how far back the
	// shared list reaches: a CI run can start a little before diffgate
	// hears of the push.
	lookback = 15 * time.Minute
	// maxPages bounds one refresh (1,000 runs).
	maxPages = 10
)

// errRefreshing: another delivery is refreshing the shared list right now.
var errRefreshing = errors.New("ciwait: the job's run list is being refreshed")

// jobRuns returns the shared list of the integration's CI job runs,
// refreshing it when it is older than the poll interval and nobody else is
// at it. It returns errRefreshing while another delivery refreshes it. A
// failed refresh is not an error here: the state carries it (Error), so
// that every waiting run sees the same failure until the next interval.
func (w *Worker) jobRuns(ctx context.Context, in *config.Integration, cl *dbtcloud.Client) (*pollState, error) {
	d := in.DBTCloud
	key := pollKey(d.AccountID, d.PRJobID)
	interval := d.PollInterval.D()
	var (
		prev    pollState
		claimed uint64
		now     time.Time
	)
	for attempt := 0; claimed == 0; attempt++ {
		var st pollState
		var rev uint64
		e, err := w.state.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision()
			st = w.decodePoll(key, rev, e.Value())
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return nil, fmt.Errorf("ciwait: read %s: %w", key, err)
		}
		now = w.now()
		if !st.FetchedAt.IsZero() && now.Sub(st.FetchedAt) < interval {
			return &st, nil
		}
		if st.ClaimedBy != "" && now.Sub(st.ClaimedAt) < claimTTL {
			return &st, errRefreshing
		}
		claim := st
		claim.ClaimedBy, claim.ClaimedAt = token(), now
		data, _ := json.Marshal(claim)
		if rev == 0 {
			claimed, err = w.state.Create(ctx, key, data)
		} else {
			claimed, err = w.state.Update(ctx, key, data, rev)
		}
		switch {
		case err == nil:
			prev = st
		case errors.Is(err, jetstream.ErrKeyExists) && attempt < 5:
			// Another delivery claimed or refreshed it first: read again.
			claimed = 0
		default:
			return nil, fmt.Errorf("ciwait: claim %s: %w", key, err)
		}
	}

	runs, requests, err := w.listJob(ctx, in, cl, now)
	res := pollState{FetchedAt: now, Runs: runs, Requests: requests}
	log := zerolog.Ctx(ctx).With().Int64("dbt_cloud_job", d.PRJobID).Int("requests", requests).Logger()
	if err != nil {
		res.Runs, res.Error, res.Permanent = prev.Runs, err.Error(), dbtcloud.Permanent(err)
		log.Warn().Err(err).Msg("ciwait: listing the CI job's runs failed")
	} else {
		log.Debug().Int("runs", len(runs)).Msg("ciwait: listed the CI job's runs")
	}
	data, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("ciwait: encode %s: %w", key, err)
	}
	if _, err := w.state.Update(ctx, key, data, claimed); err != nil {
		// The claim outlived claimTTL and another refresh took over;
		// its list stands, this one is still good for this delivery.
		log.Debug().Err(err).Msg("ciwait: refreshed list not stored")
	}
	return &res, nil
}

// decodePoll decodes a poll state, reusing the last decoding of the same
// revision: every waiting run reads the same list each interval, and it
// can hold a thousand runs.
func (w *Worker) decodePoll(key string, rev uint64, data []byte) pollState {
	w.mu.Lock()
	c, ok := w.polls[key]
	w.mu.Unlock()
	if ok && c.rev == rev {
		return c.st
	}
	var st pollState
	if json.Unmarshal(data, &st) != nil {
		st = pollState{}
	}
	w.mu.Lock()
	w.polls[key] = cachedPoll{rev: rev, st: st}
	w.mu.Unlock()
	return st
}

// cachedPoll is a decoded poll state and its KV revision. Readers must
// not change st.Runs (it is shared).
type cachedPoll struct {
	rev uint64
	st  pollState
}

// listJob lists the CI job's pull request runs, newest first, back to the
// oldest a waiting run could need (its timeout plus lookback), in as few
// pages as that takes.
func (w *Worker) listJob(ctx context.Context, in *config.Integration, cl *dbtcloud.Client, now time.Time) ([]ciRun, int, error) {
	d := in.DBTCloud
	horizon := now.Add(-d.Timeout.D() - lookback)
	var runs []ciRun
	offset := 0
	for n := 1; ; n++ {
		page, err := cl.ListRuns(ctx, d.AccountID, dbtcloud.RunFilter{
			JobDefinitionID: d.PRJobID,
			OrderBy:         "-id",
			Limit:           100,
			Offset:          offset,
			IncludeRelated:  []string{dbtcloud.RelatedTrigger},
		})
		if err != nil {
			return runs, n, err
		}
		for i := range page.Runs {
			if r := toCIRun(cl, &page.Runs[i]); r.PR != 0 {
				runs = append(runs, r)
			}
		}
		offset = page.Offset + len(page.Runs)
		if len(page.Runs) == 0 || !page.More() || n >= maxPages {
			return runs, n, nil
		}
		if oldest := page.Runs[len(page.Runs)-1].CreatedAt.Time; !oldest.IsZero() && oldest.Before(horizon) {
			return runs, n, nil
		}
	}
}

// lookUp finds the CI run of one waiting run outside the shared list: by
// id when it was seen before (it has fallen out of the list), else among
// the job's runs for the PR. The shared list reaches back only so far; a
// run requested long after its CI run (a label added days after the push)
// needs this once.
func lookUp(ctx context.Context, in *config.Integration, cl *dbtcloud.Client, rec waiting) (*ciRun, error) {
	d := in.DBTCloud
	run := rec.Request.Run
	if rec.CIRunID != 0 {
		r, err := cl.GetRun(ctx, d.AccountID, rec.CIRunID, dbtcloud.RelatedTrigger)
		if err != nil {
			return nil, err
		}
		cr := toCIRun(cl, r)
		return &cr, nil
	}
	offset := 0
	for n := 1; n <= 3; n++ {
		page, err := cl.ListRuns(ctx, d.AccountID, dbtcloud.RunFilter{
			JobDefinitionID: d.PRJobID,
			// dbt Cloud's spec does not promise this filter; the runs
			// are checked below either way.
			PullRequestID:  int64(run.PR),
			OrderBy:        "-id",
			Limit:          100,
			Offset:         offset,
			IncludeRelated: []string{dbtcloud.RelatedTrigger},
		})
		if err != nil {
			return nil, err
		}
		for i := range page.Runs {
			if cr := toCIRun(cl, &page.Runs[i]); cr.builds(run.PR, run.HeadSHA) {
				return &cr, nil // newest first
			}
		}
		offset = page.Offset + len(page.Runs)
		if len(page.Runs) == 0 || !page.More() {
			break
		}
	}
	return nil, nil
}

func token() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
