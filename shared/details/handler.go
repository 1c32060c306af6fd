// Package details serves the details pages of diffgate runs: a run page
// (the pull request, its commits, the dbt Cloud runs, the conclusion and
// every model) and a page per model (row counts, key statistics, column
// match rates, schema changes, sampled rows side by side, the SQL that
// ran), with the lineage of what changed and what it reaches.
//
// The pages are rendered on the server from the report and results the
// pipeline stored in the JetStream object store. Every link carries a
// token bound to its run (see Signer); without a valid one a page answers
// 404 and reveals nothing.
package details

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/diffgate/diffgate/shared/config"
	"github.com/diffgate/diffgate/shared/datadiff"
	"github.com/diffgate/diffgate/shared/report/human"
)

// DefaultRetention is how long the object store keeps reports and samples
// unless configured otherwise (server.retention); the expired page says it.
const DefaultRetention = config.DefaultRetention

// Options tune a Handler.
type Options struct {
	// Retention is how long reports are kept (the object store's TTL);
	// 0 means DefaultRetention.
	Retention time.Duration
	// Secrets are values that must never appear on a page (tokens,
	// passwords, DSNs). They are replaced by "[redacted]" in every page
	// served, as a last guard behind the pipeline's own care. The
	// signer's secret is always among them.
	Secrets []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler serves the pages under Prefix.
type Handler struct {
	store     Store
	signer    *Signer
	retention time.Duration
	now       func() time.Time
	redact    *strings.Replacer
	run       *template.Template
	model     *template.Template
	message   *template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

// rowsData feeds the "rows" template (a table of sampled rows).
type rowsData struct {
	Label string
	Cols  []string
	Rows  []template.HTML
}

func parse(page string) *template.Template {
	funcs := template.FuncMap{
		"rows": func(label string, cols []string, rows []template.HTML) rowsData {
			return rowsData{Label: label, Cols: cols, Rows: rows}
		},
	}
	return template.Must(template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html"))
}

// NewHandler returns the details pages reading from store, with links
// checked by signer.
func NewHandler(store Store, signer *Signer, opt Options) *Handler {
	h := &Handler{
		store: store, signer: signer, retention: opt.Retention, now: opt.Now,
		run: parse("run"), model: parse("model"), message: parse("message"),
	}
	if h.retention <= 0 {
		h.retention = DefaultRetention
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.redact = redactor(append([]string{string(signer.secret)}, opt.Secrets...))
	return h
}

// redactor replaces each secret, as written and as HTML-escaped, longest
// first so that a secret containing another is replaced whole.
func redactor(secrets []string) *strings.Replacer {
	seen := make(map[string]bool)
	var forms []string
	for _, s := range secrets {
		// Very short values would redact ordinary words.
		if len(s) < 6 {
			continue
		}
		for _, f := range []string{s, html.EscapeString(s), template.HTMLEscapeString(s)} {
			if !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, "[redacted]")
	}
	return strings.NewReplacer(pairs...)
}

func notFound(w http.ResponseWriter) {
	// The same answer for every refusal: no page, no token hint.
	http.Error(w, "404 page not found", http.StatusNotFound)
}

// ServeHTTP serves Prefix+{run} and Prefix+{run}/models/{model}, each
// with ?t={token}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notFound(w)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), Prefix)
	if !ok {
		notFound(w)
		return
	}
	parts := strings.Split(rest, "/")
	var runID, modelID string
	switch {
	case len(parts) == 1 && parts[0] != "":
		runID = parts[0]
	case len(parts) == 3 && parts[0] != "" && parts[1] == "models" && parts[2] != "":
		runID = parts[0]
		m, err := url.PathUnescape(parts[2])
		if err != nil {
			notFound(w)
			return
		}
		modelID = m
	default:
		notFound(w)
		return
	}
	runID, err := url.PathUnescape(runID)
	if err != nil {
		notFound(w)
		return
	}
	token := r.URL.Query().Get("t")
	now := h.now()
	issued, ok := h.signer.Verify(runID, token, now)
	if !ok {
		notFound(w)
		return
	}
	ctx := r.Context()
	log := zerolog.Ctx(ctx).With().Str("run_id", runID).Logger()

	rep, err := h.store.Report(ctx, runID)
	switch {
	case errors.Is(err, ErrNotFound):
		h.missing(ctx, w, runID, issued, now)
		return
	case err != nil:
		log.Error().Err(err).Msg("details: read report")
		http.Error(w, "500 the report could not be read", http.StatusInternalServerError)
		return
	}
	runURL := pagePath(runID, "", token)
	modelURL := func(id string) string { return pagePath(runID, id, token) }
	if modelID == "" {
		v := buildRun(rep, modelURL)
		h.write(ctx, w, http.StatusOK, h.run, page{Title: v.Heading, Body: v})
		return
	}
	m, ok := rep.Model(modelID)
	if !ok {
		notFound(w)
		return
	}
	var full *datadiff.Result
	gone := false
	if m.ModelResult != nil && m.Result() != nil {
		full, err = h.store.Result(ctx, runID, modelID, m.Full)
		switch {
		case errors.Is(err, ErrNotFound):
			gone = m.Full != nil
			full = nil
		case err != nil:
			log.Error().Err(err).Str("model_id", modelID).Msg("details: read result")
			http.Error(w, "500 the model's result could not be read", http.StatusInternalServerError)
			return
		}
	}
	v := buildModel(rep, &m, full, gone, runURL)
	h.write(ctx, w, http.StatusOK, h.model, page{Title: m.Name + " · " + runHeading(rep), Body: v})
}

type messageView struct {
	Heading    string
	Paragraphs []string
}

// missing answers a valid link whose report is not in the store: either
// the run has not finished, or the retention removed its report.
func (h *Handler) missing(ctx context.Context, w http.ResponseWriter, runID string, issued, now time.Time) {
	keep := human.Days(h.retention)
	if now.Sub(issued) >= h.retention {
		h.write(ctx, w, http.StatusGone, h.message, page{Title: "Report expired", Body: messageView{
			Heading: "This run's report has expired",
			Paragraphs: []string{
				"diffgate keeps reports and sampled rows for " + keep + "; this run's report has been removed.",
				"Push a new commit, or re-run the check, to get a fresh report.",
			},
		}})
		return
	}
	h.write(ctx, w, http.StatusOK, h.message, page{Title: "Report not ready", Refresh: 30, Body: messageView{
		Heading: "This run's report is not ready yet",
		Paragraphs: []string{
			"The run is still in progress. This page reloads every 30 seconds and shows the report once the run has finished.",
			"Reports are kept for " + keep + ".",
		},
	}})
}

func (h *Handler) write(ctx context.Context, w http.ResponseWriter, status int, t *template.Template, p page) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Msg("details: render page")
		http.Error(w, "500 the page could not be rendered", http.StatusInternalServerError)
		return
	}
	body := h.redact.Replace(buf.String())
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// The token is in the URL: keep it out of caches, referrers and
	// search engines, and allow no script at all.
	hd.Set("Cache-Control", "private, no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Robots-Tag", "noindex, nofollow")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
