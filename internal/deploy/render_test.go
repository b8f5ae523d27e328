package deploy_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var update = flag.Bool("update", false, "rewrite deploy/kustomize/imdsguard.yaml from the chart")

const (
	chartDir     = "../../deploy/helm/imdsguard"
	kustomizeDir = "../../deploy/kustomize"
	namespace    = "imdsguard-system"
	release      = "imdsguard"
)

// helmEnv overrides the helm binary hack/helm.sh builds.
const helmEnv = "IMDSGUARD_HELM"

// helmPath returns the Helm CLI; a missing binary fails the test.
func helmPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv(helmEnv)
	if p == "" {
		p = filepath.Join("..", "..", ".cache", "tools", "helm")
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		t.Fatalf("helm missing at %s: run hack/helm.sh (or set %s)", p, helmEnv)
	}
	return p
}

// run runs a command and returns its stdout; a failure fails the test with
// its stderr.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// helm keeps caches and config under $HOME; keep them out of it.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, errOut.String())
	}
	return out.Bytes()
}

// renderChart renders the chart as release imdsguard in imdsguard-system,
// with --set values.
func renderChart(t *testing.T, set ...string) []byte {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return run(t, helmPath(t), args...)
}

// renderKustomize builds the kustomization with kubectl's kustomize.
func renderKustomize(t *testing.T) []byte {
	t.Helper()
	dir, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	return run(t, filepath.Join(dir, "kubectl"), "kustomize", kustomizeDir)
}

func decode(t *testing.T, b []byte) []*unstructured.Unstructured { return testenv.DecodeObjects(t, b) }

// find returns the object of the kind and name.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among the rendered objects", kind, name)
	return nil
}

func dryRun(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured) {
	env.Create(t, objs, true)
}

func apply(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured, dry bool) {
	env.Create(t, objs, dry)
}

func ensureNamespace(t *testing.T, env *testenv.Env, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	env.Create(t, []*unstructured.Unstructured{ns}, false)
}

// TestChartDryRun renders the chart with its defaults and with other
// values, and has the API server accept every object.
func TestChartDryRun(t *testing.T) {
	env := testenv.Get(t)
	ensureNamespace(t, env, namespace)
	for _, set := range [][]string{
		nil,
		{"mode=audit", "webhook.enabled=false", "defaultDeny=true", "podDisruptionBudget.enabled=false", "clusterPolicy=anp"},
		{"clouds={aws,gcp}", "extraEndpoints={10.0.0.254:80/TCP}", "webhook.failurePolicy=Ignore", "exemptNamespaces={kube-system,monitoring}"},
	} {
		t.Run(fmtSet(set), func(t *testing.T) {
			objs := decode(t, renderChart(t, set...))
			if len(objs) == 0 {
				t.Fatal("the chart rendered nothing")
			}
			dryRun(t, env, objs)
		})
	}
}

// TestChartCertManager renders the cert-manager variant: a Certificate and
// an Issuer instead of the Secret, the CA injected by cert-manager, the
// certificate mounted for --webhook-cert-dir, and no RBAC on Secrets or the
// configuration. (cert-manager's CRDs are not installed in the test API
// server, so its objects are not dry-run.)
func TestChartCertManager(t *testing.T) {
	objs := decode(t, renderChart(t, "webhook.certManager.enabled=true"))
	find(t, objs, "Certificate", release+"-webhook")
	find(t, objs, "Issuer", release+"-selfsigned")
	vwc := find(t, objs, "ValidatingWebhookConfiguration", release)
	if got := vwc.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != namespace+"/"+release+"-webhook" {
		t.Errorf("inject-ca-from %q", got)
	}
	for _, o := range objs {
		if o.GetKind() == "Secret" {
			t.Errorf("the chart creates Secret %s with cert-manager on", o.GetName())
		}
	}
	args := containerArgs(t, find(t, objs, "Deployment", release))
	if !contains(args, "--webhook-cert-dir=/certs") {
		t.Errorf("args %v lack --webhook-cert-dir=/certs", args)
	}
	for _, r := range rbacRules(t, objs) {
		if r.resource == "secrets" || r.resource == "validatingwebhookconfigurations" {
			t.Errorf("RBAC grants %v with cert-manager on", r)
		}
	}
}

// TestKustomizeIsChartDefaults checks that deploy/kustomize/imdsguard.yaml
// is the chart rendered with its defaults (-update rewrites it), and has
// the API server accept what the kustomization builds.
func TestKustomizeIsChartDefaults(t *testing.T) {
	env := testenv.Get(t)
	want := append([]byte(kustomizeHeader), renderChart(t)...)
	path := filepath.Join(kustomizeDir, "imdsguard.yaml")
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not the chart's default rendering; run go test ./internal/deploy -run TestKustomizeIsChartDefaults -update", path)
	}
	objs := decode(t, renderKustomize(t))
	dep := find(t, objs, "Deployment", release)
	if img := containerImage(t, dep); img != "imdsguard/imdsguard:0.1.0" {
		t.Errorf("image %q", img)
	}
	ensureNamespace(t, env, namespace)
	dryRun(t, env, objs)
}

const kustomizeHeader = "# Rendered from deploy/helm/imdsguard with its defaults (release imdsguard, namespace\n" +
	"# imdsguard-system); do not edit: go test ./internal/deploy -run TestKustomizeIsChartDefaults -update\n"
