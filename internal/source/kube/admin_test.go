package kube_test

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestAdminPolicyLive reads an AdminNetworkPolicy from a cluster: its Deny
// blocks the metadata service for a pod no NetworkPolicy isolates. Then a
// policy with a field this version does not know (kept by a CRD that
// preserves unknown fields) is an input error, and nothing is Blocked.
func TestAdminPolicyLive(t *testing.T) {
	env := testenv.Start(t)
	installCRDs(t, env, "policy.networking.k8s.io/v1alpha1",
		crd("policy.networking.k8s.io", "AdminNetworkPolicy", "adminnetworkpolicies", apiextensionsv1.ClusterScoped))
	checkBlocksThenRefuses(t, env, "testdata/admin", "AdminNetworkPolicy newer-field: spec.egress[0].to[0].services: unknown field")
}
