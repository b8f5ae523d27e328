package fix_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/imdsguard/imdsguard/internal/app"
	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type result struct {
	code        int
	out, errOut string
}

func runCLI(stdin string, args ...string) result {
	var out, errOut bytes.Buffer
	code := app.Run(context.Background(), cli.Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, args)
	return result{code, out.String(), errOut.String()}
}

func deployment(ns, name string, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/app:1"}}}},
		},
	}
}

// TestFixAgainstAPIServer drives `imdsguard fix` against a real API server:
// the plan shows diffs and changes nothing; a declined prompt and a server
// dry run change nothing; --apply --yes creates the namespace policy,
// patches only spec.egress of the policy that re-opens metadata (with
// field manager imdsguard), deletes nothing; a second run has nothing to
// do (the cluster needs nothing more); and a live scan afterwards finds every workload Blocked.
func TestFixAgainstAPIServer(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	cs := env.Clientset
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "fx-open"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "fx-reopen"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "fx-exempt", Labels: map[string]string{"imdsguard.io/metadata-access": "allow"}}},
	} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []*appsv1.Deployment{
		deployment("fx-open", "api", map[string]string{"app": "api"}),
		deployment("fx-reopen", "frontend", map[string]string{"app": "frontend"}),
		deployment("fx-reopen", "cart", map[string]string{"app": "cart"}),
		deployment("fx-exempt", "agent", map[string]string{"app": "agent"}),
	} {
		if _, err := cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p80 := intstr.FromInt32(8080)
	reopen := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend-egress", Namespace: "fx-reopen",
			Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"owner": "web-team"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "frontend"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: &p80}}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{}},
		},
	}
	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-metadata", Namespace: "fx-reopen"},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"169.254.169.254/32"}}},
				{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: []string{"fd00:ec2::254/128"}}}}}},
		},
	}
	for _, np := range []*networkingv1.NetworkPolicy{reopen, deny} {
		if _, err := cs.NetworkingV1().NetworkPolicies("fx-reopen").Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("KUBECONFIG", testenv.Kubeconfig(t, env.Config))
	base := []string{"fix", "-A", "--cloud", "aws", "--include", "namespace,patch,admission", "--exempt-namespace", "kube-system,kube-public,kube-node-lease,default"}

	noPolicy := func(t *testing.T, when string) {
		t.Helper()
		if _, err := cs.NetworkingV1().NetworkPolicies("fx-open").Get(ctx, "imdsguard-deny-metadata", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: the namespace policy exists (err %v)", when, err)
		}
		got, err := cs.NetworkingV1().NetworkPolicies("fx-reopen").Get(ctx, "frontend-egress", metav1.GetOptions{})
		if err != nil || len(got.Spec.Egress) != 1 || len(got.Spec.Egress[0].To) != 0 {
			t.Errorf("%s: frontend-egress changed: %v %+v", when, err, got.Spec.Egress)
		}
	}

	r := runCLI("", base...)
	if r.code != cli.ExitClean {
		t.Fatalf("plan: exit %d\n%s", r.code, r.errOut)
	}
	for _, want := range []string{"+++ imdsguard/fx-open/networkpolicy/imdsguard-deny-metadata", "--- cluster/fx-reopen/networkpolicy/frontend-egress",
		"-  - {}", "+        - 169.254.169.254/32"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.out)
		}
	}
	// fx-reopen's deny-metadata isolates every pod there: no policy to add;
	// the admission policy and its binding are the other two.
	if !strings.Contains(r.errOut, "3 to create, 1 to change") {
		t.Errorf("plan summary:\n%s", r.errOut)
	}
	noPolicy(t, "after the plan")

	r = runCLI("n\n", append(base, "--apply")...)
	if r.code != cli.ExitFindings || !strings.Contains(r.errOut, "Apply these 4 change(s) to cluster test? [y/N]") || !strings.Contains(r.errOut, "declined; nothing applied") {
		t.Errorf("declined: exit %d\n%s", r.code, r.errOut)
	}
	noPolicy(t, "after declining")

	r = runCLI("", append(base, "--apply", "--dry-run=server")...)
	if r.code != cli.ExitClean || strings.Count(r.errOut, "(server dry run)") != 4 {
		t.Errorf("dry run: exit %d\n%s", r.code, r.errOut)
	}
	noPolicy(t, "after the server dry run")

	r = runCLI("", append(base, "--apply", "--yes")...)
	if r.code != cli.ExitClean {
		t.Fatalf("apply: exit %d\n%s", r.code, r.errOut)
	}
	created, err := cs.NetworkingV1().NetworkPolicies("fx-open").Get(ctx, "imdsguard-deny-metadata", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := created.ManagedFields; len(m) != 1 || m[0].Manager != "imdsguard" || m[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("created policy's managers: %+v", m)
	}
	patched, err := cs.NetworkingV1().NetworkPolicies("fx-reopen").Get(ctx, "frontend-egress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if patched.Labels["team"] != "web" || patched.Annotations["owner"] != "web-team" || len(patched.Spec.Ingress) != 1 ||
		patched.Spec.PodSelector.MatchLabels["app"] != "frontend" || len(patched.Spec.PolicyTypes) != 2 {
		t.Errorf("patch lost a field: %+v %+v", patched.ObjectMeta, patched.Spec)
	}
	eg, _ := json.Marshal(patched.Spec.Egress)
	if !strings.Contains(string(eg), `"except":["169.254.169.254/32"]`) || !strings.Contains(string(eg), `"namespaceSelector":{}`) {
		t.Errorf("patched egress: %s", eg)
	}
	owners := map[string]string{}
	for _, m := range patched.ManagedFields {
		owners[m.Manager] = m.FieldsV1.GetRawString()
	}
	if !strings.Contains(owners["imdsguard"], `"f:egress"`) || strings.Contains(owners["imdsguard"], `"f:ingress"`) || strings.Contains(owners["imdsguard"], `"f:labels"`) {
		t.Errorf("imdsguard should own spec.egress only: %s", owners["imdsguard"])
	}
	for _, d := range []string{"fx-open/api", "fx-reopen/frontend", "fx-reopen/cart", "fx-exempt/agent"} {
		ns, name, _ := strings.Cut(d, "/")
		if _, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("deployment %s: %v", d, err)
		}
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("fx-reopen").Get(ctx, "deny-metadata", metav1.GetOptions{}); err != nil {
		t.Errorf("deny-metadata: %v", err)
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("fx-exempt").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	} else if l, _ := cs.NetworkingV1().NetworkPolicies("fx-exempt").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("the exempt namespace got %d policies", len(l.Items))
	}

	r = runCLI("", base...)
	if r.code != cli.ExitClean || !strings.Contains(r.errOut, "generated: admission 2") || !strings.Contains(r.errOut, "0 to create, 0 to change, 2 unchanged") || r.out != "" {
		t.Errorf("second plan: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}

	r = runCLI("", "scan", "-A", "--cloud", "aws", "-f", "json", "--fail-on", "none")
	if r.code != cli.ExitClean {
		t.Fatalf("scan: exit %d\n%s", r.code, r.errOut)
	}
	var d report.Document
	if err := json.Unmarshal([]byte(r.out), &d); err != nil {
		t.Fatal(err)
	}
	for _, w := range d.Workloads {
		if !strings.HasPrefix(w.Object.Namespace, "fx-") || w.Object.Namespace == "fx-exempt" {
			continue
		}
		for _, v := range w.Verdicts {
			if v.Verdict.String() != "Blocked" {
				t.Errorf("%s/%s: %s %s after fix", w.Object.Namespace, w.Object.Name, v.Target, v.Verdict)
			}
		}
	}
}

func TestFixUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fix", "x.yaml"}, "fix acts on a live cluster"},
		{[]string{"fix", "-A", "--dry-run", "client"}, "--dry-run must be none or server"},
		{[]string{"fix", "-A", "--include", "node"}, "fix applies Kubernetes objects only"},
	} {
		r := runCLI("", tc.args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, r.code, r.errOut, tc.want)
		}
	}
}
