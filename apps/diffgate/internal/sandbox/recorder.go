package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/diffgate/diffgate/apps/github/githubtest"
)

// Write is one check run or comment the App wrote to GitHub and GitHub
// accepted, in the order they arrived.
type Write struct {
	At time.Time
	// Repo is owner/name.
	Repo string
	// Kind is "check_run" or "comment"; Created tells a creation from an
	// edit.
	Kind    string
	Created bool
	// Check runs: the check run, its head commit and what it showed.
	CheckRunID int64
	HeadSHA    string
	Status     string
	Conclusion string
	Title      string
	DetailsURL string
	// Comments: the pull request (on creation) and the body.
	Number int
	Body   string
}

// Recorder is a proxy in front of the stand-in GitHub's API that keeps
// what the App wrote, so that the demo can show every step of the check
// run and a benchmark can time the report's arrival.
type Recorder struct {
	// URL is the proxy's base URL; the App's api_url is URL + "/api/v3/".
	URL string

	gh  *githubtest.Server
	srv *httptest.Server

	mu      sync.Mutex
	writes  []Write
	changed chan struct{} // closed and replaced on every write
}

var (
	checkCreate   = regexp.MustCompile(`^/api/v3/repos/([^/]+/[^/]+)/check-runs$`)
	checkUpdate   = regexp.MustCompile(`^/api/v3/repos/([^/]+/[^/]+)/check-runs/(\d+)$`)
	commentCreate = regexp.MustCompile(`^/api/v3/repos/([^/]+/[^/]+)/issues/(\d+)/comments$`)
	commentUpdate = regexp.MustCompile(`^/api/v3/repos/([^/]+/[^/]+)/issues/comments/(\d+)$`)
)

func newRecorder(gh *githubtest.Server) *Recorder {
	target, _ := url.Parse(gh.URL)
	r := &Recorder{gh: gh, changed: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = recording{r: r, next: http.DefaultTransport}
	r.srv = httptest.NewServer(proxy)
	r.URL = r.srv.URL
	return r
}

func (r *Recorder) close() { r.srv.Close() }

// recording records a write as soon as the stand-in has answered it: the
// App may hang up before the proxy has passed on the whole answer.
type recording struct {
	r    *Recorder
	next http.RoundTripper
}

func (t recording) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Method == http.MethodPost || req.Method == http.MethodPatch {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || body == nil {
		return resp, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	if resp.StatusCode/100 == 2 {
		t.r.record(req.Method, req.URL.Path, body, answer)
	}
	return resp, nil
}

// record keeps one accepted write.
func (r *Recorder) record(method, path string, req, resp []byte) {
	var in struct {
		HeadSHA    string `json:"head_sha"`
		Status     string `json:"status"`
		Conclusion string `json:"conclusion"`
		DetailsURL string `json:"details_url"`
		Output     *struct {
			Title string `json:"title"`
		} `json:"output"`
		Body string `json:"body"`
	}
	_ = json.Unmarshal(req, &in)
	var out struct {
		ID      int64  `json:"id"`
		HeadSHA string `json:"head_sha"`
		Status  string `json:"status"`
	}
	_ = json.Unmarshal(resp, &out)
	w := Write{At: time.Now(), Status: in.Status, Conclusion: in.Conclusion, DetailsURL: in.DetailsURL, Body: in.Body}
	if in.Output != nil {
		w.Title = in.Output.Title
	}
	switch {
	case method == http.MethodPost && checkCreate.MatchString(path):
		m := checkCreate.FindStringSubmatch(path)
		w.Kind, w.Created, w.Repo, w.CheckRunID, w.HeadSHA = "check_run", true, m[1], out.ID, in.HeadSHA
	case method == http.MethodPatch && checkUpdate.MatchString(path):
		m := checkUpdate.FindStringSubmatch(path)
		w.Kind, w.Repo = "check_run", m[1]
		w.CheckRunID, _ = strconv.ParseInt(m[2], 10, 64)
		w.HeadSHA = out.HeadSHA
		if w.Status == "" {
			w.Status = out.Status
		}
	case method == http.MethodPost && commentCreate.MatchString(path):
		m := commentCreate.FindStringSubmatch(path)
		w.Kind, w.Created, w.Repo = "comment", true, m[1]
		w.Number, _ = strconv.Atoi(m[2])
	case method == http.MethodPatch && commentUpdate.MatchString(path):
		m := commentUpdate.FindStringSubmatch(path)
		w.Kind, w.Repo = "comment", m[1]
	default:
		return
	}
	if w.Kind == "check_run" && w.Conclusion != "" && w.Status == "" {
		w.Status = "completed"
	}
	r.mu.Lock()
	r.writes = append(r.writes, w)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Writes returns every write so far.
func (r *Recorder) Writes() []Write {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Write(nil), r.writes...)
}

// Next waits until there are more than n writes and returns those after
// the first n.
func (r *Recorder) Next(ctx context.Context, n int) ([]Write, error) {
	for {
		r.mu.Lock()
		if len(r.writes) > n {
			out := append([]Write(nil), r.writes[n:]...)
			r.mu.Unlock()
			return out, nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}
