package kube_test

import (
	"context"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

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
	checkBlocksThenRefuses(t, env, "testdata/admin", "AdminNetworkPolicy newer-field: spec.egress[0].to[0].services: unknown field")
}
