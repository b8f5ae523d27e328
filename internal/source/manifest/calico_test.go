package manifest

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/calicosel"
	"github.com/imdsguard/imdsguard/internal/model"
)

// renderCalico prints the Calico policies and tiers of an inventory for
// golden files.
func renderCalico(p func(string, ...any), inv *model.Inventory) {
	for _, t := range inv.CalicoTiers {
		p("calico-tier %s order=%s defaultAction=%s src=%s", t.Ref.Name, orderText(t.Order), t.DefaultAction, t.Source)
	}
	for _, cp := range inv.CalicoPolicies {
		p("calico %s global=%t tier=%s order=%s selector=%s nsSelector=%s saSelector=%s egress=%t hostOnly=%q src=%s",
			cp.Ref, cp.Global, cp.Tier, orderText(cp.Order), selText(cp.Selector), selText(cp.NamespaceSelector), selText(cp.ServiceAccountSelector), cp.Egress, cp.HostOnly, cp.Source)
		for _, r := range cp.EgressRules {
			p("  egress[%d] %s protocol=%q notProtocol=%q ipVersion=%d src=%s", r.Index, r.Action, r.Protocol, r.NotProtocol, r.IPVersion, r.Src)
			for _, e := range []struct {
				name string
				e    *model.CalicoEntity
			}{{"source", &r.Source}, {"destination", &r.Destination}} {
				if s := entityText(e.e); s != "" {
					p("    %s%s", e.name, s)
				}
			}
		}
	}
}

func orderText(o *float64) string {
	if o == nil {
		return "none"
	}
	return fmt.Sprint(*o)
}

func selText(s *calicosel.Selector) string {
	if s == nil {
		return "unset"
	}
	return fmt.Sprintf("%q", s.String())
}

func entityText(e *model.CalicoEntity) string {
	var b strings.Builder
	add := func(k string, v any) { fmt.Fprintf(&b, " %s=%v", k, v) }
	if e.Nets != nil {
		add("nets", e.Nets)
	}
	if e.NotNets != nil {
		add("notNets", e.NotNets)
	}
	for k, s := range map[string]*calicosel.Selector{"selector": e.Selector} {
		if s != nil {
			add(k, selText(s))
		}
	}
	if e.NotSelector != nil {
		add("notSelector", selText(e.NotSelector))
	}
	if e.NamespaceSelector != nil {
		add("namespaceSelector", selText(e.NamespaceSelector))
	}
	if e.Ports != nil {
		add("ports", e.Ports)
	}
	if e.NotPorts != nil {
		add("notPorts", e.NotPorts)
	}
	if e.ServiceAccounts {
		add("serviceAccounts", true)
	}
	if e.Services != "" {
		add("services", e.Services)
	}
	if len(e.Domains) > 0 {
		add("domains", e.Domains)
	}
	return b.String()
}
