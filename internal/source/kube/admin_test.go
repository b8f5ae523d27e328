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

// TestAdminPolicyLive reads an AdminNetworkPolicy from a cluster: its Deny
// blocks the metadata service for a pod no NetworkPolicy isolates. Then a
// policy with a field this version does not know (kept by a CRD that
// preserves unknown fields) is an input error, and nothing is Blocked.
func TestAdminPolicyLive(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ext := apiextensions.NewForConfigOrDie(env.Config)
	c := crd("policy.networking.k8s.io", "AdminNetworkPolicy", "adminnetworkpolicies", apiextensionsv1.ClusterScoped)
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, c, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := env.Clientset.Discovery().ServerResourcesForGroupVersion("policy.networking.k8s.io/v1alpha1")
		return err == nil, nil
	})
	if err != nil {
		t.Fatal("CRD not served:", err)
	}
	create(t, env, readObjects(t, "testdata/admin/cluster.yaml"))
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

	create(t, env, readObjects(t, "testdata/admin/newer.yaml"))
	res = liveScan(t, env.Config, kube.Options{Cluster: "c"})
	if len(res.InputErrors) == 0 || !strings.Contains(res.InputErrors[0].Error(), "AdminNetworkPolicy newer-field: spec.egress[0].to[0].services: unknown field") {
		t.Fatalf("input errors %v, want the unknown field first", res.InputErrors)
	}
	for target, v := range verdicts(t, res, "web/Deployment/web") {
		if v == reach.Blocked {
			t.Errorf("%s: Blocked, although a policy that could allow it was not read", target)
		}
	}
}
