package charttest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart, relative to this package.
const chartDir = ".."

const (
	releaseName = "rel"
	namespace   = "data"
)

// components are the chart's components in the order it renders them.
var components = []string{"github", "gitlab", "ciwait", "manifests", "impact", "differ", "reporter"}

// valuesFiles are the values files every general test renders; "" is the
// chart's defaults alone.
var valuesFiles = []string{"", "testdata/production.yaml", "testdata/gitlab.yaml"}

// objects is one rendering of the chart, decoded.
type objects struct {
	// files is the rendered text per template path.
	files           map[string]string
	deployments     map[string]*appsv1.Deployment // by component
	services        map[string]*corev1.Service
	pdbs            map[string]*policyv1.PodDisruptionBudget
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	configMaps      []*corev1.ConfigMap
	ingresses       []*networkingv1.Ingress
	pods            []*corev1.Pod            // helm test hooks
	serviceMonitors []map[string]any         // no typed API without the operator's module
	kinds           map[string]int           // count per kind
	labels          map[string][]labelsOfObj // component → objects carrying its label
}

type labelsOfObj struct{ kind, name string }

// loadChart loads the chart afresh: rendering processes its dependencies
// in place, so a loaded chart serves one rendering only.
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// values merges the values files (in order) and then the overrides, as
// `helm -f a.yaml -f b.yaml --set ...` would.
func values(t *testing.T, files []string, overrides ...string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range files {
		if f == "" {
			continue
		}
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			t.Fatalf("values file %s: %v", f, err)
		}
		out = merge(out, v.AsMap())
	}
	for _, o := range overrides {
		var v map[string]any
		if err := yaml.Unmarshal([]byte(o), &v); err != nil {
			t.Fatalf("override %q: %v", o, err)
		}
		out = merge(out, v)
	}
	return out
}

// merge deep-merges b into a; b wins, maps merge, anything else replaces.
func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := a[k].(map[string]any); ok {
				a[k] = merge(am, bm)
				continue
			}
		}
		a[k] = v
	}
	return a
}

// renderErr renders the chart as `helm install` would (minus the check
// that the dependency is downloaded, which the chart tests cannot do).
func renderErr(t *testing.T, vals map[string]any) (*objects, error) {
	t.Helper()
	c := loadChart(t)
	if err := chartutil.ProcessDependenciesWithMerge(c, vals); err != nil {
		return nil, fmt.Errorf("dependencies: %w", err)
	}
	top, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return nil, err
	}
	return decode(t, files), nil
}

func render(t *testing.T, vals map[string]any) *objects {
	t.Helper()
	o, err := renderErr(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return o
}

func renderFile(t *testing.T, file string, overrides ...string) *objects {
	t.Helper()
	var files []string
	if file != "" {
		files = []string{file}
	}
	return render(t, values(t, files, overrides...))
}

// decode splits the rendered files into objects and decodes each into its
// typed API object, strictly: a misspelt field fails the test.
func decode(t *testing.T, files map[string]string) *objects {
	t.Helper()
	o := &objects{
		files:       files,
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		pdbs:        map[string]*policyv1.PodDisruptionBudget{},
		hpas:        map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		kinds:       map[string]int{},
		labels:      map[string][]labelsOfObj{},
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, helpers
		}
		for _, doc := range strings.Split(files[name], "\n---") {
			if strings.TrimSpace(strings.TrimPrefix(doc, "---")) == "" {
				continue
			}
			var u map[string]any
			if err := yaml.Unmarshal([]byte(doc), &u); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", name, err, doc)
			}
			if len(u) == 0 {
				continue
			}
			kind, _ := u["kind"].(string)
			o.kinds[kind]++
			meta, _ := u["metadata"].(map[string]any)
			objName, _ := meta["name"].(string)
			lbls, _ := meta["labels"].(map[string]any)
			if comp, ok := lbls["app.kubernetes.io/component"].(string); ok {
				o.labels[comp] = append(o.labels[comp], labelsOfObj{kind, objName})
			}
			strict := func(into any) {
				if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
					t.Fatalf("%s: %s %s does not decode as a %T: %v", name, kind, objName, into, err)
				}
			}
			comp, _ := lbls["app.kubernetes.io/component"].(string)
			switch kind {
			case "Deployment":
				d := &appsv1.Deployment{}
				strict(d)
				o.deployments[comp] = d
			case "Service":
				s := &corev1.Service{}
				strict(s)
				o.services[comp] = s
			case "PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				strict(p)
				o.pdbs[comp] = p
			case "HorizontalPodAutoscaler":
				h := &autoscalingv2.HorizontalPodAutoscaler{}
				strict(h)
				o.hpas[comp] = h
			case "ConfigMap":
				c := &corev1.ConfigMap{}
				strict(c)
				o.configMaps = append(o.configMaps, c)
			case "ServiceAccount":
				strict(&corev1.ServiceAccount{})
			case "Ingress":
				i := &networkingv1.Ingress{}
				strict(i)
				o.ingresses = append(o.ingresses, i)
			case "Pod":
				p := &corev1.Pod{}
				strict(p)
				o.pods = append(o.pods, p)
			case "ServiceMonitor":
				o.serviceMonitors = append(o.serviceMonitors, u)
			default:
				t.Fatalf("%s: unexpected kind %q: add it to the render tests", name, kind)
			}
		}
	}
	return o
}

// config is the rendered diffgate.yaml.
func (o *objects) config(t *testing.T) string {
	t.Helper()
	if len(o.configMaps) != 1 {
		t.Fatalf("%d ConfigMaps rendered, want 1", len(o.configMaps))
	}
	cfg, ok := o.configMaps[0].Data["diffgate.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no diffgate.yaml", o.configMaps[0].Name)
	}
	return cfg
}

// configChecksum is what the pods' checksum/config annotation must be.
func (o *objects) configChecksum(t *testing.T) string {
	t.Helper()
	text, ok := o.files["diffgate/templates/configmap.yaml"]
	if !ok {
		t.Fatal("templates/configmap.yaml was not rendered")
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// testName names a values file in subtests.
func testName(file string) string {
	if file == "" {
		return "defaults"
	}
	return strings.TrimSuffix(filepath.Base(file), ".yaml")
}

// container is the one container of a pod spec.
func container(t *testing.T, what string, spec corev1.PodSpec) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", what, len(spec.Containers))
	}
	return spec.Containers[0]
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fileKeys are the diffgate.yaml keys that name a file the pod must have.
var fileKeys = [][]string{
	{"nats", "creds_file"},
	{"nats", "tls", "ca_file"},
	{"nats", "tls", "cert_file"},
	{"nats", "tls", "key_file"},
	{"github", "private_key_file"},
}

// inPod returns diffgate.yaml as the pod would read it: each file it names
// must lie in a Secret volume mounted in the pod, and is then created under
// a temporary directory standing in for the mount, with the config pointed
// there.
func inPod(t *testing.T, what, raw string, spec corev1.PodSpec) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatalf("diffgate.yaml: %v", err)
	}
	secretVols := map[string]bool{}
	for _, v := range spec.Volumes {
		secretVols[v.Name] = v.Secret != nil
	}
	root := t.TempDir()
	for _, key := range fileKeys {
		var v any = doc
		for _, k := range key {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		path, _ := v.(string)
		if path == "" {
			continue
		}
		mounted := false
		for _, m := range spec.Containers[0].VolumeMounts {
			if filepath.Dir(path) == m.MountPath && secretVols[m.Name] {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: %s is %s, which no Secret mounted in the pod provides", what, strings.Join(key, "."), path)
			continue
		}
		local := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(local, []byte("stand-in"), 0o600); err != nil {
			t.Fatal(err)
		}
		raw = strings.ReplaceAll(raw, path, local)
	}
	return raw
}
