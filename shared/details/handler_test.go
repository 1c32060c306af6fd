package details

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/events"
	"github.com/diffgate/diffgate/shared/report"
	"github.com/diffgate/diffgate/shared/report/reporttest"
)

// site is a details server over a real object store holding one run.
type site struct {
	srv    string
	signer *Signer
	obj    jetstream.ObjectStore
	report *report.Report
	full   map[string]*datadiff.Result
	now    time.Time
}

func newSite(t *testing.T, in report.Input, opt Options) *site {
	t.Helper()
	lean, full := reporttest.Split(in)
	r := buildReport(t, lean)
	obj := objectStore(t)
	store(t, obj, r, full)
	s := &site{signer: signer(t), obj: obj, report: r, full: full, now: time.Now()}
	if opt.Now == nil {
		opt.Now = func() time.Time { return s.now }
	}
	s.srv = serve(t, NewHandler(NewObjectStore(obj), s.signer, opt)).URL
	return s
}

func (s *site) url(modelID string) string { return s.signer.URL(s.srv, s.report.RunID, modelID, s.now) }

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// flipLast changes a character inside the token's MAC.
func flipLast(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'g'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func withToken(u, token string) string {
	p, _ := url.Parse(u)
	q := p.Query()
	if token == "" {
		q.Del("t")
	} else {
		q.Set("t", token)
	}
	p.RawQuery = q.Encode()
	return p.String()
}

func TestPagesNeedAValidToken(t *testing.T) {
	s := newSite(t, reporttest.Diffs(reporttest.GitHubRun()), Options{})
	orders := "model.jaffle.orders"
	_, want404, _ := get(t, s.srv+"/details/nothing-here")
	other, _ := NewSigner([]byte(strings.Repeat("k", 40)), 0)
	expired := s.signer.Token(s.report.RunID, s.now.Add(-s.signer.TTL()-time.Minute))
	otherRun := s.signer.Token("r000000000000000000000000", s.now)

	for _, page := range []string{"", orders} {
		base := s.url(page)
		for _, tc := range []struct {
			name string
			url  string
		}{
			{"missing token", withToken(base, "")},
			{"wrong token", withToken(base, flipLast(s.signer.Token(s.report.RunID, s.now)))},
			{"token of another secret", withToken(base, other.Token(s.report.RunID, s.now))},
			{"token of another run", withToken(base, otherRun)},
			{"expired token", withToken(base, expired)},
		} {
			t.Run(tc.name+" "+page, func(t *testing.T) {
				code, body, _ := get(t, tc.url)
				if code != http.StatusNotFound {
					t.Fatalf("status %d, want 404", code)
				}
				if body != want404 {
					t.Errorf("the refusal differs from a plain 404: %q", body)
				}
			})
		}
		t.Run("valid token "+page, func(t *testing.T) {
			code, body, h := get(t, base)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if !strings.Contains(h.Get("Content-Type"), "text/html") || h.Get("Referrer-Policy") != "no-referrer" ||
				!strings.Contains(h.Get("Cache-Control"), "no-store") {
				t.Errorf("headers: %v", h)
			}
		})
	}
	t.Run("unknown model", func(t *testing.T) {
		if code, _, _ := get(t, s.url("model.jaffle.nope")); code != http.StatusNotFound {
			t.Errorf("status %d, want 404", code)
		}
	})
	t.Run("other methods", func(t *testing.T) {
		resp, err := http.Post(s.url(""), "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST status %d, want 404", resp.StatusCode)
		}
	})
}

func TestRunPageShowsTheRun(t *testing.T) {
	s := newSite(t, reporttest.Diffs(reporttest.GitHubRun()), Options{})
	_, body, _ := get(t, s.url(""))
	for _, want := range []string{
		"acme/analytics #42: Apply discounts to order totals",
		`href="https://github.com/acme/analytics/pull/42"`,
		"main @ 1a2b3c4", "orders-discounts @ 9f8e7d6",
		`href="https://cloud.getdbt.com/deploy/1/projects/5/runs/4421"`, "run #4421 (success)",
		"3 of 4 models differ",
		// The model table, complete, with figures formatted for people.
		"<code>orders</code>", "12,480", "13,672", "&#43;1,204", "−12", "2,311", "amount 81.46%",
		"fct_revenue", "not built in this pull request", "new in this pull request",
		// Key issues, lineage and downstream assets.
		"3 PR rows have a NULL key", "Weekly revenue", "Salesforce accounts → salesforce",
		"One row per order, with totals after discounts.", "finance-data",
		"legacy_orders",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	// Every model links to its page, with the same token.
	tok := url.QueryEscape(s.signer.Token(s.report.RunID, s.now))
	if !strings.Contains(body, `href="/details/`+s.report.RunID+`/models/model.jaffle.orders?t=`+tok+`"`) {
		t.Errorf("the orders model is not linked with the run's token")
	}
}

func TestModelPageShowsTheDiff(t *testing.T) {
	s := newSite(t, reporttest.Diffs(reporttest.GitHubRun()), Options{})
	_, body, _ := get(t, s.url("model.jaffle.orders"))
	for _, want := range []string{
		"<h1><code>orders</code></h1>",
		"analytics.prod.orders", "analytics.dbt_cloud_pr_22_42.orders", "order_id (found by column tag primary-key)",
		"Added (keys only in the PR)", "&#43;1,204",
		// Worst column first.
		"<code>amount</code></th><td>integer</td><td>numeric</td>",
		"discount", "added in the PR",
		`<td class="differs"><mark>120</mark></td>`, `<td class="differs"><mark>108.00</mark></td>`,
		`<td class="differs"><mark>placed</mark></td>`, `<td class="differs"><mark>returned</mark></td>`,
		"cancelled", "13001", // rows only on one side
		"select count(*) from &#34;analytics&#34;.&#34;prod&#34;.&#34;x&#34;",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("model page lacks %q", want)
		}
	}
	if i, j := strings.Index(body, "<code>amount</code></th>"), strings.Index(body, "<code>status</code></th>"); i < 0 || j < 0 || i > j {
		t.Errorf("columns are not sorted worst first")
	}
	if strings.Contains(body, `<td class="differs"><mark>7</mark>`) {
		t.Errorf("a cell that does not differ is marked")
	}
}

// A model whose samples are off shows no row value anywhere, even when
// the stored result (wrongly) carries samples.
func TestSamplesOffShowNoValues(t *testing.T) {
	in := reporttest.Diffs(reporttest.GitHubRun())
	for i := range in.Results {
		if in.Results[i].ModelName == "orders" {
			res := *in.Results[i].Result
			res.SamplesOff = "the integration marks orders as sensitive"
			in.Results[i].Result = &res
		}
	}
	s := newSite(t, in, Options{})
	_, body, _ := get(t, s.url("model.jaffle.orders"))
	if !strings.Contains(body, "Samples are off for this model: the integration marks orders as sensitive") {
		t.Errorf("the page does not say samples are off")
	}
	for _, v := range []string{"108.00", "returned", "13001", "2025-12-30", "shipped"} {
		if strings.Contains(body, v) {
			t.Errorf("the page shows the row value %q although samples are off", v)
		}
	}
	_, run, _ := get(t, s.url(""))
	for _, v := range []string{"108.00", "returned", "13001"} {
		if strings.Contains(run, v) {
			t.Errorf("the run page shows the row value %q", v)
		}
	}
}

// Secrets configured on the server never reach a page, even when a
// stage's error message or a query carries one by mistake.
func TestPagesNeverShowASecret(t *testing.T) {
	dsnPassword := "pg-P@ss<w>rd&1"
	apiToken := "dbtc_live_4f9a8b7c6d5e"
	in := reporttest.Diffs(reporttest.GitHubRun())
	for i := range in.Results {
		switch in.Results[i].ModelName {
		case "orders":
			res := *in.Results[i].Result
			res.Queries = append(res.Queries, "-- connected as diffgate:"+dsnPassword+"@warehouse", "-- "+string(testSecret))
			in.Results[i].Result = &res
		case "customers":
			in.Results[i].Result = nil
			in.Results[i].Error = &events.Error{Code: "internal", Message: "dbt Cloud said 401 for token " + apiToken}
		}
	}
	in.Plan.Warnings = []string{"signing with " + string(testSecret)}
	s := newSite(t, in, Options{Secrets: []string{dsnPassword, apiToken}})
	for _, page := range []string{"", "model.jaffle.orders", "model.jaffle.customers"} {
		code, body, _ := get(t, s.url(page))
		if code != http.StatusOK {
			t.Fatalf("%q: status %d", page, code)
		}
		for _, secret := range []string{dsnPassword, apiToken, string(testSecret), "pg-P@ss&lt;w&gt;rd&amp;1"} {
			if strings.Contains(body, secret) {
				t.Errorf("page %q shows the secret %q", page, secret)
			}
		}
		if page == "model.jaffle.customers" && !strings.Contains(body, "dbt Cloud said 401 for token [redacted]") {
			t.Errorf("the error is not shown with the secret redacted")
		}
	}
}

func TestUserTextIsEscaped(t *testing.T) {
	in := reporttest.Hostile()
	evil := "<script>alert(1)</script>"
	for i := range in.Results {
		if res := in.Results[i].Result; res != nil && res.Samples != nil {
			res.Samples.Changed[0].PR[3] = &evil
			res.Queries = append(res.Queries, "select '"+evil+"' -- -->")
		}
	}
	in.Run.Title = "Fix </title><script>alert(2)</script>"
	s := newSite(t, in, Options{})
	id := in.Plan.Models[1].ID
	for _, page := range []string{"", id} {
		_, body, _ := get(t, s.url(page))
		if strings.Contains(body, "<script") {
			t.Errorf("page %q contains a raw <script>", page)
		}
		if strings.Count(body, "</title>") != 1 {
			t.Errorf("page %q: the title was broken out of", page)
		}
	}
}

func TestMissingReports(t *testing.T) {
	obj := objectStore(t)
	sig := signer(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv := serve(t, NewHandler(NewObjectStore(obj), sig, Options{Now: func() time.Time { return now }})).URL
	run := reporttest.GitHubRun().ID()

	t.Run("expired", func(t *testing.T) {
		// A link made 31 days ago, still valid, whose report the retention
		// removed.
		u := sig.URL(srv, run, "", now.Add(-31*24*time.Hour))
		code, body, _ := get(t, u)
		if code != http.StatusGone {
			t.Fatalf("status %d, want 410", code)
		}
		for _, want := range []string{"This run&#39;s report has expired", "30 days"} {
			if !strings.Contains(body, want) {
				t.Errorf("expired page lacks %q:\n%s", want, body)
			}
		}
	})
	t.Run("not ready", func(t *testing.T) {
		code, body, _ := get(t, sig.URL(srv, run, "", now.Add(-time.Minute)))
		if code != http.StatusOK || !strings.Contains(body, "not ready yet") || !strings.Contains(body, `http-equiv="refresh"`) {
			t.Errorf("status %d, body:\n%s", code, body)
		}
	})
	t.Run("samples gone", func(t *testing.T) {
		lean, _ := reporttest.Split(reporttest.Diffs(reporttest.GitHubRun()))
		r := buildReport(t, lean)
		store(t, obj, r, nil) // the report, without the full results
		_, body, _ := get(t, sig.URL(srv, r.RunID, "model.jaffle.orders", now))
		if !strings.Contains(body, "no longer stored") || !strings.Contains(body, "13,672") {
			t.Errorf("the page should show the figures and say the samples are gone:\n%s", body)
		}
		if err := obj.Delete(context.Background(), events.ReportObject(r.RunID)); err != nil {
			t.Fatal(err)
		}
	})
}
