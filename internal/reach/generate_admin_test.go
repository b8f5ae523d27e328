package reach_test

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// adminPolicy returns a random AdminNetworkPolicy, or the
// BaselineAdminNetworkPolicy "default" (of which the input may hold more
// than one copy). Priorities come from a small set so that ties happen.
func (g *generator) adminPolicy(i int, baseline bool) *model.AdminPolicy {
	p := &model.AdminPolicy{
		Ref:      model.ObjectRef{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy", Name: fmt.Sprintf("anp%d", i)},
		Baseline: baseline,
		Source:   model.Source{File: "admin.yaml", Line: 10 * i},
	}
	if baseline {
		p.Ref.Kind, p.Ref.Name = "BaselineAdminNetworkPolicy", fmt.Sprintf("default%d", i)
	} else {
		p.Priority = pick(g.r, []int32{0, 1, 1, 2, 5, 1000})
	}
	p.Subject.Source = p.Source
	if g.chance(50) {
		s := g.nsSelector()
		p.Subject.Namespaces = &s
	} else {
		p.Subject.Pods = &model.NamespacedPods{NamespaceSelector: g.nsSelector(), PodSelector: g.selector()}
	}
	for ri := range g.r.IntN(5) {
		p.Egress = append(p.Egress, g.adminRule(ri, baseline))
	}
	return p
}

// clusterPolicy returns a random ClusterNetworkPolicy in either tier. Its
// priorities overlap those of adminPolicy, so that the orders of the two
// kinds matter.
func (g *generator) clusterPolicy(i int) *model.AdminPolicy {
	p := g.adminPolicy(i, false)
	p.Ref = model.ObjectRef{APIVersion: "policy.networking.k8s.io/v1alpha2", Kind: model.KindClusterNetworkPolicy, Name: fmt.Sprintf("cnp%d", i)}
	p.Baseline = g.chance(40)
	for ri := range p.Egress {
		r := &p.Egress[ri]
		if r.Action == model.AdminAllow {
			r.Action = model.AdminAccept
		}
		if g.chance(15) {
			r.To = append(r.To, model.AdminPeer{DomainNames: []string{"metadata.google.internal"}})
		}
	}
	return p
}

// nsSelector is a namespace selector: on the namespaces' own labels, or
// on the name label that every namespace has.
func (g *generator) nsSelector() model.Selector {
	if !g.chance(40) {
		return g.selector()
	}
	var s model.Selector
	switch g.r.IntN(3) {
	case 0:
		s.MatchLabels = map[string]string{model.MetadataNameLabel: pick(g.r, append(g.nss, "other"))}
	case 1:
		s.MatchExpressions = []model.Requirement{{Key: model.MetadataNameLabel, Operator: pick(g.r, []string{"In", "NotIn"}),
			Values: []string{pick(g.r, append(g.nss, "other"))}}}
	default:
		s.MatchExpressions = []model.Requirement{{Key: model.MetadataNameLabel, Operator: pick(g.r, []string{"Exists", "DoesNotExist"})}}
	}
	if g.chance(30) {
		s.MatchExpressions = append(s.MatchExpressions, model.Requirement{Key: pick(g.r, labelKeys), Operator: "Exists"})
	}
	if err := compileSelector(&s); err != nil {
		panic(err)
	}
	return s
}

func (g *generator) adminRule(i int, baseline bool) model.AdminRule {
	r := model.AdminRule{Index: i, Name: fmt.Sprintf("r%d", i), Source: model.Source{File: "admin.yaml", Line: 100 + i}}
	actions := []model.AdminAction{model.AdminAllow, model.AdminDeny, model.AdminPass}
	if baseline {
		actions = actions[:2]
	}
	r.Action = pick(g.r, actions)
	for range 1 + g.r.IntN(3) {
		r.To = append(r.To, g.adminPeer(baseline))
	}
	if !g.chance(40) {
		for range 1 + g.r.IntN(3) {
			r.Ports = append(r.Ports, g.adminPort())
		}
	}
	return r
}

func (g *generator) adminPeer(baseline bool) model.AdminPeer {
	switch n := g.r.IntN(20); {
	case n < 12:
		var p model.AdminPeer
		for range 1 + g.r.IntN(3) {
			b := g.ipBlock()
			b.Except, b.RawExcept = nil, nil
			p.Networks = append(p.Networks, *b)
		}
		return p
	case n < 14 && !baseline:
		return model.AdminPeer{DomainNames: []string{pick(g.r, []string{"metadata.google.internal", "example.com"})}}
	case n < 16:
		s := g.nsSelector()
		return model.AdminPeer{Namespaces: &s}
	case n < 18:
		return model.AdminPeer{Pods: &model.NamespacedPods{NamespaceSelector: g.nsSelector(), PodSelector: g.selector()}}
	default:
		s := g.selector()
		return model.AdminPeer{Nodes: &s}
	}
}

// adminPort is a portNumber, a portRange or a namedPort.
func (g *generator) adminPort() model.Port {
	p := model.Port{Protocol: pick(g.r, []model.Protocol{model.TCP, model.TCP, model.UDP, model.SCTP})}
	switch n := g.r.IntN(10); {
	case n < 1:
		return model.Port{Name: pick(g.r, []string{"http", "dns"})}
	case n < 6:
		p.Number = pick(g.r, []int32{80, 80, 53, 32526, 443, 79, 81, 1, 65535})
	default:
		p.Number = pick(g.r, []int32{1, 53, 79, 80, 81, 443, 32525})
		p.EndPort = p.Number + pick(g.r, []int32{1, 2, 10, 1000, 32526})
		if p.EndPort > 65535 {
			p.EndPort = 65535
		}
	}
	return p
}

func dumpAdminPolicy(b *strings.Builder, p *model.AdminPolicy) {
	fmt.Fprintf(b, "%s %s priority=%d", p.Ref.Kind, p.Ref.Name, p.Priority)
	if p.ClusterNetworkPolicy() {
		fmt.Fprintf(b, " tier=%s", p.Tier())
	}
	if s := p.Subject.Namespaces; s != nil {
		fmt.Fprintf(b, " subject namespaces=%s\n", formatSelector(s))
	} else {
		fmt.Fprintf(b, " subject pods namespaces=%s pods=%s\n", formatSelector(&p.Subject.Pods.NamespaceSelector), formatSelector(&p.Subject.Pods.PodSelector))
	}
	for _, r := range p.Egress {
		fmt.Fprintf(b, "  egress[%d] %s\n", r.Index, r.Action)
		for _, peer := range r.To {
			switch {
			case peer.Networks != nil:
				var cidrs []string
				for _, n := range peer.Networks {
					c := n.CIDR.String()
					if n.Ambiguous != "" {
						c += " (ambiguous)"
					}
					cidrs = append(cidrs, c)
				}
				fmt.Fprintf(b, "    to: networks %s\n", strings.Join(cidrs, ", "))
			case peer.DomainNames != nil:
				fmt.Fprintf(b, "    to: domainNames %v\n", peer.DomainNames)
			case peer.Namespaces != nil:
				fmt.Fprintf(b, "    to: namespaces %s\n", formatSelector(peer.Namespaces))
			case peer.Pods != nil:
				fmt.Fprintf(b, "    to: pods %s %s\n", formatSelector(&peer.Pods.NamespaceSelector), formatSelector(&peer.Pods.PodSelector))
			default:
				fmt.Fprintf(b, "    to: nodes %s\n", formatSelector(peer.Nodes))
			}
		}
		if r.Ports == nil {
			b.WriteString("    ports: (any)\n")
		}
		for _, p := range r.Ports {
			fmt.Fprintf(b, "    port: %s\n", formatPort(&p))
		}
	}
}
