package reach_test

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Selector keys of Cilium selectors: pod labels with and without a source,
// the labels Cilium adds (namespace, service account, namespace labels,
// cluster), keys of other sources and one the identity filter drops.
var ciliumKeys = []string{"app", "k8s:app", "any:tier", "env", "k8s:io.kubernetes.pod.namespace", "io.kubernetes.pod.namespace",
	"io.cilium.k8s.policy.serviceaccount", "k8s:io.cilium.k8s.namespace.labels.env", "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name",
	"io.cilium.k8s.policy.cluster", "reserved:init", "container:app", "pod-template-hash"}

var ciliumEntityNames = []string{"all", "world", "world-ipv4", "world-ipv6", "cluster", "host", "remote-node", "kube-apiserver", "none"}

// addCilium adds Cilium policies to some inventories, and service accounts
// to their pods for the selectors to ask about.
func (g *generator) addCilium(inv *model.Inventory) {
	if !g.chance(45) {
		return
	}
	for _, w := range inv.Workloads {
		for i := range w.Templates {
			if g.chance(50) {
				w.Templates[i].ServiceAccount = pick(g.r, []string{"default", "sa1"})
			}
		}
	}
	for i := range 1 + g.r.IntN(3) {
		inv.CiliumPolicies = append(inv.CiliumPolicies, g.ciliumPolicy(i))
	}
}

func (g *generator) ciliumPolicy(i int) *model.CiliumPolicy {
	p := &model.CiliumPolicy{Clusterwide: g.chance(40), Source: model.Source{File: "cilium.yaml", Line: 10 * i}}
	p.Ref = model.ObjectRef{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy", Namespace: pick(g.r, g.nss), Name: fmt.Sprintf("cnp%d", i)}
	if p.Clusterwide {
		p.Ref.Kind, p.Ref.Namespace, p.Ref.Name = "CiliumClusterwideNetworkPolicy", "", fmt.Sprintf("ccnp%d", i)
	}
	index := 0
	for ri := range 1 + g.r.IntN(2) {
		r := model.CiliumRule{Path: fmt.Sprintf("specs[%d]", ri), Source: p.Source}
		s := g.ciliumSelector()
		if p.Clusterwide && g.chance(10) {
			r.NodeSelector = &s
		} else {
			r.EndpointSelector = &s
		}
		for range g.r.IntN(3) {
			r.Egress = append(r.Egress, g.ciliumEgress(&index, r.Path, false))
		}
		for range g.r.IntN(3) {
			r.Egress = append(r.Egress, g.ciliumEgress(&index, r.Path, true))
		}
		r.DefaultDenyEgress = len(r.Egress) > 0 && !g.chance(20)
		p.Rules = append(p.Rules, r)
	}
	return p
}

func (g *generator) ciliumSelector() model.CiliumSelector {
	var s model.CiliumSelector
	for range g.r.IntN(3) {
		key := pick(g.r, ciliumKeys)
		src, k := "any", key
		if a, b, ok := strings.Cut(key, ":"); ok {
			src, k = a, b
		}
		values := append(append([]string{}, labelValues...), g.nss...)
		values = append(values, "default", "sa1")
		t := model.CiliumTerm{LabelSource: src, Key: k, Operator: "In", Values: []string{pick(g.r, values)}, FromMatchLabels: g.chance(60)}
		if !t.FromMatchLabels {
			t.Operator = pick(g.r, []string{"In", "NotIn", "Exists", "DoesNotExist"})
			switch t.Operator {
			case "Exists", "DoesNotExist":
				t.Values = nil
			default:
				if g.chance(40) {
					t.Values = append(t.Values, pick(g.r, values))
				}
			}
		}
		s.Terms = append(s.Terms, t)
	}
	s.Text = fmt.Sprintf("%v", s.Terms)
	return s
}

func (g *generator) ciliumEgress(index *int, path string, deny bool) model.CiliumEgressRule {
	r := model.CiliumEgressRule{Index: *index, Deny: deny, Source: model.Source{File: "cilium.yaml", Line: 100 + *index}}
	*index++
	r.Path = fmt.Sprintf("%s.egress[%d]", path, r.Index)
	switch n := g.r.IntN(20); {
	case n < 3: // no peer field
	case n < 7:
		r.Peer = model.CiliumToCIDR
		for range 1 + g.r.IntN(2) {
			b := g.ipBlock()
			b.Except, b.RawExcept = nil, nil
			r.CIDRs = append(r.CIDRs, *b)
		}
	case n < 10:
		r.Peer = model.CiliumToCIDRSet
		for range 1 + g.r.IntN(2) {
			r.CIDRs = append(r.CIDRs, *g.ipBlock())
		}
		if g.chance(10) {
			r.Unmodelled = append(r.Unmodelled, "toCIDRSet cidrGroupRef")
		}
	case n < 14:
		r.Peer = model.CiliumToEntities
		for range 1 + g.r.IntN(2) {
			r.Entities = append(r.Entities, pick(g.r, ciliumEntityNames))
		}
	case n < 16:
		r.Peer = model.CiliumToEndpoints
		s := g.ciliumSelector()
		if g.chance(20) {
			s.Terms = append(s.Terms, model.CiliumTerm{LabelSource: "reserved", Key: "world", Operator: "Exists"})
		}
		r.Endpoints = append(r.Endpoints, s)
	case n < 17:
		r.Peer = model.CiliumToNodes
	case n < 18:
		r.Peer = pick(g.r, []string{model.CiliumToServices, model.CiliumToGroups, model.CiliumToFQDNs})
		if deny && r.Peer == model.CiliumToFQDNs {
			r.Peer = model.CiliumToGroups
		}
		r.Unmodelled = append(r.Unmodelled, r.Peer)
	default:
		r.Peer, r.EmptyPeer = pick(g.r, []string{model.CiliumToCIDR, model.CiliumToEntities, model.CiliumToEndpoints}), true
	}
	if g.chance(5) {
		r.Unmodelled = append(r.Unmodelled, pick(g.r, []string{"toRequires", "authentication"}))
	}
	switch {
	case g.chance(5):
		r.ICMP = true
	case g.chance(55):
		r.HasToPorts = true
		for range g.r.IntN(3) {
			r.ToPorts = append(r.ToPorts, g.ciliumPortRule(deny))
		}
	}
	return r
}

func (g *generator) ciliumPortRule(deny bool) model.CiliumPortRule {
	var pr model.CiliumPortRule
	for range g.r.IntN(3) {
		p := g.port()
		p.Protocol = pick(g.r, []model.Protocol{model.TCP, model.TCP, model.UDP, model.CiliumAnyProtocol, model.CiliumAnyProtocol, "SCTP", "VRRP"})
		if p.Protocol == "VRRP" {
			p.Number, p.EndPort, p.Name = 0, 0, ""
		}
		if p.EndPort <= p.Number {
			p.EndPort = 0 // the loader keeps an endPort only above the port
		}
		pr.Ports = append(pr.Ports, p)
	}
	if !deny && g.chance(10) {
		pr.L7 = pick(g.r, []string{"rules.http", "rules.dns", "serverNames"})
	}
	return pr
}

func dumpCiliumPolicy(b *strings.Builder, p *model.CiliumPolicy) {
	fmt.Fprintf(b, "%s %s/%s\n", p.Ref.Kind, p.Ref.Namespace, p.Ref.Name)
	for _, r := range p.Rules {
		sel, what := r.EndpointSelector, "endpointSelector"
		if sel == nil {
			sel, what = r.NodeSelector, "nodeSelector"
		}
		fmt.Fprintf(b, "  %s %s=%v defaultDenyEgress=%t\n", r.Path, what, sel.Terms, r.DefaultDenyEgress)
		for _, e := range r.Egress {
			fmt.Fprintf(b, "    #%d deny=%t peer=%q empty=%t cidrs=%v entities=%v endpoints=%d unmodelled=%v icmp=%t toPorts=%t\n",
				e.Index, e.Deny, e.Peer, e.EmptyPeer, e.CIDRs, e.Entities, len(e.Endpoints), e.Unmodelled, e.ICMP, e.HasToPorts)
			for _, pr := range e.ToPorts {
				var ports []string
				for _, p := range pr.Ports {
					ports = append(ports, formatPort(&p))
				}
				fmt.Fprintf(b, "      ports [%s] l7=%q\n", strings.Join(ports, "; "), pr.L7)
			}
		}
	}
}
