package charttest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/diffgate/diffgate/shared/config"
)

// Every Deployment runs one component binary, with probes on /healthz and
// /readyz, resources, a locked-down security context, the standard labels,
// no service links and a config checksum that matches the ConfigMap.
func TestDeployments(t *testing.T) {
	for _, file := range valuesFiles {
		t.Run(testName(file), func(t *testing.T) {
			o := renderFile(t, file)
			if len(o.deployments) == 0 {
				t.Fatal("no Deployment rendered")
			}
			sum := o.configChecksum(t)
			for comp, d := range o.deployments {
				what := "Deployment " + d.Name
				if !slices.Contains(components, comp) {
					t.Errorf("%s: component label %q is not a component", what, comp)
				}
				checkLabels(t, what, d.Labels, comp)
				for k, v := range d.Spec.Selector.MatchLabels {
					if d.Spec.Template.Labels[k] != v {
						t.Errorf("%s: selector %s=%s does not match the pod labels %v", what, k, v, d.Spec.Template.Labels)
					}
				}
				if got := d.Spec.Template.Annotations["checksum/config"]; got != sum {
					t.Errorf("%s: checksum/config = %q, want the ConfigMap's %q", what, got, sum)
				}
				spec := d.Spec.Template.Spec
				if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
					t.Errorf("%s: enableServiceLinks must be false", what)
				}
				if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
					t.Errorf("%s: automountServiceAccountToken must be false", what)
				}
				if g := spec.TerminationGracePeriodSeconds; g == nil || *g <= 25 {
					t.Errorf("%s: terminationGracePeriodSeconds must exceed the 25 s drain", what)
				}
				if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
					t.Errorf("%s: pod securityContext.runAsNonRoot must be true", what)
				}
				c := container(t, what, spec)
				if want := []string{"diffgate-" + comp}; !cmp.Equal(c.Command, want) {
					t.Errorf("%s: command %v, want %v", what, c.Command, want)
				}
				checkContainer(t, what, c)
				checkVolumes(t, what, spec)
			}
		})
	}
}

func checkLabels(t *testing.T, what string, labels map[string]string, comp string) {
	t.Helper()
	want := map[string]string{
		"app.kubernetes.io/name":       "diffgate",
		"app.kubernetes.io/instance":   releaseName,
		"app.kubernetes.io/managed-by": "Helm",
		"app.kubernetes.io/component":  comp,
		"app.kubernetes.io/part-of":    "diffgate",
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", what, k, labels[k], v)
		}
	}
	for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/version"} {
		if labels[k] == "" {
			t.Errorf("%s: label %s missing", what, k)
		}
	}
}

// checkContainer checks what every diffgate container (component or
// check) must have.
func checkContainer(t *testing.T, what string, c corev1.Container) {
	t.Helper()
	if c.Image == "" || strings.HasSuffix(c.Image, ":") {
		t.Errorf("%s: image %q has no tag", what, c.Image)
	}
	if !strings.HasPrefix(what, "Pod") {
		if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
			t.Errorf("%s: ports %+v, want http on 8080", what, c.Ports)
		}
		probe := func(name string, p *corev1.Probe, path string) {
			switch {
			case p == nil || p.HTTPGet == nil:
				t.Errorf("%s: no HTTP %s probe", what, name)
			case p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http":
				t.Errorf("%s: %s probe on %s port %s, want %s port http", what, name, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
			}
		}
		probe("liveness", c.LivenessProbe, "/healthz")
		probe("readiness", c.ReadinessProbe, "/readyz")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("%s: no %s request", what, r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		t.Errorf("%s: no memory limit", what)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("%s: no container securityContext", what)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s: readOnlyRootFilesystem must be true", what)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("%s: allowPrivilegeEscalation must be false", what)
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Errorf("%s: runAsNonRoot must be true", what)
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
		t.Errorf("%s: capabilities must drop ALL", what)
	}
	env := envByName(c)
	if e := env["DIFFGATE_CONFIG"]; e.Value != "/etc/diffgate/diffgate.yaml" {
		t.Errorf("%s: DIFFGATE_CONFIG = %q", what, e.Value)
	}
}

// checkVolumes checks that every mount has its volume, that the config
// and a writable /tmp are mounted, and that secrets are mounted read-only.
func checkVolumes(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range spec.Containers[0].VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Errorf("%s: mount %s has no volume", what, m.Name)
			continue
		}
		mounts[m.MountPath] = m.Name
		if (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly {
			t.Errorf("%s: %s is mounted writable", what, m.Name)
		}
	}
	if v := vols[mounts["/etc/diffgate"]]; v.ConfigMap == nil || !strings.HasSuffix(v.ConfigMap.Name, "-config") {
		t.Errorf("%s: the config ConfigMap is not mounted at /etc/diffgate", what)
	}
	if v := vols[mounts["/tmp"]]; v.EmptyDir == nil {
		t.Errorf("%s: no emptyDir at /tmp (the root filesystem is read-only)", what)
	}
}

// Every component has a Service on its http port and a PodDisruptionBudget
// selecting its pods; no Secret is ever rendered.
func TestServicesAndDisruptionBudgets(t *testing.T) {
	for _, file := range valuesFiles {
		t.Run(testName(file), func(t *testing.T) {
			o := renderFile(t, file)
			if n := o.kinds["Secret"]; n > 0 {
				t.Errorf("%d Secrets rendered: credentials come only from existing Secrets", n)
			}
			for comp, d := range o.deployments {
				pods := d.Spec.Template.Labels
				s, ok := o.services[comp]
				if !ok {
					t.Errorf("%s: no Service", comp)
				} else {
					checkLabels(t, "Service "+s.Name, s.Labels, comp)
					if !selects(s.Spec.Selector, pods) {
						t.Errorf("Service %s selector %v does not select %v", s.Name, s.Spec.Selector, pods)
					}
					if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort.String() != "http" {
						t.Errorf("Service %s ports %+v, want one to http", s.Name, s.Spec.Ports)
					}
				}
				p, ok := o.pdbs[comp]
				if !ok {
					t.Errorf("%s: no PodDisruptionBudget", comp)
					continue
				}
				if !selects(p.Spec.Selector.MatchLabels, pods) {
					t.Errorf("PodDisruptionBudget %s does not select %v", p.Name, pods)
				}
				if p.Spec.MaxUnavailable == nil && p.Spec.MinAvailable == nil {
					t.Errorf("PodDisruptionBudget %s sets neither maxUnavailable nor minAvailable", p.Name)
				}
			}
			if len(o.services) != len(o.deployments) || len(o.pdbs) != len(o.deployments) {
				t.Errorf("%d Deployments, %d Services, %d PodDisruptionBudgets", len(o.deployments), len(o.services), len(o.pdbs))
			}
		})
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// The rendered diffgate.yaml is one every component loads with the
// environment its Deployment gives it, and each credential in it comes
// from a Secret (a ${NAME} reference), never from values.
func TestConfigLoadsInEveryComponent(t *testing.T) {
	for _, file := range valuesFiles {
		t.Run(testName(file), func(t *testing.T) {
			o := renderFile(t, file)
			raw := o.config(t)
			pods := map[string]corev1.PodSpec{}
			for comp, d := range o.deployments {
				pods["Deployment "+comp] = d.Spec.Template.Spec
			}
			for _, p := range o.pods {
				pods["Pod "+p.Name] = p.Spec
			}
			for what, spec := range pods {
				env := envByName(container(t, what, spec))
				lookup := func(name string) (string, bool) {
					e, ok := env[name]
					switch {
					case !ok:
						return "", false
					case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
						return "from-secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key, true
					}
					return e.Value, true
				}
				// Each component loads the config for itself (needing only
				// its own credentials); the helm test pod runs `diffgate
				// check`, which needs them all.
				scope := config.ScopeAll
				if comp, ok := strings.CutPrefix(what, "Deployment "); ok {
					scope = config.Scope(comp)
				}
				cfg, err := config.ParseFor([]byte(inPod(t, what, raw, spec)), lookup, scope)
				if err != nil {
					t.Errorf("%s cannot load its diffgate.yaml: %v", what, err)
					continue
				}
				for _, s := range cfg.Secrets() {
					if v := s.Value(); v != "" && !strings.HasPrefix(v, "from-secret:") {
						t.Errorf("%s: a credential in diffgate.yaml is written inline, not as a ${NAME} from a Secret", what)
					}
				}
				if cfg.Server.Listen != ":8080" {
					t.Errorf("%s: server.listen = %q, want :8080 (the probes' port)", what, cfg.Server.Listen)
				}
				if cfg.NATS.URL == "" {
					t.Errorf("%s: no nats.url: a component binary cannot start without one", what)
				}
			}
		})
	}
}

// A credential reaches only the components its secretEnv entry names; the
// others do not have the variable at all. The `helm test` pod sees every
// one.
func TestSecretsReachOnlyTheirComponents(t *testing.T) {
	o := renderFile(t, "testdata/production.yaml")
	holders := map[string][]string{
		"DIFFGATE_DETAILS_SECRET":  {"github", "gitlab"},
		"GITHUB_APP_PRIVATE_KEY":   {"github"},
		"GITHUB_WEBHOOK_SECRET":    {"github"},
		"WAREHOUSE_DSN":            {"differ"},
		"DBT_CLOUD_TOKEN":          {"ciwait", "manifests"},
		"DBT_CLOUD_WEBHOOK_SECRET": {"ciwait"},
		"HIGHTOUCH_TOKEN":          {"impact"},
	}
	for comp, d := range o.deployments {
		env := envByName(d.Spec.Template.Spec.Containers[0])
		for name, who := range holders {
			e, ok := env[name]
			switch {
			case slices.Contains(who, comp) && !ok:
				t.Errorf("%s: no %s: it needs it", comp, name)
			case slices.Contains(who, comp):
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.Value != "" {
					t.Errorf("%s: %s should come from its Secret, got %+v", comp, name, e)
				}
			case ok:
				t.Errorf("%s holds %s, which only %v may hold", comp, name, who)
			}
		}
		if env["TZ"].Value != "UTC" {
			t.Errorf("%s: extraEnv TZ missing", comp)
		}
		// The warehouse CA file is the differ's alone.
		mounted := false
		for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
			mounted = mounted || m.MountPath == "/secrets/warehouse-ca"
		}
		if mounted != (comp == "differ") {
			t.Errorf("%s: warehouse CA mounted = %v", comp, mounted)
		}
	}
	if len(o.pods) != 1 {
		t.Fatalf("%d test pods, want 1", len(o.pods))
	}
	env := envByName(o.pods[0].Spec.Containers[0])
	for name := range holders {
		if e := env[name]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("check pod: %s should come from its Secret", name)
		}
	}
	if c := o.pods[0].Spec.Containers[0]; !cmp.Equal(c.Command, []string{"diffgate"}) || !slices.Contains(c.Args, "check") {
		t.Errorf("check pod runs %v %v, want diffgate check", c.Command, c.Args)
	}
	checkContainer(t, "Pod "+o.pods[0].Name, o.pods[0].Spec.Containers[0])
	if o.pods[0].Annotations["helm.sh/hook"] != "test" {
		t.Errorf("check pod is not a helm test hook: %v", o.pods[0].Annotations)
	}
}

// Pods roll when diffgate.yaml changes, and only then.
func TestConfigChecksum(t *testing.T) {
	base := renderFile(t, "testdata/production.yaml")
	changed := renderFile(t, "testdata/production.yaml", "config: {log: {level: debug}}")
	scaled := renderFile(t, "testdata/production.yaml", "components: {reporter: {replicas: 3}}")
	for comp, d := range base.deployments {
		sum := d.Spec.Template.Annotations["checksum/config"]
		if got := changed.deployments[comp].Spec.Template.Annotations["checksum/config"]; got == sum {
			t.Errorf("%s: checksum unchanged after a config change", comp)
		}
		if got := scaled.deployments[comp].Spec.Template.Annotations["checksum/config"]; got != sum {
			t.Errorf("%s: checksum changed though the config did not", comp)
		}
	}
	if !strings.Contains(changed.config(t), "level: debug") {
		t.Error("the changed config is not in the ConfigMap")
	}
}

// A disabled component renders nothing: no Deployment, Service, budget,
// autoscaler or Ingress path.
func TestDisabledComponentsRenderNothing(t *testing.T) {
	for _, comp := range components {
		t.Run(comp, func(t *testing.T) {
			override := fmt.Sprintf("components: {%s: {enabled: false}}", comp)
			if comp == "github" {
				// /details/ then needs the GitLab app.
				override = "components: {github: {enabled: false}, gitlab: {enabled: true}}"
			}
			o := renderFile(t, "testdata/production.yaml", override)
			if objs := o.labels[comp]; len(objs) > 0 {
				t.Errorf("disabled %s still renders %v", comp, objs)
			}
			for _, ing := range o.ingresses {
				for _, p := range ing.Spec.Rules[0].HTTP.Paths {
					if strings.HasSuffix(p.Backend.Service.Name, "-"+comp) {
						t.Errorf("Ingress routes %s to the disabled %s", p.Path, comp)
					}
				}
			}
			for _, other := range components {
				enabled := other != comp && other != "gitlab" || (comp == "github" && other == "gitlab")
				if _, ok := o.deployments[other]; ok != enabled {
					t.Errorf("%s: Deployment rendered = %v, want %v", other, ok, enabled)
				}
			}
		})
	}
}

// The differ scales with an HPA (and then leaves replicas to it), or runs
// a fixed number of replicas.
func TestDifferAutoscaling(t *testing.T) {
	o := renderFile(t, "testdata/production.yaml")
	h, ok := o.hpas["differ"]
	if !ok {
		t.Fatal("no HorizontalPodAutoscaler for the differ")
	}
	if len(o.hpas) != 1 {
		t.Errorf("autoscalers for %v; only the differ has one by default", keys(o.hpas))
	}
	if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != o.deployments["differ"].Name {
		t.Errorf("HPA targets %s %s, want the differ's Deployment %s", ref.Kind, ref.Name, o.deployments["differ"].Name)
	}
	if h.Spec.MaxReplicas != 20 || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 {
		t.Errorf("HPA replicas %v..%d, want 2..20", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if r := o.deployments["differ"].Spec.Replicas; r != nil {
		t.Errorf("differ Deployment sets replicas %d while the HPA owns them", *r)
	}

	fixed := renderFile(t, "testdata/gitlab.yaml")
	if len(fixed.hpas) != 0 {
		t.Errorf("autoscaling disabled, but autoscalers for %v", keys(fixed.hpas))
	}
	if r := fixed.deployments["differ"].Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("differ replicas = %v, want 3", r)
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

// NATS is the bundled chart's service, or the external server with its
// credentials and TLS files mounted where the config says.
func TestNATS(t *testing.T) {
	tests := []struct {
		name      string
		overrides []string
		file      string
		url       string
		creds     string
		caFile    string
	}{
		{name: "bundled", url: "nats://rel-nats.data.svc:4222"},
		{name: "bundled with fullnameOverride", overrides: []string{"nats: {fullnameOverride: msgbus}"}, url: "nats://msgbus.data.svc:4222"},
		{
			name: "external", file: "testdata/production.yaml",
			url:    "nats://nats-0.nats.messaging.svc:4222,nats://nats-1.nats.messaging.svc:4222",
			creds:  "/etc/diffgate/nats/creds/diffgate.creds",
			caFile: "/etc/diffgate/nats/tls/ca.crt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := renderFile(t, tt.file, tt.overrides...)
			var cfg struct {
				NATS struct {
					URL       string `json:"url"`
					CredsFile string `json:"creds_file"`
					TLS       struct {
						CAFile string `json:"ca_file"`
					} `json:"tls"`
				} `json:"nats"`
			}
			if err := yaml.Unmarshal([]byte(o.config(t)), &cfg); err != nil {
				t.Fatalf("config: %v", err)
			}
			got := [3]string{cfg.NATS.URL, cfg.NATS.CredsFile, cfg.NATS.TLS.CAFile}
			if want := [3]string{tt.url, tt.creds, tt.caFile}; got != want {
				t.Errorf("nats url, creds_file, tls.ca_file = %q, want %q", got, want)
			}
			for comp, d := range o.deployments {
				mounts := map[string]bool{}
				for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
					mounts[m.MountPath] = true
				}
				for _, f := range []string{tt.creds, tt.caFile} {
					if f == "" {
						continue
					}
					dir := f[:strings.LastIndex(f, "/")]
					if !mounts[dir] {
						t.Errorf("%s: %s is not mounted", comp, dir)
					}
				}
			}
		})
	}
}

// Values that cannot work fail the render with a message naming the key.
func TestBadValuesFail(t *testing.T) {
	tests := []struct {
		name     string
		override string
		want     string
	}{
		{"no NATS", "nats: {enabled: false}", "set externalNats.url"},
		{"inline secret", "secretEnv: [{name: TOKEN, secretName: s, key: k, value: hunter2, components: [differ]}]", "credentials come only from a Secret"},
		{"secret without components", "secretEnv: [{name: TOKEN, secretName: s, key: k}]", "list the components that use it"},
		{"unknown component", "secretEnv: [{name: TOKEN, secretName: s, key: k, components: [diffr]}]", `unknown component "diffr"`},
		{"bad env name", "secretEnv: [{name: my-token, secretName: s, key: k, components: [apps]}]", `secretEnv[0].name "my-token"`},
		{"file without mount path", "secretFiles: [{secretName: s, components: [differ]}]", "secretFiles[0]: secretName and mountPath are required"},
		{"listen set", "config: {server: {listen: ':9000'}}", "config.server.listen is set by the chart"},
		{"nats url set", "config: {nats: {url: 'nats://x:4222'}}", "config.nats.url is set by the chart"},
		{"details backend disabled", "ingress: {enabled: true, detailsBackend: gitlab}", "/details/ goes to gitlab, which is disabled"},
		{"half mutual TLS", "nats: {enabled: false}\nexternalNats: {url: 'nats://n:4222', tls: {secretName: t, cert: tls.crt}}", "set both cert and key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderErr(t, values(t, nil, tt.override))
			if err == nil {
				t.Fatalf("rendered; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the inline secret: %v", err)
			}
		})
	}
}

// The Ingress routes each webhook to its component and /details/ to an app.
func TestIngress(t *testing.T) {
	tests := []struct {
		file string
		want map[string]string // path → component
	}{
		{"testdata/production.yaml", map[string]string{
			"/api/github/hook": "github", "/api/dbtcloud/hook": "ciwait", "/details/": "github",
		}},
		{"testdata/gitlab.yaml", map[string]string{
			"/api/gitlab/hook": "gitlab", "/api/dbtcloud/hook": "ciwait", "/details/": "gitlab",
		}},
	}
	for _, tt := range tests {
		t.Run(testName(tt.file), func(t *testing.T) {
			o := renderFile(t, tt.file)
			if len(o.ingresses) != 1 {
				t.Fatalf("%d Ingresses, want 1", len(o.ingresses))
			}
			ing := o.ingresses[0]
			got := map[string]string{}
			for _, r := range ing.Spec.Rules {
				for _, p := range r.HTTP.Paths {
					svc := p.Backend.Service
					for comp, s := range o.services {
						if s.Name == svc.Name && svc.Port.Name == "http" {
							got[p.Path] = comp
						}
					}
					if _, ok := got[p.Path]; !ok {
						t.Errorf("%s goes to %s port %q, which is no component's http port", p.Path, svc.Name, svc.Port.Name)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
	if o := renderFile(t, ""); len(o.ingresses) != 0 {
		t.Error("an Ingress by default")
	}
}

// The ServiceMonitor is off by default and, when on, scrapes /metrics of
// every component's Service.
func TestServiceMonitor(t *testing.T) {
	if o := renderFile(t, ""); len(o.serviceMonitors) != 0 {
		t.Error("a ServiceMonitor by default")
	}
	o := renderFile(t, "testdata/production.yaml")
	if len(o.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(o.serviceMonitors))
	}
	sm := o.serviceMonitors[0]
	var spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port string `json:"port"`
			Path string `json:"path"`
		} `json:"endpoints"`
	}
	remarshal(t, sm["spec"], &spec)
	for comp, s := range o.services {
		if !selects(spec.Selector.MatchLabels, s.Labels) {
			t.Errorf("ServiceMonitor does not select the %s Service", comp)
		}
	}
	want := []struct {
		Port string `json:"port"`
		Path string `json:"path"`
	}{{"http", "/metrics"}}
	if !cmp.Equal(spec.Endpoints, want) {
		t.Errorf("endpoints %+v, want %+v", spec.Endpoints, want)
	}
	if l := sm["metadata"].(map[string]any)["labels"].(map[string]any); l["release"] != "prometheus" {
		t.Errorf("serviceMonitor.labels not applied: %v", l)
	}
}

// A component's extra volumes are mounted in its pods only.
func TestExtraVolumes(t *testing.T) {
	o := renderFile(t, "testdata/gitlab.yaml")
	for comp, d := range o.deployments {
		spec := d.Spec.Template.Spec
		var vol, mount bool
		for _, v := range spec.Volumes {
			vol = vol || (v.Name == "lake" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "lake")
		}
		for _, m := range spec.Containers[0].VolumeMounts {
			mount = mount || (m.Name == "lake" && m.MountPath == "/data")
		}
		if want := comp == "differ"; vol != want || mount != want {
			t.Errorf("%s: lake volume %v, mounted %v; want %v", comp, vol, mount, want)
		}
	}
}
