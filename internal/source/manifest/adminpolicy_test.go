package manifest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// TestAdminFieldsMatchUpstream checks that the fields the loader accepts
// in AdminNetworkPolicy and BaselineAdminNetworkPolicy objects are exactly
// those of the upstream v1alpha1 Go types: a field the types gain or lose
// must be handled here first.
func TestAdminFieldsMatchUpstream(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  any
		ours []string
	}{
		{"AdminNetworkPolicySpec", anpv1alpha1.AdminNetworkPolicySpec{}, adminFields.anpSpec},
		{"BaselineAdminNetworkPolicySpec", anpv1alpha1.BaselineAdminNetworkPolicySpec{}, adminFields.banpSpec},
		{"AdminNetworkPolicySubject", anpv1alpha1.AdminNetworkPolicySubject{}, adminFields.subject},
		{"NamespacedPod", anpv1alpha1.NamespacedPod{}, adminFields.namespacedPod},
		{"AdminNetworkPolicyEgressRule", anpv1alpha1.AdminNetworkPolicyEgressRule{}, adminFields.egressRule},
		{"BaselineAdminNetworkPolicyEgressRule", anpv1alpha1.BaselineAdminNetworkPolicyEgressRule{}, adminFields.egressRule},
		{"AdminNetworkPolicyIngressRule", anpv1alpha1.AdminNetworkPolicyIngressRule{}, adminFields.ingressRule},
		{"BaselineAdminNetworkPolicyIngressRule", anpv1alpha1.BaselineAdminNetworkPolicyIngressRule{}, adminFields.ingressRule},
		{"AdminNetworkPolicyEgressPeer", anpv1alpha1.AdminNetworkPolicyEgressPeer{}, adminFields.anpEgressPeer},
		{"BaselineAdminNetworkPolicyEgressPeer", anpv1alpha1.BaselineAdminNetworkPolicyEgressPeer{}, adminFields.banpEgressPeer},
		{"AdminNetworkPolicyIngressPeer", anpv1alpha1.AdminNetworkPolicyIngressPeer{}, adminFields.ingressPeer},
		{"AdminNetworkPolicyPort", anpv1alpha1.AdminNetworkPolicyPort{}, adminFields.port},
		{"Port", anpv1alpha1.Port{}, adminFields.portNumber},
		{"PortRange", anpv1alpha1.PortRange{}, adminFields.portRange},
		{"v1alpha2 ClusterNetworkPolicySpec", cnpv1alpha2.ClusterNetworkPolicySpec{}, adminFields.cnpSpec},
		{"v1alpha2 ClusterNetworkPolicySubject", cnpv1alpha2.ClusterNetworkPolicySubject{}, adminFields.subject},
		{"v1alpha2 NamespacedPod", cnpv1alpha2.NamespacedPod{}, adminFields.namespacedPod},
		{"v1alpha2 ClusterNetworkPolicyEgressRule", cnpv1alpha2.ClusterNetworkPolicyEgressRule{}, append([]string{"to"}, adminFields.cnpRule...)},
		{"v1alpha2 ClusterNetworkPolicyIngressRule", cnpv1alpha2.ClusterNetworkPolicyIngressRule{}, append([]string{"from"}, adminFields.cnpRule...)},
		{"v1alpha2 ClusterNetworkPolicyEgressPeer", cnpv1alpha2.ClusterNetworkPolicyEgressPeer{}, adminFields.anpEgressPeer},
		{"v1alpha2 ClusterNetworkPolicyIngressPeer", cnpv1alpha2.ClusterNetworkPolicyIngressPeer{}, adminFields.ingressPeer},
		{"v1alpha2 ClusterNetworkPolicyProtocol", cnpv1alpha2.ClusterNetworkPolicyProtocol{}, adminFields.cnpProtocol},
		{"v1alpha2 ClusterNetworkPolicyProtocolTCP", cnpv1alpha2.ClusterNetworkPolicyProtocolTCP{}, adminFields.cnpL4},
		{"v1alpha2 ClusterNetworkPolicyProtocolUDP", cnpv1alpha2.ClusterNetworkPolicyProtocolUDP{}, adminFields.cnpL4},
		{"v1alpha2 ClusterNetworkPolicyProtocolSCTP", cnpv1alpha2.ClusterNetworkPolicyProtocolSCTP{}, adminFields.cnpL4},
		{"v1alpha2 Port", cnpv1alpha2.Port{}, adminFields.cnpPort},
		{"v1alpha2 PortRange", cnpv1alpha2.PortRange{}, adminFields.cnpRange},
	} {
		var upstream []string
		rt := reflect.TypeOf(tc.typ)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			upstream = append(upstream, name)
		}
		slices.Sort(upstream)
		ours := slices.Sorted(slices.Values(tc.ours))
		if !slices.Equal(ours, upstream) {
			t.Errorf("%s: loader accepts %v, upstream type has %v", tc.name, ours, upstream)
		}
	}
}
