package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestCalicoLive reads Calico policies and a tier from a cluster through
// CRDs of Calico's crd.projectcalico.org/v1 group (structural stand-ins
// that keep every field): the security tier's Deny blocks the metadata
// service although a later policy allows everything, and Calico's own view
// of an AdminNetworkPolicy (kanp.*) is not read as a policy of its own,
// or it would allow everything first. Then a policy with
// a field this reader does not know is an input error, and nothing in its
// namespace is Blocked.
func TestCalicoLive(t *testing.T) {
	env := testenv.Start(t)
	installCRDs(t, env, "crd.projectcalico.org/v1",
		calicoCRD("Tier", "tiers", apiextensionsv1.ClusterScoped),
		calicoCRD("GlobalNetworkPolicy", "globalnetworkpolicies", apiextensionsv1.ClusterScoped),
		calicoCRD("NetworkPolicy", "networkpolicies", apiextensionsv1.NamespaceScoped))
	checkBlocksThenRefuses(t, env, "testdata/calico", "NetworkPolicy web/newer-field: spec.egress[0].destination.newField: unknown field")
}

// checkBlocksThenRefuses creates dir/cluster.yaml, whose policies block
// the metadata addresses of web/Deployment/web and leave the rest open,
// and checks a live scan finds just that; then dir/newer.yaml, whose
// policy has a field the reader does not know, and checks the scan
// reports wantErr first and no longer says Blocked.
func checkBlocksThenRefuses(t *testing.T, env *testenv.Env, dir, wantErr string) {
	t.Helper()
	create(t, env, readObjects(t, dir+"/cluster.yaml"))
	res := liveScan(t, env.Config, kube.Options{Cluster: "c"})
	if len(res.InputErrors) > 0 {
		t.Fatalf("input errors: %v", res.InputErrors)
	}
	for target, v := range verdicts(t, res, "web/Deployment/web") {
		want := reach.Reachable
		if strings.HasPrefix(target, "169.254.169.254:") || strings.HasPrefix(target, "[fd00:ec2::254]:") {
			want = reach.Blocked
		}
		if v != want {
			t.Errorf("%s: %s, want %s", target, v, want)
		}
	}

	create(t, env, readObjects(t, dir+"/newer.yaml"))
	res = liveScan(t, env.Config, kube.Options{Cluster: "c"})
	if len(res.InputErrors) == 0 || !strings.Contains(res.InputErrors[0].Error(), wantErr) {
		t.Fatalf("input errors %v, want %q first", res.InputErrors, wantErr)
	}
	for target, v := range verdicts(t, res, "web/Deployment/web") {
		if v == reach.Blocked {
			t.Errorf("%s: Blocked, although a policy that could allow it was not read", target)
		}
	}
}

// installCRDs creates CRDs and waits until the group version serves all
// of them: custom resources are served a moment after their CRD is made.
func installCRDs(t *testing.T, env *testenv.Env, groupVersion string, crds ...*apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	ctx := context.Background()
	ext := apiextensions.NewForConfigOrDie(env.Config)
	for _, c := range crds {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		rl, err := env.Clientset.Discovery().ServerResourcesForGroupVersion(groupVersion)
		return err == nil && len(rl.APIResources) == len(crds), nil
	})
	if err != nil {
		t.Fatalf("CRDs of %s not served: %v", groupVersion, err)
	}
}

// calicoCRD is a CRD of the crd.projectcalico.org/v1 group that keeps
// every field, as Calico's own CRDs do for what they do not validate.
func calicoCRD(kind, plural string, scope apiextensionsv1.ResourceScope) *apiextensionsv1.CustomResourceDefinition {
	c := crd("crd.projectcalico.org", kind, plural, scope)
	c.Annotations = nil // only *.k8s.io groups are protected
	c.Spec.Versions[0].Name = "v1"
	return c
}
