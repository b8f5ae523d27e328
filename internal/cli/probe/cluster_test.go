package probe

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/probe/pods"
	"github.com/imdsguard/imdsguard/internal/probe/probetest"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/schematest"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// cluster sets up namespaces, each with the default ServiceAccount no
// controller-manager makes here, and a Deployment web (app=web); in
// "denied" ones, a policy that denies every pod all egress.
func cluster(t *testing.T, cs kubernetes.Interface, open, denied []string) {
	t.Helper()
	ctx := context.Background()
	for i, ns := range append(append([]string{}, open...), denied...) {
		must(t, create(ctx, cs.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		must(t, create(ctx, cs.CoreV1().ServiceAccounts(ns).Create, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}))
		labels := map[string]string{"app": "web"}
		must(t, create(ctx, cs.AppsV1().Deployments(ns).Create, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/web:1"}}}}}}))
		if i >= len(open) {
			must(t, create(ctx, cs.NetworkingV1().NetworkPolicies(ns).Create, &networkingv1.NetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: "deny-egress", Namespace: ns},
				Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}))
		}
	}
}

func create[T any](ctx context.Context, f func(context.Context, T, metav1.CreateOptions) (T, error), obj T) error {
	_, err := f(ctx, obj, metav1.CreateOptions{})
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func noProbePodsLeft(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ps, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: pods.ProbeLabel + "=true"})
	must(t, err)
	for _, p := range ps.Items {
		t.Errorf("probe pod left: %s/%s", p.Namespace, p.Name)
	}
}

// findings checks the report against the probe/v1 schema and indexes its
// findings by rule, object and targets.
func findings(t *testing.T, out string) (map[string]rules.Severity, *report.Document) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	must(t, err)
	if err := schematest.Compile(t, filepath.Join("..", "..", "..", "docs", "schema", "probe-v1.json")).Validate(v); err != nil {
		t.Errorf("the report does not match the probe/v1 schema: %v", err)
	}
	var d report.Document
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]rules.Severity{}
	for _, f := range d.Findings {
		got[f.RuleID+" "+f.Object.String()+" "+strings.Join(f.Targets, ",")] = f.Severity
	}
	return got, &d
}

// TestProbeCluster runs `imdsguard probe` against a real API server whose
// probe pods a test kubelet runs, with the agent pointed at loopback fakes.
// The datapath of these fakes enforces nothing, so a namespace whose policy
// denies all egress disagrees with its probe; a workload the policies leave
// open, probed where every endpoint refuses connections, disagrees the
// other way. No probe pod is left after either run, nor after one whose
// pods fail.
func TestProbeCluster(t *testing.T) {
	env := testenv.Get(t)
	cs := env.Clientset
	cluster(t, cs, []string{"pc-open", "pc-failing"}, []string{"pc-denied"})
	k := probetest.StartKubelet(t, cs, func(p *corev1.Pod) probetest.Outcome {
		if p.Namespace == "pc-failing" {
			return probetest.Fail
		}
		return probetest.RunAgent
	})
	kubeconfig := testenv.Kubeconfig(t, env.Config)
	aws := "169.254.169.254:80/TCP"

	t.Run("policy blocks, datapath serves credentials", func(t *testing.T) {
		args := []string{"--kubeconfig", kubeconfig, "-n", "pc-denied", "--as", "pc-denied/Deployment/web", "-f", "json", "--check", "aws-imdsv1,aws-imdsv2"}
		r := runCLI(t, append(args, loopback(t, fakeimds.Options{})...)...)
		noProbePodsLeft(t, cs)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		assertNoSecrets(t, r.out)
		got, d := findings(t, r.out)
		for _, want := range []string{
			"IMDS-013 Deployment pc-denied/web " + aws, "IMDS-013 ProbePod pc-denied/imdsguard-probe " + aws,
		} {
			if got[want] != rules.Critical {
				t.Errorf("want a critical finding %q; got %v", want, got)
			}
		}
		if got["IMDS-014 Deployment pc-denied/web "+aws] != rules.High {
			t.Errorf("want the credentials finding; got %v", got)
		}
		for _, w := range d.Workloads {
			if w.Object.Namespace == "pc-denied" && (len(w.Verdicts) != 1 || w.Verdicts[0].Verdict.String() != "Reachable") {
				t.Errorf("%v: verdicts %+v", w.Object, w.Verdicts)
			}
		}
	})

	t.Run("suppressed by annotation", func(t *testing.T) {
		ctx := context.Background()
		d, err := cs.AppsV1().Deployments("pc-denied").Get(ctx, "web", metav1.GetOptions{})
		must(t, err)
		d.Annotations = map[string]string{rules.IgnoreAnnotation: rules.ProbeCredentialsID, rules.IgnoreReasonAnnotation: "a test"}
		_, err = cs.AppsV1().Deployments("pc-denied").Update(ctx, d, metav1.UpdateOptions{})
		must(t, err)
		r := runCLI(t, append([]string{"--kubeconfig", kubeconfig, "--as", "pc-denied/Deployment/web", "-f", "json", "--check", "aws-imdsv1"},
			loopback(t, fakeimds.Options{})...)...)
		noProbePodsLeft(t, cs)
		_, doc := findings(t, r.out)
		suppressed := map[string]bool{}
		for _, f := range doc.Findings {
			suppressed[f.RuleID] = f.Suppressed != nil
		}
		if len(suppressed) != 2 || !suppressed[rules.ProbeCredentialsID] || suppressed[rules.DatapathDisagreesID] || doc.Summary.Suppressed != 1 {
			t.Errorf("want IMDS-014 suppressed and IMDS-013 not: %v, summary %+v", suppressed, doc.Summary)
		}
	})

	t.Run("policy allows, datapath refuses", func(t *testing.T) {
		r := runCLI(t, "--kubeconfig", kubeconfig, "--as", "pc-open/deployment/web", "-f", "json", "--check", "aws-imdsv2",
			"--target", "aws-imds-ipv4="+probetest.Closed(t))
		noProbePodsLeft(t, cs)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		got, _ := findings(t, r.out)
		if len(got) != 1 || got["IMDS-013 Deployment pc-open/web "+aws] != rules.Low {
			t.Errorf("want only a low disagreement; got %v", got)
		}
	})

	t.Run("probe pods fail", func(t *testing.T) {
		r := runCLI(t, append([]string{"--kubeconfig", kubeconfig, "-n", "pc-failing", "-f", "json"}, loopback(t, fakeimds.Options{})...)...)
		noProbePodsLeft(t, cs)
		if r.code != cli.ExitInput || !strings.Contains(r.out, "without a report") {
			t.Errorf("exit %d, want 2 and the failure in the report:\n%s\n%s", r.code, r.out, r.errOut)
		}
		findings(t, r.out)
	})

	t.Run("node mode", func(t *testing.T) {
		ctx := context.Background()
		for name, role := range map[string]string{"pc-worker-1": "worker", "pc-worker-2": "worker", "pc-control": "control"} {
			must(t, create(ctx, cs.CoreV1().Nodes().Create, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pc-role": role}}}))
		}
		r := runCLI(t, append([]string{"--kubeconfig", kubeconfig, "--node-selector", "pc-role=worker", "--node-namespace", "pc-open",
			"-f", "json", "--check", "alibaba"}, loopback(t, fakeimds.Options{})...)...)
		noProbePodsLeft(t, cs)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		got, _ := findings(t, r.out)
		want := map[string]rules.Severity{
			"IMDS-014 Node pc-worker-1 100.100.100.200:80/TCP": rules.High,
			"IMDS-014 Node pc-worker-2 100.100.100.200:80/TCP": rules.High,
		}
		if len(got) != len(want) || got["IMDS-014 Node pc-worker-1 100.100.100.200:80/TCP"] != rules.High || got["IMDS-014 Node pc-worker-2 100.100.100.200:80/TCP"] != rules.High {
			t.Errorf("findings %v, want %v", got, want)
		}
		nodes := map[string]bool{}
		for _, p := range k.Seen() {
			if p.Spec.NodeName == "" {
				continue
			}
			nodes[p.Spec.NodeName] = true
			if !p.Spec.HostNetwork || p.Namespace != "pc-open" || len(p.Spec.Tolerations) != 1 || p.Spec.Tolerations[0].Operator != corev1.TolerationOpExists {
				t.Errorf("node probe %s/%s: hostNetwork %v, tolerations %v", p.Namespace, p.Name, p.Spec.HostNetwork, p.Spec.Tolerations)
			}
		}
		if len(nodes) != 2 || !nodes["pc-worker-1"] || !nodes["pc-worker-2"] {
			t.Errorf("node probes ran on %v, want the two workers", nodes)
		}
		if r := runCLI(t, "--kubeconfig", kubeconfig, "--node-selector", "pc-role=none", "--check", "alibaba", "--target", "alibaba=127.0.0.1:1"); r.code != cli.ExitUsage {
			t.Errorf("a selector that selects no node: exit %d, want 2: %s", r.code, r.errOut)
		}
	})

	t.Run("no such workload", func(t *testing.T) {
		r := runCLI(t, "--kubeconfig", kubeconfig, "--as", "pc-open/Deployment/nope", "--check", "aws-imdsv1", "--target", "aws-imds-ipv4=127.0.0.1:1")
		if r.code != cli.ExitUsage || !strings.Contains(r.errOut, "no such workload") {
			t.Errorf("exit %d: %s", r.code, r.errOut)
		}
	})
}
