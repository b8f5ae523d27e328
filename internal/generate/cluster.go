package generate

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
)

// The cluster-wide kinds, as named in Options.ClusterKinds.
const (
	KindANP    = "anp"
	KindBANP   = "banp"
	KindCNP    = "cnp"
	KindCilium = "cilium"
	KindCalico = "calico"
)

// ClusterKinds lists every kind Cluster accepts, in output order.
var ClusterKinds = []string{KindANP, KindBANP, KindCNP, KindCilium, KindCalico}

// ANPPriority is the priority of the generated AdminNetworkPolicy and of the
// Admin-tier ClusterNetworkPolicy. Lower numbers win. 10 puts the deny ahead
// of the broad allows administrators usually give higher numbers, while
// leaving 0-9 free for a deliberate, reviewed exception (an Allow to the
// metadata service for one namespace must be given a lower number than this).
const ANPPriority = 10

// BANPName is the only name a BaselineAdminNetworkPolicy may have.
const BANPName = "default"

// maxNetworks is the most CIDRs one network-policy-api peer may hold.
const maxNetworks = 25

// denyRuleName names the deny rule in every generated network policy.
const denyRuleName = "imdsguard-deny-metadata"

// managedByLabel marks every generated object.
var managedByLabel = map[string]string{"app.kubernetes.io/managed-by": "imdsguard"}

// Cluster builds the cluster-wide policies selected by o.ClusterKinds, in
// the order of ClusterKinds. Every policy denies egress to o.Deny from every
// pod outside the exempt namespaces and allows everything else.
func Cluster(o *Options) ([]Artifact, error) {
	if len(o.Deny) == 0 {
		return nil, fmt.Errorf("cluster policies: no metadata addresses to deny")
	}
	for _, k := range o.ClusterKinds {
		if !slices.Contains(ClusterKinds, k) {
			return nil, fmt.Errorf("cluster policies: unknown kind %q (want one of %v)", k, ClusterKinds)
		}
	}
	var out []Artifact
	for _, k := range ClusterKinds {
		if !slices.Contains(o.ClusterKinds, k) {
			continue
		}
		var (
			as  []Artifact
			err error
		)
		switch k {
		case KindANP:
			as, err = adminNetworkPolicy(o)
		case KindBANP:
			as, err = baselineAdminNetworkPolicy(o)
		case KindCNP:
			as, err = clusterNetworkPolicy(o)
		case KindCilium:
			as, err = ciliumPolicy(o)
		case KindCalico:
			as, err = calicoPolicy(o)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster policies: %s: %w", k, err)
		}
		out = append(out, as...)
	}
	return out, nil
}

// ExemptNamespaceSelector selects every namespace that is not exempt: its
// name is not in o.ExemptNamespaces and it does not carry the exempting
// label value. NotIn also matches namespaces without the label.
func ExemptNamespaceSelector(o *Options) *metav1.LabelSelector {
	key, value := o.exemptLabel()
	sel := &metav1.LabelSelector{}
	if len(o.ExemptNamespaces) > 0 {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
			Key:      "kubernetes.io/metadata.name",
			Operator: metav1.LabelSelectorOpNotIn,
			Values:   slices.Clone(o.ExemptNamespaces),
		})
	}
	sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
		Key:      key,
		Operator: metav1.LabelSelectorOpNotIn,
		Values:   []string{value},
	})
	return sel
}

// denyCIDRs returns o.Deny as host CIDRs, split into groups of at most
// maxNetworks.
func denyCIDRs(o *Options) [][]string {
	var groups [][]string
	for i, p := range o.DenyPrefixes() {
		if i%maxNetworks == 0 {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], p.String())
	}
	return groups
}

func adminNetworkPolicy(o *Options) ([]Artifact, error) {
	var to []anpv1alpha1.AdminNetworkPolicyEgressPeer
	for _, g := range denyCIDRs(o) {
		to = append(to, anpv1alpha1.AdminNetworkPolicyEgressPeer{Networks: anpCIDRs(g)})
	}
	p := &anpv1alpha1.AdminNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: anpv1alpha1.GroupVersion.String(), Kind: "AdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: o.name(), Labels: managedByLabel},
		Spec: anpv1alpha1.AdminNetworkPolicySpec{
			Priority: ANPPriority,
			Subject:  anpv1alpha1.AdminNetworkPolicySubject{Namespaces: ExemptNamespaceSelector(o)},
			Egress: []anpv1alpha1.AdminNetworkPolicyEgressRule{{
				Name:   denyRuleName,
				Action: anpv1alpha1.AdminNetworkPolicyRuleActionDeny,
				To:     to,
			}},
		},
	}
	return typedArtifact("cluster/adminnetworkpolicy.yaml", p,
		"Denies egress to the metadata service from every pod outside the exempt namespaces, ahead of any NetworkPolicy that allows it.")
}

func baselineAdminNetworkPolicy(o *Options) ([]Artifact, error) {
	var to []anpv1alpha1.BaselineAdminNetworkPolicyEgressPeer
	for _, g := range denyCIDRs(o) {
		to = append(to, anpv1alpha1.BaselineAdminNetworkPolicyEgressPeer{Networks: anpCIDRs(g)})
	}
	p := &anpv1alpha1.BaselineAdminNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: anpv1alpha1.GroupVersion.String(), Kind: "BaselineAdminNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: BANPName, Labels: managedByLabel},
		Spec: anpv1alpha1.BaselineAdminNetworkPolicySpec{
			Subject: anpv1alpha1.AdminNetworkPolicySubject{Namespaces: ExemptNamespaceSelector(o)},
			Egress: []anpv1alpha1.BaselineAdminNetworkPolicyEgressRule{{
				Name:   denyRuleName,
				Action: anpv1alpha1.BaselineAdminNetworkPolicyRuleActionDeny,
				To:     to,
			}},
		},
	}
	return typedArtifact("cluster/baselineadminnetworkpolicy.yaml", p,
		"Denies egress to the metadata service from pods that no NetworkPolicy selects for egress; a NetworkPolicy that selects a pod overrides it.")
}

func clusterNetworkPolicy(o *Options) ([]Artifact, error) {
	var to []cnpv1alpha2.ClusterNetworkPolicyEgressPeer
	for _, g := range denyCIDRs(o) {
		nets := make([]cnpv1alpha2.CIDR, len(g))
		for i, c := range g {
			nets[i] = cnpv1alpha2.CIDR(c)
		}
		to = append(to, cnpv1alpha2.ClusterNetworkPolicyEgressPeer{Networks: nets})
	}
	p := &cnpv1alpha2.ClusterNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: cnpv1alpha2.GroupVersion.String(), Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: o.name(), Labels: managedByLabel},
		Spec: cnpv1alpha2.ClusterNetworkPolicySpec{
			Tier:     cnpv1alpha2.AdminTier,
			Priority: ANPPriority,
			Subject:  cnpv1alpha2.ClusterNetworkPolicySubject{Namespaces: ExemptNamespaceSelector(o)},
			Egress: []cnpv1alpha2.ClusterNetworkPolicyEgressRule{{
				Name:   denyRuleName,
				Action: cnpv1alpha2.ClusterNetworkPolicyRuleActionDeny,
				To:     to,
			}},
		},
	}
	return typedArtifact("cluster/clusternetworkpolicy.yaml", p,
		"Denies egress to the metadata service from every pod outside the exempt namespaces in the Admin tier, ahead of any NetworkPolicy that allows it.")
}

func anpCIDRs(cidrs []string) []anpv1alpha1.CIDR {
	out := make([]anpv1alpha1.CIDR, len(cidrs))
	for i, c := range cidrs {
		out[i] = anpv1alpha1.CIDR(c)
	}
	return out
}

// typedArtifact converts a typed object into an object artifact, dropping
// the empty creationTimestamp and status the conversion leaves behind.
func typedArtifact(file string, obj runtime.Object, why string) ([]Artifact, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s: %w", file, err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return []Artifact{{Group: GroupCluster, File: file, Object: u, Why: why}}, nil
}
