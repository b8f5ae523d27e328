package manifest

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

func renderCiliumPolicy(p func(string, ...any), cp *model.CiliumPolicy) {
	p("ciliumpolicy %s clusterwide=%t src=%s", cp.Ref, cp.Clusterwide, cp.Source)
	for _, r := range cp.Rules {
		p("  rule %s defaultDenyEgress=%t endpointSelector=%s nodeSelector=%s src=%s", r.Path, r.DefaultDenyEgress,
			ciliumSelectorText(r.EndpointSelector), ciliumSelectorText(r.NodeSelector), r.Source)
		for _, e := range r.Egress {
			p("    egress #%d %s deny=%t peer=%q empty=%t icmp=%t toPorts=%t src=%s", e.Index, e.Path, e.Deny, e.Peer, e.EmptyPeer, e.ICMP, e.HasToPorts, e.Source)
			for _, b := range e.CIDRs {
				p("      cidr=%s (%s) except=%v ambiguous=%q src=%s", b.CIDR, b.RawCIDR, b.Except, b.Ambiguous, b.Source)
			}
			if e.Entities != nil {
				p("      entities=%v", e.Entities)
			}
			for _, s := range e.Endpoints {
				p("      endpoints=%s", ciliumSelectorText(&s))
			}
			if e.Unmodelled != nil {
				p("      unmodelled=%v", e.Unmodelled)
			}
			for _, pr := range e.ToPorts {
				var ports []string
				for _, port := range pr.Ports {
					ports = append(ports, fmt.Sprintf("%s/%d-%d%q", port.Protocol, port.Number, port.EndPort, port.Name))
				}
				p("      toPorts [%s] l7=%q src=%s", strings.Join(ports, " "), pr.L7, pr.Source)
			}
		}
	}
}

func ciliumSelectorText(s *model.CiliumSelector) string {
	if s == nil {
		return "<none>"
	}
	var terms []string
	for _, t := range s.Terms {
		terms = append(terms, fmt.Sprintf("%s:%s %s %v", t.LabelSource, t.Key, t.Operator, t.Values))
	}
	return fmt.Sprintf("%s [%s] src=%s", s.Text, strings.Join(terms, "; "), s.Source)
}
