package charttest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/diffgate/diffgate/shared/testenv"
)

func remarshal(t *testing.T, from, into any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// NATS comes from the official chart, only when nats.enabled, with
// JetStream on.
func TestNATSDependency(t *testing.T) {
	c := loadChart(t)
	var found bool
	for _, d := range c.Metadata.Dependencies {
		if d.Name != "nats" {
			t.Errorf("unexpected dependency %s", d.Name)
			continue
		}
		found = true
		if d.Condition != "nats.enabled" {
			t.Errorf("nats dependency condition %q, want nats.enabled", d.Condition)
		}
		if !strings.HasPrefix(d.Repository, "https://nats-io.github.io/k8s/helm/charts") {
			t.Errorf("nats dependency from %s, want the official NATS chart repository", d.Repository)
		}
	}
	if !found {
		t.Fatal("no nats dependency")
	}
	var v struct {
		NATS struct {
			Config struct {
				JetStream struct {
					Enabled bool `json:"enabled"`
				} `json:"jetstream"`
			} `json:"config"`
		} `json:"nats"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "../values.yaml")), &v); err != nil {
		t.Fatal(err)
	}
	if !v.NATS.Config.JetStream.Enabled {
		t.Error("the bundled NATS chart must run with JetStream on (nats.config.jetstream.enabled)")
	}
}

// Templates keep one style: .yaml files, nindent rather than indent (so an
// include's first line cannot land at the wrong depth).
func TestTemplateStyle(t *testing.T) {
	indent := regexp.MustCompile(`\|\s*indent\b|\{\{-?\s*indent\b`)
	err := filepath.WalkDir("../templates", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".tpl":
		case ".txt":
			if d.Name() != "NOTES.txt" {
				t.Errorf("%s: only NOTES.txt may be .txt", path)
			}
		default:
			t.Errorf("%s: templates are .yaml (helpers .tpl)", path)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if indent.MatchString(sc.Text()) {
				t.Errorf("%s:%d: use nindent, not indent", path, n)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The README's values table lists every key of values.yaml down to the
// second level, and nothing that is not there.
func TestReadmeDocumentsValues(t *testing.T) {
	var v map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, "../values.yaml")), &v); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k, val := range v {
		sub, ok := val.(map[string]any)
		if !ok || len(sub) == 0 || k == "config" {
			want = append(want, k)
			continue
		}
		for s := range sub {
			want = append(want, k+"."+s)
		}
	}
	sort.Strings(want)
	row := regexp.MustCompile("^\\| `([A-Za-z0-9_.]+)` \\|")
	var got []string
	_, table, ok := strings.Cut(readFile(t, "../README.md"), "\n## Values\n")
	if !ok {
		t.Fatal("README.md has no ## Values section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	for _, line := range strings.Split(table, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			got = append(got, m[1])
		}
	}
	sort.Strings(got)
	got = slices.Compact(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("README values table vs values.yaml (-values.yaml +README):\n%s", diff)
	}
}

// helm lint passes for the defaults and every values file. The only
// warning allowed is the one for the NATS chart, which is declared but not
// vendored (run `helm dependency update` to fetch it).
func TestHelmLint(t *testing.T) {
	helm, err := exec.LookPath("helm")
	if err != nil {
		if gopath, e := exec.Command("go", "env", "GOPATH").Output(); e == nil {
			p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm")
			if _, e := os.Stat(p); e == nil {
				helm, err = p, nil
			}
		}
	}
	if err != nil {
		testenv.SkipOrFail(t, "helm is not installed (scripts/setup.sh installs it)")
	}
	for _, file := range valuesFiles {
		t.Run(testName(file), func(t *testing.T) {
			args := []string{"lint", "..", "--namespace", namespace}
			if file != "" {
				args = append(args, "--values", file)
			}
			out, err := exec.Command(helm, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				switch {
				case strings.Contains(line, "missing these dependencies: nats"):
				case strings.Contains(line, "[ERROR]"), strings.Contains(line, "[WARNING]"), strings.Contains(line, "Fail:"):
					t.Errorf("helm lint: %s", line)
				}
			}
		})
	}
}
