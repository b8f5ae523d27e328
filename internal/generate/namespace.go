package generate

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// ManagedByLabel marks every object imdsguard generates.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// dnsPort and the carve-out rules use these protocols.
var (
	tcp = corev1.ProtocolTCP
	udp = corev1.ProtocolUDP
)

// wireServer is Azure's WireServer, which is also Azure's DNS resolver: a
// pod with dnsPolicy Default asks it on port 53. Blocking the address for
// metadata must leave port 53 open.
var wireServer = netip.MustParseAddr("168.63.129.16")

// namespacePolicies returns the NetworkPolicies that isolate, for egress,
// every pod of the namespace that no existing egress policy isolates,
// allowing all egress but the metadata addresses (or, with DefaultDeny,
// only DNS and the carve-outs). Pods that existing policies already isolate
// are not selected, so nothing they are allowed to reach changes: the
// selectors are the complement of the existing policies' selectors.
func namespacePolicies(ns string, existing []*model.NetworkPolicy, keepOpen []reach.Target, o *Options) ([]*networkingv1.NetworkPolicy, bool) {
	var sels []*model.Selector
	for _, p := range existing {
		if p.Egress {
			sels = append(sels, &p.PodSelector)
		}
	}
	selectors, ok := complement(sels)
	if !ok {
		return nil, false
	}
	var out []*networkingv1.NetworkPolicy
	for i, s := range selectors {
		name := o.name()
		if len(selectors) > 1 {
			name = fmt.Sprintf("%s-%d", name, i+1)
		}
		np := &networkingv1.NetworkPolicy{
			TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
				Labels: map[string]string{ManagedByLabel: "imdsguard"}},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: s,
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress:      egressRules(keepOpen, o),
			},
		}
		out = append(out, np)
	}
	return out, true
}

// egressRules are the rules of a generated policy: everything but the
// metadata addresses (unless DefaultDeny), every pod in the cluster, DNS,
// and the node-local services that must stay reachable.
func egressRules(keepOpen []reach.Target, o *Options) []networkingv1.NetworkPolicyEgressRule {
	var rules []networkingv1.NetworkPolicyEgressRule
	if !o.DefaultDeny {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: exceptPeers(o.Deny)},
			// ipBlock may not match pod IPs (Cilium, for one, does not), so
			// traffic to pods is allowed by selector.
			networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}})
	}
	rules = append(rules, networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{model.MetadataNameLabel: "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}},
		Ports: dnsPorts(),
	})
	return append(rules, carveOuts(keepOpen, o.Deny)...)
}

// exceptPeers returns 0.0.0.0/0 and ::/0 with the metadata addresses of each
// family excepted.
func exceptPeers(deny []netip.Addr) []networkingv1.NetworkPolicyPeer {
	v4 := &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}
	v6 := &networkingv1.IPBlock{CIDR: "::/0"}
	for _, a := range deny {
		p := netip.PrefixFrom(a, a.BitLen()).String()
		if a.Is4() {
			v4.Except = append(v4.Except, p)
		} else {
			v6.Except = append(v6.Except, p)
		}
	}
	return []networkingv1.NetworkPolicyPeer{{IPBlock: v4}, {IPBlock: v6}}
}

func dnsPorts() []networkingv1.NetworkPolicyPort {
	p53 := intstr.FromInt32(53)
	return []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &p53}, {Protocol: &tcp, Port: &p53}}
}

// carveOuts allows the node-local services (NodeLocal DNSCache, the EKS Pod
// Identity agent, ...) explicitly, and Azure DNS on the WireServer address
// when that address is denied.
func carveOuts(keepOpen []reach.Target, deny []netip.Addr) []networkingv1.NetworkPolicyEgressRule {
	type key struct {
		addr  netip.Addr
		proto model.Protocol
	}
	ports := map[key][]int32{}
	add := func(a netip.Addr, proto model.Protocol, port int32) {
		k := key{a, proto}
		for _, p := range ports[k] {
			if p == port {
				return
			}
		}
		ports[k] = append(ports[k], port)
	}
	for _, t := range keepOpen {
		add(t.Addr, t.Protocol, t.Port)
	}
	for _, a := range deny {
		if a == wireServer {
			add(a, model.UDP, 53)
			add(a, model.TCP, 53)
		}
	}
	addrs := map[netip.Addr][]key{}
	for k := range ports {
		addrs[k.addr] = append(addrs[k.addr], k)
	}
	order := make([]netip.Addr, 0, len(addrs))
	for a := range addrs {
		order = append(order, a)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Less(order[j]) })
	var rules []networkingv1.NetworkPolicyEgressRule
	for _, a := range order {
		keys := addrs[a]
		sort.Slice(keys, func(i, j int) bool { return keys[i].proto < keys[j].proto })
		r := networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{{
			IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(a, a.BitLen()).String()}}}}
		for _, k := range keys {
			ps := ports[k]
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
			for _, p := range ps {
				proto := corev1.Protocol(k.proto)
				port := intstr.FromInt32(p)
				r.Ports = append(r.Ports, networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port})
			}
		}
		rules = append(rules, r)
	}
	return rules
}

// toUnstructured converts a typed object, dropping the empty fields that
// typed marshalling adds (creationTimestamp: null, status: {}).
func toUnstructured(obj runtime.Object) *unstructured.Unstructured {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(fmt.Sprintf("generate: converting %T: %v", obj, err)) // our own types always convert
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if st, ok := u.Object["status"].(map[string]any); ok && len(st) == 0 {
		delete(u.Object, "status")
	}
	return u
}

// namespaceWhy explains a generated namespace policy.
func namespaceWhy(np *networkingv1.NetworkPolicy, workloads []string, o *Options) string {
	what := "allows all egress except the metadata addresses"
	if o.DefaultDeny {
		what = "denies all egress except DNS and the node-local services"
	}
	w := "future pods"
	if len(workloads) > 0 {
		w = strings.Join(workloads, ", ")
	}
	return fmt.Sprintf("Isolates %s in namespace %s (pods selected: %s), which no egress NetworkPolicy isolated; %s.",
		w, np.Namespace, describeSelector(np.Spec.PodSelector), what)
}
