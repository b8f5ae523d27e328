package pods_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/probe/pods"
	"github.com/imdsguard/imdsguard/internal/probe/probetest"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// namespaces creates namespaces, each with a default ServiceAccount (no
// controller-manager runs to make one) and the extra accounts named.
func namespaces(t *testing.T, cs kubernetes.Interface, names []string, accounts ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range names {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, sa := range append([]string{"default"}, accounts...) {
			if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// assertNoneLeft fails when any probe pod or owner ConfigMap is left.
func assertNoneLeft(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: pods.ProbeLabel + "=true"}
	ps, err := cs.CoreV1().Pods("").List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	cms, err := cs.CoreV1().ConfigMaps("").List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Items {
		t.Errorf("probe pod left: %s/%s", p.Namespace, p.Name)
	}
	for _, c := range cms.Items {
		t.Errorf("owner ConfigMap left: %s/%s", c.Namespace, c.Name)
	}
}

func byNamespace(m map[string]probetest.Outcome) func(*corev1.Pod) probetest.Outcome {
	return func(p *corev1.Pod) probetest.Outcome { return m[p.Namespace] }
}

func classes(r *probe.Report) map[string]probe.Class {
	out := map[string]probe.Class{}
	for _, res := range r.Results {
		out[res.Check] = res.Class
	}
	return out
}

// TestRun probes four namespaces: one whose probe reports, one that wears
// a workload, one whose pod fails, and one that sends garbage; then one
// whose pod never runs, until the deadline. Every pod is gone afterwards.
func TestRun(t *testing.T) {
	env := testenv.Get(t)
	cs := env.Clientset
	namespaces(t, cs, []string{"pr-ok", "pr-as", "pr-fail", "pr-garbage", "pr-hang"}, "api-sa")
	k := probetest.StartKubelet(t, cs, byNamespace(map[string]probetest.Outcome{
		"pr-ok": probetest.RunAgent, "pr-as": probetest.RunAgent, "pr-fail": probetest.Fail,
		"pr-garbage": probetest.Garbage, "pr-hang": probetest.Hang}))
	targets := probetest.Fakes(t, fakeimds.Options{RequireIMDSv2: true})
	worn := model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "pr-as", Name: "api"}
	subjects := []pods.Subject{
		{Object: model.ObjectRef{Kind: "Namespace", Name: "pr-ok"}, Namespace: "pr-ok"},
		{Object: worn, Namespace: "pr-as", Labels: map[string]string{"app": "api", "tier": "web"}, ServiceAccount: "api-sa", HostNetwork: true},
		{Object: model.ObjectRef{Kind: "Namespace", Name: "pr-fail"}, Namespace: "pr-fail"},
		{Object: model.ObjectRef{Kind: "Namespace", Name: "pr-garbage"}, Namespace: "pr-garbage"},
		{Object: model.ObjectRef{Kind: "Namespace", Name: "pr-hang"}, Namespace: "pr-hang"},
	}
	var finished atomic.Int64
	got := pods.Run(context.Background(), cs, subjects, pods.Options{Image: "example.com/imdsguard:test",
		AgentArgs: probetest.TargetArgs(targets), PodDeadline: 3 * time.Second, Done: &finished})
	assertNoneLeft(t, cs)
	if n := finished.Load(); n != int64(len(subjects)) {
		t.Errorf("the progress counter says %d probes done, want %d", n, len(subjects))
	}

	for i, want := range []string{"", "", "without a report", "probe report", "no report before the deadline"} {
		p := got[i]
		if p.Object != subjects[i].Object {
			t.Errorf("probe %d stands for %v, want %v", i, p.Object, subjects[i].Object)
		}
		if want == "" {
			if p.Report == nil {
				t.Errorf("%v: no report: %s", p.Object, p.Error)
				continue
			}
			c := classes(p.Report)
			if c["aws-imdsv1"] != probe.Refused || c["aws-imdsv2"] != probe.Credentials {
				t.Errorf("%v: classes %v", p.Object, c)
			}
			continue
		}
		if p.Report != nil || !strings.Contains(p.Error, want) {
			t.Errorf("%v: report %v, error %q; want an error with %q", p.Object, p.Report, p.Error, want)
		}
	}

	var asPod *corev1.Pod
	for _, p := range k.Seen() {
		if p.Namespace == "pr-as" {
			asPod = p
		}
		assertRestricted(t, p)
	}
	if asPod == nil {
		t.Fatal("the kubelet saw no pod in pr-as")
	}
	if asPod.Labels["app"] != "api" || asPod.Labels["tier"] != "web" || asPod.Spec.ServiceAccountName != "api-sa" || !asPod.Spec.HostNetwork {
		t.Errorf("the probe does not wear the workload: labels %v, sa %q, hostNetwork %v", asPod.Labels, asPod.Spec.ServiceAccountName, asPod.Spec.HostNetwork)
	}
}

func assertRestricted(t *testing.T, p *corev1.Pod) {
	t.Helper()
	s, c := p.Spec, p.Spec.Containers[0]
	switch {
	case s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken:
		t.Errorf("%s: a ServiceAccount token is mounted", p.Name)
	case s.SecurityContext == nil || s.SecurityContext.RunAsNonRoot == nil || !*s.SecurityContext.RunAsNonRoot ||
		s.SecurityContext.SeccompProfile == nil || s.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s: pod security context not restricted: %+v", p.Name, s.SecurityContext)
	case c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation ||
		c.SecurityContext.Capabilities == nil || len(c.SecurityContext.Capabilities.Drop) != 1 || c.SecurityContext.Capabilities.Drop[0] != "ALL":
		t.Errorf("%s: container security context not restricted: %+v", p.Name, c.SecurityContext)
	case c.Image != "example.com/imdsguard:test" || len(c.Command) != 0 || len(c.Args) < 3 || c.Args[0] != "probe" || c.Args[1] != "agent" ||
		c.Args[2] != "--termination-log=/dev/termination-log":
		t.Errorf("%s: runs %s %v %v, want the image's entrypoint with probe agent", p.Name, c.Image, c.Command, c.Args)
	case s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 3:
		t.Errorf("%s: activeDeadlineSeconds %v", p.Name, s.ActiveDeadlineSeconds)
	case len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "ConfigMap" || p.OwnerReferences[0].Controller == nil || !*p.OwnerReferences[0].Controller:
		t.Errorf("%s: no controller owner, a ReplicaSet could adopt it: %v", p.Name, p.OwnerReferences)
	case len(s.ReadinessGates) != 1:
		t.Errorf("%s: could become Ready and serve a workload's Services", p.Name)
	}
}

// TestRunInterruptedAndParallel cancels a run whose pods never run: Run
// returns, says why, and leaves no pod; no more pods than the limit ever
// existed at once.
func TestRunInterruptedAndParallel(t *testing.T) {
	env := testenv.Get(t)
	cs := env.Clientset
	nss := []string{"pi-1", "pi-2", "pi-3", "pi-4", "pi-5"}
	namespaces(t, cs, nss)
	k := probetest.StartKubelet(t, cs, func(p *corev1.Pod) probetest.Outcome {
		if strings.HasPrefix(p.Namespace, "pi-") {
			return probetest.Hang
		}
		return probetest.RunAgent
	})
	var subjects []pods.Subject
	for _, ns := range nss {
		subjects = append(subjects, pods.Subject{Object: model.ObjectRef{Kind: "Namespace", Name: ns}, Namespace: ns})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []probe.Probe)
	go func() { done <- pods.Run(ctx, cs, subjects, pods.Options{Parallel: 2, PodDeadline: time.Minute}) }()
	testenv.Eventually(t, "two probe pods", func() (bool, string) {
		n := 0
		for _, p := range k.Seen() {
			if strings.HasPrefix(p.Namespace, "pi-") {
				n++
			}
		}
		return n == 2, ""
	})
	cancel() // Ctrl-C
	var got []probe.Probe
	select {
	case got = <-done:
	case <-time.After(testenv.WaitTimeout):
		t.Fatal("Run did not return after its context was cancelled")
	}
	assertNoneLeft(t, cs)
	for _, p := range got {
		if p.Report != nil || (!strings.Contains(p.Error, "interrupted") && !strings.Contains(p.Error, "not started") && !strings.Contains(p.Error, "canceled")) {
			t.Errorf("%v: report %v, error %q", p.Object, p.Report, p.Error)
		}
	}
	if k.MaxLive() > 2 {
		t.Errorf("%d probe pods at once, limit 2", k.MaxLive())
	}
}

func TestDefaultImage(t *testing.T) {
	for v, want := range map[string]string{"v0.1.0": "imdsguard/imdsguard:0.1.0", "dev": "imdsguard/imdsguard:latest",
		"v0.1.0-3-gabc": "imdsguard/imdsguard:latest"} {
		if got := pods.DefaultImage(v); got != want {
			t.Errorf("DefaultImage(%q) = %q, want %q", v, got, want)
		}
	}
}
