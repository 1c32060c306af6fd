package details

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/diffgate/diffgate/shared/report/reporttest"
	"github.com/diffgate/diffgate/shared/testenv"
)

// chromium finds Debian's chromium. Without it the browser tests skip,
// except in CI, where they must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.SkipOrFail(t, "chromium is not installed: apt-get install -y chromium (scripts/setup.sh) to run the browser tests")
	return ""
}

// browser starts a headless Chromium for the test, with a fresh profile
// and nothing that would reach the network on its own.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs the actions with a deadline, so a stuck page fails the test
// instead of hanging it.
func within[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := within(t, ctx, chromedp.FullScreenshot(100))
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	within(t, ctx, chromedp.Steps(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("h1"))))
}

func evaluate[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	return within(t, ctx, chromedp.Evaluate[T](js))
}

// headingsInOrder is a script that lists heading levels that skip one
// (an h3 straight after an h1, say), and pages with other than one h1.
const headingsInOrder = `(() => {
  const hs = [...document.querySelectorAll("h1,h2,h3,h4,h5,h6")].map(h => +h.tagName[1]);
  const bad = [];
  if (hs.filter(l => l === 1).length !== 1) bad.push("h1 count " + hs.filter(l => l === 1).length);
  for (let i = 1; i < hs.length; i++) if (hs[i] > hs[i-1] + 1) bad.push("h" + hs[i-1] + " then h" + hs[i]);
  document.querySelectorAll("thead th").forEach(th => { if (th.getAttribute("scope") !== "col") bad.push("thead th without scope=col: " + th.textContent); });
  document.querySelectorAll("a").forEach(a => { if (!a.textContent.trim()) bad.push("a link without text: " + a.href); });
  return bad;
})()`

// fitsPhone is a script that says whether the page itself scrolls
// sideways (only the tables may).
const fitsPhone = `document.documentElement.scrollWidth <= window.innerWidth`

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	s := newSite(t, reporttest.Diffs(reporttest.GitHubRun()), Options{})

	t.Run("run page", func(t *testing.T) {
		open(t, ctx, s.url(""))
		h1 := evaluate[string](t, ctx, `document.querySelector("h1").textContent`)
		if h1 != "acme/analytics #42: Apply discounts to order totals" {
			t.Errorf("h1 = %q", h1)
		}
		rows := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#models ~ .scroll tbody th")].map(th => th.textContent)`)
		want := []string{"customers", "orders", "order_returns", "fct_revenue", "stg_payments", "Sales accounts"}
		if !slices.Equal(rows, want) {
			t.Errorf("model table rows = %q, want %q", rows, want)
		}
		// What the orders change reaches, as the lineage view lists it.
		reach := evaluate[[]string](t, ctx, `(() => {
		  const h = [...document.querySelectorAll("#lineage ~ h3")].find(h => h.querySelector("code")?.textContent === "orders");
		  let el = h.nextElementSibling; while (el && !el.matches("ul.reach")) el = el.nextElementSibling;
		  return [...el.querySelectorAll("li")].map(li => li.textContent.trim());
		})()`)
		for _, name := range []string{"fct_revenue", "stg_payments", "order_returns", "Weekly revenue"} {
			if !slices.Contains(reach, name) {
				t.Errorf("lineage of orders lacks %q: %q", name, reach)
			}
		}
		if bad := evaluate[[]string](t, ctx, headingsInOrder); len(bad) > 0 {
			t.Errorf("accessibility: %q", bad)
		}
		// The link to a model page works.
		href := evaluate[string](t, ctx, `[...document.querySelectorAll("#models ~ .scroll tbody a")].find(a => a.textContent === "orders").href`)
		if !strings.Contains(href, "/models/model.jaffle.orders?t=") {
			t.Errorf("orders links to %q", href)
		}
		screenshot(t, ctx, "run.png")
	})

	t.Run("model page", func(t *testing.T) {
		open(t, ctx, s.url("model.jaffle.orders"))
		marked := evaluate[[]string](t, ctx, `[...document.querySelectorAll("table.changed td.differs mark")].map(m => m.textContent)`)
		want := []string{"120", "108.00", "placed", "40", "returned", "36.00"}
		slices.Sort(marked)
		slices.Sort(want)
		if !slices.Equal(marked, want) {
			t.Errorf("marked cells = %q, want %q", marked, want)
		}
		// The marking shows: the differing cells have a background of
		// their own.
		bg := evaluate[[]string](t, ctx, `[getComputedStyle(document.querySelector("td.differs")).backgroundColor,
		  getComputedStyle(document.querySelector("table.changed tbody td:not(.differs)")).backgroundColor]`)
		if bg[0] == bg[1] {
			t.Errorf("differing and equal cells look the same: %q", bg)
		}
		// Production above the PR, for each key.
		sides := evaluate[[]string](t, ctx, `[...document.querySelectorAll("table.changed tbody th")].map(th => th.textContent)`)
		if !slices.Equal(sides, []string{"production", "PR", "production", "PR"}) {
			t.Errorf("row sides = %q", sides)
		}
		cols := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#columns ~ .scroll tbody th")].map(th => th.textContent)`)
		if len(cols) == 0 || cols[0] != "amount" || cols[1] != "status" {
			t.Errorf("columns are not worst first: %q", cols)
		}
		if bad := evaluate[[]string](t, ctx, headingsInOrder); len(bad) > 0 {
			t.Errorf("accessibility: %q", bad)
		}
		screenshot(t, ctx, "model.png")
	})

	t.Run("phone width", func(t *testing.T) {
		within(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		for _, page := range []struct{ name, model string }{{"run-phone.png", ""}, {"model-phone.png", "model.jaffle.orders"}} {
			open(t, ctx, s.url(page.model))
			if !evaluate[bool](t, ctx, fitsPhone) {
				w := evaluate[int](t, ctx, `document.documentElement.scrollWidth`)
				t.Errorf("%s: the page is %dpx wide on a 390px screen; only tables may scroll", page.name, w)
			}
			screenshot(t, ctx, page.name)
		}
	})
}
