package reach

import (
	"fmt"

	"github.com/imdsguard/imdsguard/internal/model"
)

// tri is a three-valued match: a rule matches a target, does not, or cannot
// be decided (the CNI's reading of the rule is ambiguous).
type tri uint8

const (
	no tri = iota
	maybe
	yes
)

// ruleMatch decides whether an egress rule allows traffic to the target and
// says why. Empty `to` is every destination; empty `ports` is every port.
func ruleMatch(r *model.EgressRule, t *Target) (tri, string) {
	peer, peerWhy := peersMatch(r.To, t)
	if peer == no {
		return no, ""
	}
	port, portWhy := portsMatch(r.Ports, t)
	if port == no {
		return no, ""
	}
	why := peerWhy + ", " + portWhy
	if peer == maybe {
		return maybe, why
	}
	return yes, why
}

func peersMatch(peers []model.Peer, t *Target) (tri, string) {
	if len(peers) == 0 {
		return yes, "empty `to` allows every destination"
	}
	best, why := no, ""
	for i := range peers {
		p := &peers[i]
		if p.IPBlock == nil {
			// podSelector and namespaceSelector peers select pod IPs, and a
			// metadata address is never a pod IP.
			continue
		}
		switch m, w := ipBlockMatch(p.IPBlock, t); {
		case m == yes:
			return yes, w
		case m == maybe && best == no:
			best, why = maybe, w
		}
	}
	return best, why
}

func ipBlockMatch(b *model.IPBlock, t *Target) (tri, string) {
	if b.CIDR.Addr().Is4() != t.Addr.Is4() || !b.CIDR.Contains(t.Addr) {
		if b.Ambiguous != "" {
			return maybe, fmt.Sprintf("ipBlock %s is ambiguous: %s", b.RawCIDR, b.Ambiguous)
		}
		return no, ""
	}
	for _, ex := range b.Except {
		if b.Ambiguous == "" && ex.Addr().Is4() == t.Addr.Is4() && ex.Contains(t.Addr) {
			return no, ""
		}
	}
	if b.Ambiguous != "" {
		return maybe, fmt.Sprintf("ipBlock %s is ambiguous: %s", b.RawCIDR, b.Ambiguous)
	}
	if len(b.Except) == 0 {
		return yes, fmt.Sprintf("ipBlock %s contains %s", b.RawCIDR, t.Addr)
	}
	return yes, fmt.Sprintf("ipBlock %s contains %s and no except covers it", b.RawCIDR, t.Addr)
}

func portsMatch(ports []model.Port, t *Target) (tri, string) {
	if len(ports) == 0 {
		return yes, "no `ports` (every port)"
	}
	for i := range ports {
		p := &ports[i]
		proto := p.Protocol
		if proto == "" {
			proto = model.TCP // the API's default
		}
		if proto != t.Protocol || p.Name != "" {
			// A named port resolves against the destination pod's container
			// ports; an ipBlock destination has none.
			continue
		}
		switch {
		case p.Number == 0:
			return yes, fmt.Sprintf("port entry %s with no number (every %s port)", p.Protocol, p.Protocol)
		case p.EndPort == 0 && p.Number == t.Port:
			return yes, fmt.Sprintf("port %d/%s", p.Number, p.Protocol)
		case p.EndPort != 0 && p.Number <= t.Port && t.Port <= p.EndPort:
			return yes, fmt.Sprintf("port range %d-%d/%s", p.Number, p.EndPort, p.Protocol)
		}
	}
	return no, ""
}

// Excepts returns the ipBlocks of the policy whose except list covers the
// target: the sign that the policy means to block it.
func Excepts(np *model.NetworkPolicy, t *Target) []*model.IPBlock {
	var out []*model.IPBlock
	for i := range np.EgressRules {
		for j := range np.EgressRules[i].To {
			b := np.EgressRules[i].To[j].IPBlock
			if b == nil {
				continue
			}
			for _, ex := range b.Except {
				if ex.Addr().Is4() == t.Addr.Is4() && ex.Contains(t.Addr) {
					out = append(out, b)
					break
				}
			}
		}
	}
	return out
}

// RuleOpens reports whether an egress rule allows, or may allow depending on
// the CNI, traffic to the target.
func RuleOpens(r *model.EgressRule, t *Target) bool {
	m, _ := ruleMatch(r, t)
	return m != no
}
