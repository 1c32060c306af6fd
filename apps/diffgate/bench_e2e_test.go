package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/diffgate/diffgate/apps/diffgate/internal/sandbox"
	"github.com/diffgate/diffgate/apps/github/githubtest"
	"github.com/diffgate/diffgate/shared/bus/bustest"
	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
	"github.com/diffgate/diffgate/shared/dbtcloud"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/testenv"
	"github.com/diffgate/diffgate/workers/ciwait"
)

// The end-to-end benchmark's project (docs/benchmarks.md): 20 models of
// 100k rows.
const (
	benchModels   = 20
	benchRows     = 100_000
	benchModified = 4 // m01..m04 are edited; the others are downstream of one
	// benchDB keeps the generated tables between runs; benchVersion names
	// the generation, so a change to the tables builds them again.
	benchDB      = "diffgate_bench_e2e"
	benchVersion = "v1"
	benchPR      = 1
)

// benchProject is a project of benchModels tables of benchRows rows and
// ten columns each. The PR changes 1% of each table's rows, removes 0.1%
// and adds 0.1%.
type benchProject struct{}

func benchModel(i int) string { return fmt.Sprintf("m%02d", i) }

// Manifest implements sandbox.DBTProject.
func (benchProject) Manifest(side sandbox.Side, database, schema string) []byte {
	m := &dbtgen.Manifest{ProjectName: "bench", Database: database, Schema: schema}
	m.Sources = []*dbtgen.Source{{SourceName: "raw", Name: "events", Database: database, Schema: "raw"}}
	for i := 1; i <= benchModels; i++ {
		n := &dbtgen.Node{ResourceType: "model", Name: benchModel(i), Materialized: "table"}
		if i <= benchModified {
			n.Parents = []string{"source.bench.raw.events"}
			n.RawCode = fmt.Sprintf("select * from {{ source('raw', 'events') }} where shard = %d", i)
			if side == sandbox.PR {
				n.RawCode += " and amount is not null"
			}
		} else {
			up := benchModel((i-1)%benchModified + 1)
			n.Parents = []string{"model.bench." + up}
			n.RawCode = fmt.Sprintf("select * from {{ ref('%s') }}", up)
		}
		id := "model.bench." + n.Name
		m.Nodes = append(m.Nodes, n, &dbtgen.Node{ResourceType: "test", Name: "unique_" + n.Name + "_id", TestName: "unique",
			ColumnName: "id", AttachedNode: id, Parents: []string{id}, RawCode: "{{ test_unique(**_dbt_generic_test_kwargs) }}",
			MacroDeps: []string{"macro.dbt.test_unique"}})
	}
	return m.Bytes()
}

// HightouchModels implements sandbox.DBTProject.
func (benchProject) HightouchModels() []sandbox.HightouchModel { return nil }

// Build implements sandbox.DBTProject: the tables are generated in
// PostgreSQL, once per generation; a marker table says they are complete.
func (benchProject) Build(ctx context.Context, wh sandbox.Warehouse, side sandbox.Side, schema string) error {
	pg, ok := wh.(*sandbox.Postgres)
	if !ok {
		return fmt.Errorf("the benchmark's tables are generated in PostgreSQL, not %s", wh.Type())
	}
	db := pg.DB()
	ready := schema + "._ready_" + benchVersion
	var done bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", ready).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	stmts := []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema}
	rows, where, delta := benchRows, "", "0"
	if side == sandbox.PR {
		rows, where, delta = benchRows+benchRows/1000, " WHERE g % 1000 <> 500", "CASE WHEN g % 100 = 7 THEN 1 ELSE 0 END"
	}
	for i := 1; i <= benchModels; i++ {
		stmts = append(stmts, fmt.Sprintf(`CREATE TABLE %s.%s AS SELECT
  g AS id, (g * 7 + %d) %% 1000 AS customer_id, ((g * 13 + %d) %% 100000 + %s)::numeric(12,2) / 100 AS amount,
  'status_' || (g %% 5) AS status, DATE '2026-01-01' + (g %% 365)::int AS day, (g %% 2 = 0) AS active,
  (g %% 97)::int AS quantity, md5((g + %d)::text) AS note, (g * 31 %% 1000)::bigint AS score,
  TIMESTAMP '2026-01-01 00:00:00' + (g %% 86400) * interval '1 second' AS updated_at
FROM generate_series(1, %d) AS s(g)%s`, schema, benchModel(i), i, i, delta, i, rows, where))
	}
	stmts = append(stmts, "ANALYZE", "CREATE TABLE "+ready+" (built timestamptz DEFAULT now())")
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}

// BenchmarkEndToEnd times the end to end of docs/benchmarks.md: 20
// models × 100k rows in PostgreSQL, stand-in GitHub and dbt Cloud, every
// component in one process. It measures from the moment the stand-in's CI run turns
// success to the moment the stand-in GitHub has both the completed check
// run and the comment (ns/op is that time). With "webhook", dbt Cloud's
// job.run.completed webhook is sent as the run turns success, as dbt
// Cloud does; with "poll", diffgate learns it at its next poll (interval
// 1s, the shortest it accepts). It also prints when ciwait learnt of it.
func BenchmarkEndToEnd(b *testing.B) {
	for _, mode := range []string{"webhook", "poll"} {
		b.Run(mode, func(b *testing.B) { benchEndToEnd(b, mode == "webhook") })
	}
}

func benchEndToEnd(b *testing.B, webhook bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pg, err := sandbox.OpenPostgres(ctx, pgServer(), benchDB, true)
	if err != nil {
		testenv.SkipOrFail(b, "PostgreSQL not reachable: %v", err)
	}
	defer pg.Close()
	start := time.Now()
	logs := sandbox.NewTail(400) // shown if the pipeline stalls
	p := newStackWith(b, pg, benchProject{}, []sandbox.Integration{{Name: "bench", Provider: events.GitHub, Path: ghPlain}}, logs)
	if err := p.st.BuildPR(ctx, events.GitHub, benchPR); err != nil {
		b.Fatal(err)
	}
	b.Logf("tables ready in %s (built once in database %s, then kept)", time.Since(start).Round(time.Millisecond), benchDB)
	p.proc = p.start("diffgate", buildAll, nil)

	var total, learnt time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		sha := head(benchPR, i+1)
		ci := p.ci(b, events.GitHub, benchPR, sha, waiting)
		action := "opened"
		if i > 0 {
			action = "synchronize"
		}
		if code, _ := p.sendGH(b, "pull_request", p.st.PullRequest(action, ghPlain, benchPR, sha, nil).Payload()); code/100 != 2 {
			b.Fatalf("webhook answered %d", code)
		}
		// The run waits for its CI run, which dbt Cloud shows queued.
		p.waitCheck(b, ghPlain, sha, "waiting for its dbt Cloud run", func(c githubtest.CheckRun) bool {
			return strings.Contains(c.Title, fmt.Sprintf("dbt Cloud run #%d", ci.ID()))
		})
		seen := len(p.st.Recorder.Writes())
		b.StartTimer()

		t0 := time.Now()
		ci.SetStatus(dbtcloud.StatusSuccess)
		if webhook {
			body := p.st.DBTCloud.Webhook(ci.ID(), dbtcloud.EventRunCompleted)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.proc.URL+ciwait.HookPath, strings.NewReader(string(body)))
			req.Header.Set("Authorization", dbtcloud.SignWebhook([]byte(p.st.Env["DBT_CLOUD_WEBHOOK_SECRET"]), body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("dbt Cloud webhook answered %d", resp.StatusCode)
			}
		}
		var posted time.Time
		stalled := time.AfterFunc(time.Minute, func() {
			b.Logf("no report within a minute; the App's writes since the run was released:")
			for _, w := range p.st.Recorder.Writes()[seen:] {
				b.Logf("  %s %s %.7s %s %s %q", w.At.Format("15:04:05.000"), w.Kind, w.HeadSHA, w.Status, w.Conclusion, w.Title)
			}
			b.Logf("the last lines of the log:\n%s", logs.String())
		})
		bustest.WaitFor(b, 70*time.Second, func() error {
			var check, comment time.Time
			for _, w := range p.st.Recorder.Writes()[seen:] {
				switch {
				case w.Kind == "check_run" && w.HeadSHA == sha && w.Status == "completed":
					check = w.At
				case w.Kind == "comment":
					comment = w.At
				}
			}
			if check.IsZero() || comment.IsZero() {
				return fmt.Errorf("the report of %.7s is not posted yet", sha)
			}
			posted = check
			if comment.After(check) {
				posted = comment
			}
			return nil
		})
		b.StopTimer()
		stalled.Stop()
		total += posted.Sub(t0)

		c := p.waitConclusion(b, ghPlain, sha, "success")
		if want := fmt.Sprintf("%d of %d models differ", benchModels, benchModels); c.Title != want {
			b.Fatalf("check says %q; want %q", c.Title, want)
		}
		cs := p.st.GitHub.Comments(ghPlain, benchPR)
		if len(cs) != 1 || !strings.HasPrefix(cs[0].Body, report.StickyMarker) || !strings.Contains(cs[0].Body, events.Short(sha)) {
			b.Fatalf("%d comments; want one about %.7s", len(cs), sha)
		}
		done := stored[events.CICompleted](b, p, events.SubjectCICompleted, p.repo(events.GitHub, ghPlain), benchPR)
		j := slices.IndexFunc(done, func(m events.CICompleted) bool { return m.Run.HeadSHA == sha })
		if j < 0 {
			b.Fatalf("no CI completion of %.7s", sha)
		}
		learnt += done[j].At.Sub(t0)
		b.StartTimer()
	}
	b.StopTimer()
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per.Nanoseconds()), "ns/op")
	b.ReportMetric(per.Seconds(), "s/report")
	b.Logf("%d models × %d rows: report posted %s after the dbt Cloud run turned success (ciwait learnt it after %s, by %s); target under 5s",
		benchModels, benchRows, per.Round(time.Millisecond), (learnt / time.Duration(b.N)).Round(time.Millisecond),
		map[bool]string{true: "webhook", false: "poll"}[webhook])
}
