package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// installANPCRD installs the AdminNetworkPolicy CRD hack/crds.sh fetched.
func installANPCRD(t *testing.T, env *testenv.Env) {
	t.Helper()
	env.InstallUpstreamCRDs(t, "policy.networking.k8s.io_adminnetworkpolicies.yaml")
}

// TestClusterWideAdminNetworkPolicy runs the controller with
// --cluster-policy auto where the API serves AdminNetworkPolicies: it keeps
// one, generated, whose subject leaves out kube-system and the namespaces
// opted out with a reason (not one without), restores it when it is
// deleted or edited, and keeps no per-namespace policy.
func TestClusterWideAdminNetworkPolicy(t *testing.T) {
	env := testenv.Get(t)
	installANPCRD(t, env)
	ctx := context.Background()
	createNamespace(t, env, "anp-app", nil, nil)
	label := map[string]string{generate.DefaultExemptLabel: generate.DefaultExemptValue}
	createNamespace(t, env, "anp-optout", label, map[string]string{protection.DefaultReasonAnnotation: "reads instance tags"})
	createNamespace(t, env, "anp-noreason", label, nil)
	metrics := startWith(t, env, protection.Enforce, func(o *controller.Options) { o.ClusterPolicy = controller.ClusterPolicyAuto })
	t.Cleanup(func() {
		// Terminating namespaces are ignored: the opt-outs made here are not
		// counted by the controllers of later tests.
		for _, ns := range []string{"anp-app", "anp-optout", "anp-noreason", "anp-late-optout"} {
			if err := env.Clientset.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil {
				t.Errorf("deleting namespace %s: %v", ns, err)
			}
		}
	})

	anps := dynamic.NewForConfigOrDie(env.Config).Resource(schema.GroupVersionResource{
		Group: controller.ANPKind.Group, Version: controller.ANPKind.Version, Resource: "adminnetworkpolicies"})
	leftOut := func(u *unstructured.Unstructured) []string {
		exprs, _, _ := unstructured.NestedSlice(u.Object, "spec", "subject", "namespaces", "matchExpressions")
		if len(exprs) != 1 {
			return nil
		}
		vals, _, _ := unstructured.NestedStringSlice(exprs[0].(map[string]any), "values")
		return vals
	}
	var anp *unstructured.Unstructured
	testenv.Eventually(t, "the AdminNetworkPolicy", func() (bool, string) {
		var err error
		anp, err = anps.Get(ctx, generate.DefaultName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(leftOut(anp), []string{"anp-optout", "kube-system"}), fmt.Sprint(leftOut(anp))
	})
	nets, _, _ := unstructured.NestedSlice(anp.Object, "spec", "egress")
	if len(nets) != 1 || fmt.Sprint(nets[0].(map[string]any)["action"]) != "Deny" || !strings.Contains(fmt.Sprint(nets[0]), "169.254.169.254/32") {
		t.Errorf("egress %v, want one Deny rule to the metadata addresses", nets)
	}
	if p, _, _ := unstructured.NestedInt64(anp.Object, "spec", "priority"); p != generate.ANPPriority {
		t.Errorf("priority %d", p)
	}

	// Drift: deleted, then edited.
	uid := anp.GetUID()
	if err := anps.Delete(ctx, generate.DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the deleted AdminNetworkPolicy restored", func() (bool, string) {
		u, err := anps.Get(ctx, generate.DefaultName, metav1.GetOptions{})
		return err == nil && u.GetUID() != uid, fmt.Sprint(err)
	})
	u, err := anps.Get(ctx, generate.DefaultName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, int64(900), "spec", "priority"); err != nil {
		t.Fatal(err)
	}
	if _, err := anps.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the edited AdminNetworkPolicy restored", func() (bool, string) {
		u, err := anps.Get(ctx, generate.DefaultName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		p, _, _ := unstructured.NestedInt64(u.Object, "spec", "priority")
		return p == generate.ANPPriority && testutil.ToFloat64(metrics.Restores.WithLabelValues("edited")) == 1, fmt.Sprint(p)
	})

	// A new opt-out with a reason joins the list.
	createNamespace(t, env, "anp-late-optout", label, map[string]string{protection.DefaultReasonAnnotation: "legacy agent"})
	testenv.Eventually(t, "the new opt-out left out", func() (bool, string) {
		u, err := anps.Get(ctx, generate.DefaultName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return slices.Contains(leftOut(u), "anp-late-optout"), fmt.Sprint(leftOut(u))
	})
	// No per-namespace policy anywhere it guards.
	for _, ns := range []string{"anp-app", "anp-noreason"} {
		if np := managed(t, env, ns, managedName); np != nil {
			t.Errorf("cluster-wide mode created %s/%s", ns, np.Name)
		}
	}
}
