package kube_test

import (
	"context"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func crd(group, kind, plural string, scope apiextensionsv1.ResourceScope) *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group,
			// *.k8s.io groups are protected; the real CRDs carry this too.
			Annotations: map[string]string{"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/network-policy-api"}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: scope,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, Plural: plural, ListKind: kind + "List"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1alpha1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve}}}},
		},
	}
}

// TestPolicyCRDs installs AdminNetworkPolicy and CiliumNetworkPolicy CRDs
// in a control plane of its own (cluster-wide policies would change the
// other tests' verdicts), and checks that the AdminNetworkPolicy is read for
// the engine and the Cilium policy as a kind it does not evaluate, with
// Unknown verdicts where it applies.
func TestPolicyCRDs(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ext := apiextensions.NewForConfigOrDie(env.Config)
	for _, c := range []*apiextensionsv1.CustomResourceDefinition{
		crd("policy.networking.k8s.io", "AdminNetworkPolicy", "adminnetworkpolicies", apiextensionsv1.ClusterScoped),
		crd("cilium.io", "CiliumNetworkPolicy", "ciliumnetworkpolicies", apiextensionsv1.NamespaceScoped),
	} {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	objs := readObjects(t, glob(t, "testdata/crds.yaml")...)
	// Custom resources are served a moment after their CRD is created.
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := env.Clientset.Discovery().ServerResourcesForGroupVersion("cilium.io/v1alpha1")
		_, err2 := env.Clientset.Discovery().ServerResourcesForGroupVersion("policy.networking.k8s.io/v1alpha1")
		return err == nil && err2 == nil, nil
	})
	if err != nil {
		t.Fatal("CRDs not served:", err)
	}
	create(t, env, objs)
	res, err := kube.Load(ctx, env.Config, kube.Options{Cluster: "c"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]model.PolicyStub{}
	for _, s := range res.Inventory.Unsupported {
		got[s.Ref.Kind+" "+s.Ref.Namespace+"/"+s.Ref.Name] = *s
	}
	if s, ok := got["CiliumNetworkPolicy cil/l7"]; !ok || s.ClusterScoped {
		t.Errorf("CiliumNetworkPolicy: %+v (found %v)", s, ok)
	}
	if len(got) != 1 || len(res.Errors) > 0 {
		t.Errorf("stubs %v, errors %v", got, res.Errors)
	}
	// The AdminNetworkPolicy (v1alpha1) is evaluated, read as the manifest
	// loader reads it.
	if n := len(res.Inventory.AdminPolicies); n != 1 {
		t.Fatalf("%d admin policies, want 1", n)
	}
	anp := res.Inventory.AdminPolicies[0]
	if anp.Ref.Name != "deny-metadata" || anp.Priority != 10 || len(anp.Egress) != 1 || anp.Egress[0].Action != model.AdminDeny ||
		len(anp.Egress[0].To) != 1 || len(anp.Egress[0].To[0].Networks) != 1 || anp.Egress[0].To[0].Networks[0].RawCIDR != "169.254.169.254/32" ||
		anp.Subject.Namespaces == nil || anp.Source.Cluster != "c" || anp.Egress[0].Source.Cluster != "c" {
		t.Errorf("AdminNetworkPolicy read as %+v", anp)
	}
	// A role without the CRDs: the AdminNetworkPolicy list is forbidden, so
	// no pod can be Blocked.
	applyClusterRole(t, env, "../../../deploy/rbac/clusterrole.yaml", "no-anp", func(_ rbacv1.PolicyRule, res string) bool {
		return res == "adminnetworkpolicies"
	})
	cfg, _ := env.User(t, "no-anp")
	sres := liveScan(t, cfg, kube.Options{Cluster: "c"})
	if len(sres.InputErrors) != 1 {
		t.Fatalf("input errors %v, want one", sres.InputErrors)
	}
	for target, v := range verdicts(t, sres, "cil/Deployment/web") {
		if v != reach.Unknown {
			t.Errorf("%s: %s, want Unknown", target, v)
		}
	}
}
