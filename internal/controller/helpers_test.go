package controller_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// startController runs a manager against the shared API server until the
// test ends, with a registry of its own so that metrics start at zero.
func startController(t *testing.T, env *testenv.Env, mode protection.Mode) *controller.Metrics {
	t.Helper()
	return startWith(t, env, mode, nil)
}

// startWith is startController with a chance to change the options.
func startWith(t *testing.T, env *testenv.Env, mode protection.Mode, change func(*controller.Options)) *controller.Metrics {
	t.Helper()
	policy := protection.ForClouds(mode, nil, nil, []string{"kube-system"})
	o := controller.Options{
		Config:      env.Config,
		Policy:      policy,
		MetricsAddr: "0",
		Registerer:  prometheus.NewRegistry(),
	}
	if change != nil {
		change(&o)
	}
	mgr, metrics, err := controller.New(o)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, mgr.Start)
	return metrics
}

func createNamespace(t *testing.T, env *testenv.Env, name string, labels, annotations map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// managed returns the managed policy of a namespace, nil when absent.
func managed(t *testing.T, env *testenv.Env, ns, name string) *networkingv1.NetworkPolicy {
	t.Helper()
	np, err := env.Clientset.NetworkingV1().NetworkPolicies(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return np
}

// waitManaged waits for the named managed policy to exist with a pod
// selector satisfying sel, and returns it.
func waitManaged(t *testing.T, env *testenv.Env, ns, name string, sel func(metav1.LabelSelector) bool) *networkingv1.NetworkPolicy {
	t.Helper()
	var np *networkingv1.NetworkPolicy
	testenv.Eventually(t, fmt.Sprintf("managed policy %s/%s", ns, name), func() (bool, string) {
		np = managed(t, env, ns, name)
		if np == nil {
			return false, "absent"
		}
		return sel(np.Spec.PodSelector), fmt.Sprintf("podSelector %v", np.Spec.PodSelector)
	})
	return np
}

func emptySelector(s metav1.LabelSelector) bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// waitEvent waits for an Event with the reason about the object (in
// namespace ns, "default" for cluster-scoped objects) and returns its
// message.
func waitEvent(t *testing.T, env *testenv.Env, ns, kind, name, reason string) string {
	t.Helper()
	var msg string
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "reason": reason}.String()
	testenv.Eventually(t, fmt.Sprintf("Event %s on %s %s/%s", reason, kind, ns, name), func() (bool, string) {
		evs, err := env.Clientset.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return false, err.Error()
		}
		if len(evs.Items) == 0 {
			return false, "no event"
		}
		msg = evs.Items[0].Message
		return true, ""
	})
	return msg
}

// countEvents counts the Events with the reason about the object.
func countEvents(t *testing.T, env *testenv.Env, ns, kind, name, reason string) int {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "reason": reason}.String()
	evs, err := env.Clientset.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs.Items)
}

// egressPolicy is a policy selecting app=<app> for egress with the given
// rules.
func egressPolicy(ns, name, app string, rules ...networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      rules,
		},
	}
}

func createPolicy(t *testing.T, env *testenv.Env, np *networkingv1.NetworkPolicy) {
	t.Helper()
	if _, err := env.Clientset.NetworkingV1().NetworkPolicies(np.Namespace).Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

const managedName = generate.DefaultName
