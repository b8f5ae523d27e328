package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// createAdmin creates an admin policy written in YAML, deleted when the
// test ends.
func createAdmin(t *testing.T, env *testenv.Env, resource, version, doc string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	ri := dynamic.NewForConfigOrDie(env.Config).Resource(schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: version, Resource: resource})
	if _, err := ri.Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ri.Delete(context.Background(), u.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	})
}

// TestAdminPolicyReopensMetadata runs the controller where the API serves
// AdminNetworkPolicy and ClusterNetworkPolicy: an AdminNetworkPolicy whose
// Allow opens metadata for a guarded namespace is reported with an Event
// naming the rule and the fix, and counted; an Admin-tier
// ClusterNetworkPolicy whose Accept reaches only an opted-out namespace is
// not, until that namespace opts back in. Neither policy is edited.
func TestAdminPolicyReopensMetadata(t *testing.T) {
	env := testenv.Get(t)
	env.InstallUpstreamCRDs(t, "policy.networking.k8s.io_adminnetworkpolicies.yaml", "policy.networking.k8s.io_clusternetworkpolicies.yaml")
	ctx := context.Background()
	optOut := map[string]string{"imdsguard.io/metadata-access": "allow"}
	createNamespace(t, env, "adm-app", nil, nil)
	createNamespace(t, env, "adm-agent", optOut, map[string]string{protection.DefaultReasonAnnotation: "reads instance tags"})
	metrics := startController(t, env, protection.Enforce)

	createAdmin(t, env, "adminnetworkpolicies", "v1alpha1", `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: adm-allow-all}
spec:
  priority: 40
  subject: {namespaces: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [adm-app, adm-agent]}]}}
  egress:
  - {name: internet, action: Allow, to: [{networks: [0.0.0.0/0]}]}
`)
	createAdmin(t, env, "clusternetworkpolicies", "v1alpha2", `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: adm-agent-imds}
spec:
  tier: Admin
  priority: 41
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: adm-agent}}}
  egress:
  - {name: imds, action: Accept, to: [{networks: [169.254.169.254/32]}], protocols: [{tcp: {destinationPort: {number: 80}}}]}
`)
	msg := waitEvent(t, env, "default", "AdminNetworkPolicy", "adm-allow-all", "ReopensMetadata")
	for _, want := range []string{"AdminNetworkPolicy adm-allow-all (priority 40) re-opens", `namespace "adm-app"`, "spec.egress[0] allows",
		"169.254.169.254:80/TCP", "add a Deny rule whose networks are the metadata addresses", "169.254.169.254/32"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Event %q does not mention %q", msg, want)
		}
	}
	testenv.Eventually(t, "the re-opening admin rule counted", func() (bool, string) {
		v := testutil.ToFloat64(metrics.AdminReopeningRules.WithLabelValues("AdminNetworkPolicy", "adm-allow-all"))
		return v == 1, fmt.Sprint(v)
	})
	if v := testutil.ToFloat64(metrics.AdminReopeningRules.WithLabelValues("ClusterNetworkPolicy", "adm-agent-imds")); v != 0 {
		t.Errorf("the policy for an opted-out namespace counted %v re-opening rules, want 0", v)
	}
	if n := countEvents(t, env, "default", "ClusterNetworkPolicy", "adm-agent-imds", "ReopensMetadata"); n != 0 {
		t.Errorf("%d Events for the policy of an opted-out namespace, want none", n)
	}

	// The namespace opts back in: the ClusterNetworkPolicy now re-opens
	// metadata for a guarded namespace.
	ns, err := env.Clientset.CoreV1().Namespaces().Get(ctx, "adm-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(ns.Labels, "imdsguard.io/metadata-access")
	if _, err := env.Clientset.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	msg = waitEvent(t, env, "default", "ClusterNetworkPolicy", "adm-agent-imds", "ReopensMetadata")
	for _, want := range []string{"ClusterNetworkPolicy adm-agent-imds (Admin tier, priority 41) re-opens", `namespace "adm-agent"`,
		"spec.egress[0] allows 169.254.169.254:80/TCP (network 169.254.169.254/32 contains 169.254.169.254, port 80/TCP)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Event %q does not mention %q", msg, want)
		}
	}
	testenv.Eventually(t, "the Accept rule counted", func() (bool, string) {
		v := testutil.ToFloat64(metrics.AdminReopeningRules.WithLabelValues("ClusterNetworkPolicy", "adm-agent-imds"))
		return v == 1, fmt.Sprint(v)
	})
	dyn := dynamic.NewForConfigOrDie(env.Config)
	for _, r := range []struct{ version, resource, name string }{
		{"v1alpha1", "adminnetworkpolicies", "adm-allow-all"},
		{"v1alpha2", "clusternetworkpolicies", "adm-agent-imds"},
	} {
		got, err := dyn.Resource(schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: r.version, Resource: r.resource}).
			Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetGeneration() != 1 {
			t.Errorf("%s %s was edited: generation %d", r.resource, r.name, got.GetGeneration())
		}
	}
}
