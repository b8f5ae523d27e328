package generate

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CalicoTier is the Calico tier that holds the generated
// GlobalNetworkPolicy, and CalicoTierOrder its order. Tiers with lower
// orders are evaluated first; 100 comes before the tiers Calico creates for
// AdminNetworkPolicy/ClusterNetworkPolicy (order 1000) and before the
// default tier that holds Kubernetes NetworkPolicies.
const (
	CalicoTier      = "imdsguard"
	CalicoTierOrder = 100
)

// ciliumPolicy builds a CiliumClusterwideNetworkPolicy with one egressDeny
// rule. Cilium puts every endpoint a policy selects into default-deny for
// each direction the policy has rules in, egressDeny included, unless the
// policy sets enableDefaultDeny (Cilium 1.16 and later). Without it, this
// policy would cut all egress of every selected pod. An allow-all egress
// rule would avoid that too, but it would also be unioned with every other
// policy's allows and void other policies' default-deny, so the policy opts
// out of default-deny instead.
func ciliumPolicy(o *Options) ([]Artifact, error) {
	key, value := o.exemptLabel()
	exprs := []any{
		// Only pods: reserved endpoints (health, ingress) carry no namespace.
		map[string]any{"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"},
	}
	if len(o.ExemptNamespaces) > 0 {
		exprs = append(exprs, map[string]any{
			"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": stringsToAny(o.ExemptNamespaces),
		})
	}
	exprs = append(exprs, map[string]any{
		"key": "k8s:io.cilium.k8s.namespace.labels." + key, "operator": "NotIn", "values": []any{value},
	})
	var cidrs []any
	for _, p := range o.DenyPrefixes() {
		cidrs = append(cidrs, map[string]any{"cidr": p.String()})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2",
		"kind":       "CiliumClusterwideNetworkPolicy",
		"metadata":   map[string]any{"name": o.name(), "labels": managedByLabels()},
		"spec": map[string]any{
			"description":       "imdsguard: deny egress to the cloud instance metadata service (MITRE ATT&CK T1552.005); every other connection is left to other policies.",
			"endpointSelector":  map[string]any{"matchExpressions": exprs},
			"enableDefaultDeny": map[string]any{"egress": false, "ingress": false},
			"egressDeny":        []any{map[string]any{"toCIDRSet": cidrs}},
		},
	}}
	return []Artifact{{Group: GroupCluster, File: "cluster/ciliumclusterwidenetworkpolicy.yaml", Object: u,
		Why: "Denies egress to the metadata service from every pod outside the exempt namespaces; a Cilium deny wins over every allow. Needs Cilium 1.16 or later (enableDefaultDeny)."}}, nil
}

// calicoPolicy builds a Calico Tier and a GlobalNetworkPolicy in it. In
// Calico, a tier that has a policy selecting an endpoint drops what none of
// its rules match (end-of-tier deny). The policy therefore ends with a Pass
// rule, which hands every other connection to the next tier, where
// Kubernetes NetworkPolicies are evaluated as before. A Pass or Allow rule
// in the default tier instead would skip the NetworkPolicies ordered after
// it, so the policy lives in a tier of its own.
func calicoPolicy(o *Options) ([]Artifact, error) {
	tier := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "projectcalico.org/v3",
		"kind":       "Tier",
		"metadata":   map[string]any{"name": CalicoTier, "labels": managedByLabels()},
		"spec":       map[string]any{"order": int64(CalicoTierOrder)},
	}}
	var rules []any
	var v4, v6 []any
	for _, p := range o.DenyPrefixes() {
		if p.Addr().Is4() {
			v4 = append(v4, p.String())
		} else {
			v6 = append(v6, p.String())
		}
	}
	for _, fam := range []struct {
		version int64
		nets    []any
	}{{4, v4}, {6, v6}} {
		if len(fam.nets) > 0 {
			rules = append(rules, map[string]any{
				"action": "Deny", "ipVersion": fam.version, "destination": map[string]any{"nets": fam.nets},
			})
		}
	}
	rules = append(rules, map[string]any{"action": "Pass"})
	gnp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "projectcalico.org/v3",
		"kind":       "GlobalNetworkPolicy",
		"metadata":   map[string]any{"name": CalicoTier + "." + o.name(), "labels": managedByLabels()},
		"spec": map[string]any{
			"tier":              CalicoTier,
			"order":             int64(100),
			"namespaceSelector": calicoNamespaceSelector(o),
			"selector":          "all()",
			"types":             []any{"Egress"},
			"egress":            rules,
		},
	}}
	return []Artifact{
		{Group: GroupCluster, File: "cluster/calico-tier.yaml", Object: tier,
			Why: "A Calico tier evaluated before the default tier, so its deny cannot be overridden by a NetworkPolicy."},
		{Group: GroupCluster, File: "cluster/calico-globalnetworkpolicy.yaml", Object: gnp,
			Why: "Denies egress to the metadata service from every pod outside the exempt namespaces and passes all other traffic on to the next tier."},
	}, nil
}

// calicoNamespaceSelector is ExemptNamespaceSelector in Calico's selector
// language; "not in" also matches namespaces without the label.
func calicoNamespaceSelector(o *Options) string {
	key, value := o.exemptLabel()
	var parts []string
	if len(o.ExemptNamespaces) > 0 {
		parts = append(parts, fmt.Sprintf("projectcalico.org/name not in {%s}", calicoSet(o.ExemptNamespaces)))
	}
	parts = append(parts, fmt.Sprintf("%s not in {%s}", key, calicoSet([]string{value})))
	return strings.Join(parts, " && ")
}

func calicoSet(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func managedByLabels() map[string]any {
	out := make(map[string]any, len(managedByLabel))
	for k, v := range maps.All(managedByLabel) {
		out[k] = v
	}
	return out
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
