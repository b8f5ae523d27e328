package manifest

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/imdsguard/imdsguard/internal/model"
)

// ciliumAPIVersion is the only version of CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy there is.
const ciliumAPIVersion = "cilium.io/v2"

// maxCiliumPorts is the agent's limit on the ports of one toPorts entry.
const maxCiliumPorts = 40

// ciliumFields are the fields of each object of the cilium.io/v2 policy
// types (github.com/cilium/cilium pkg/policy/api, v1.20) that the loader
// accepts.
var ciliumFields = struct {
	object, rule, defaultDeny, selector    []string
	egress, egressDeny, cidrRule, portRule []string
	portDenyRule, port                     []string
}{
	object: []string{"apiVersion", "kind", "metadata", "spec", "specs", "status"},
	rule: []string{"endpointSelector", "nodeSelector", "ingress", "ingressDeny", "egress", "egressDeny",
		"labels", "enableDefaultDeny", "description", "log"},
	defaultDeny: []string{"ingress", "egress"},
	selector:    []string{"matchLabels", "matchExpressions"},
	egress: []string{"toEndpoints", "toRequires", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups",
		"toNodes", "toPorts", "toFQDNs", "icmps", "authentication"},
	egressDeny: []string{"toEndpoints", "toRequires", "toCIDR", "toCIDRSet", "toEntities", "toServices", "toGroups",
		"toNodes", "toPorts", "icmps"},
	cidrRule:     []string{"cidr", "cidrGroupRef", "cidrGroupSelector", "except"},
	portRule:     []string{"ports", "terminatingTLS", "originatingTLS", "serverNames", "listener", "rules"},
	portDenyRule: []string{"ports"},
	port:         []string{"port", "endPort", "protocol"},
}

// ciliumEntities are the values toEntities accepts (the CRD's enum: the
// agent also knows world-ipv4 and world-ipv6, which the API server refuses).
var ciliumEntities = []string{"all", "world", "cluster", "cluster-mesh", "host", "init",
	"ingress", "unmanaged", "remote-node", "health", "none", "kube-apiserver"}

// ciliumProtocols are the values a port's protocol accepts.
var ciliumProtocols = []string{"TCP", "UDP", "SCTP", "VRRP", "IGMP", "GRE", "IPIP", "IPV6", "ESP", "AH", "ANY"}

// ciliumPolicy reads a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy
// strictly, as the agent would accept it: a rule it would refuse makes it
// refuse the whole object, so here it is an input error.
func (o *object) ciliumPolicy() *model.CiliumPolicy {
	w := o.w
	w.strict(o.m, ciliumFields.object...)
	p := &model.CiliumPolicy{Ref: o.ref, Clusterwide: o.ref.Kind == "CiliumClusterwideNetworkPolicy", Source: o.src}
	specF, specsF := o.m.get("spec"), o.m.get("specs")
	hasSpec := specF != nil && !isNull(w.resolve(specF.v))
	hasSpecs := specsF != nil && !isNull(w.resolve(specsF.v))
	if !hasSpec && !hasSpecs {
		w.failf(o.m.node, "spec", "one of spec and specs is required")
		return p
	}
	next := 0
	if hasSpec {
		if r, ok := o.ciliumRule(specF.v, "spec", p.Clusterwide, &next); ok {
			p.Rules = append(p.Rules, r)
		}
	}
	for i, n := range w.seq(o.m.value("specs"), "specs") {
		if r, ok := o.ciliumRule(n, index("specs", i), p.Clusterwide, &next); ok {
			p.Rules = append(p.Rules, r)
		}
	}
	return p
}

// ciliumRule reads one rule (api.Rule). next numbers the egress rules
// across the policy.
func (o *object) ciliumRule(n *yaml.Node, path string, clusterwide bool, next *int) (model.CiliumRule, bool) {
	w := o.w
	r := model.CiliumRule{Path: path, Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return r, false
	}
	w.strict(m, ciliumFields.rule...)
	if f := m.get("endpointSelector"); f != nil && !isNull(w.resolve(f.v)) {
		r.EndpointSelector = o.ciliumSelector(f, join(path, "endpointSelector"))
	}
	if f := m.get("nodeSelector"); f != nil && !isNull(w.resolve(f.v)) {
		if !clusterwide {
			w.failf(f.k, join(path, "nodeSelector"), "a CiliumNetworkPolicy cannot select nodes (only a CiliumClusterwideNetworkPolicy can)")
		}
		r.NodeSelector = o.ciliumSelector(f, join(path, "nodeSelector"))
	}
	if (r.EndpointSelector == nil) == (r.NodeSelector == nil) {
		w.failf(m.node, path, "exactly one of endpointSelector and nodeSelector must be set")
	}
	ingress := 0
	for _, key := range []string{"ingress", "ingressDeny"} {
		// Ingress plays no part in egress reachability; the entries are
		// only checked to be mappings.
		for i, it := range w.seq(m.value(key), join(path, key)) {
			w.requiredMapping(it, index(join(path, key), i))
			ingress++
		}
	}
	egress := w.seq(m.value("egress"), join(path, "egress"))
	deny := w.seq(m.value("egressDeny"), join(path, "egressDeny"))
	if len(egress)+len(deny)+ingress == 0 {
		w.failf(m.node, path, "must have at least one of ingress, ingressDeny, egress and egressDeny")
	}
	for i, e := range egress {
		r.Egress = append(r.Egress, o.ciliumEgress(e, index(join(path, "egress"), i), false, next))
	}
	for i, e := range deny {
		r.Egress = append(r.Egress, o.ciliumEgress(e, index(join(path, "egressDeny"), i), true, next))
	}
	r.DefaultDenyEgress = len(egress)+len(deny) > 0
	if dd := w.mapping(m.value("enableDefaultDeny"), join(path, "enableDefaultDeny")); dd != nil {
		w.strict(dd, ciliumFields.defaultDeny...)
		w.boolean(dd.value("ingress"), join(path, "enableDefaultDeny.ingress"))
		if v := w.resolve(dd.value("egress")); !isNull(v) {
			on := w.boolean(v, join(path, "enableDefaultDeny.egress"))
			r.DefaultDenyEgress = r.DefaultDenyEgress && on
		}
	}
	w.str(m.value("description"), join(path, "description"))
	w.seq(m.value("labels"), join(path, "labels"))
	w.mapping(m.value("log"), join(path, "log"))
	return r, true
}

// ciliumSelector reads an endpoint or node selector. Keys keep Cilium's
// source prefix; a key without one matches any source.
func (o *object) ciliumSelector(f *field, path string) *model.CiliumSelector {
	w := o.w
	sel := &model.CiliumSelector{Source: w.d.source(f.k)}
	m := w.mapping(f.v, path)
	w.strict(m, ciliumFields.selector...)
	var text []string
	mlPath := join(path, "matchLabels")
	w.strPairs(m.value("matchLabels"), mlPath, func(k, v string) {
		src, key := ciliumKey(k)
		sel.Terms = append(sel.Terms, model.CiliumTerm{LabelSource: src, Key: key, Operator: "In", Values: []string{v}, FromMatchLabels: true})
		text = append(text, k+"="+v)
	})
	exprPath := join(path, "matchExpressions")
	for i, e := range w.seq(m.value("matchExpressions"), exprPath) {
		r, ok := w.requirement(e, index(exprPath, i))
		if !ok {
			continue
		}
		src, key := ciliumKey(r.Key)
		sel.Terms = append(sel.Terms, model.CiliumTerm{LabelSource: src, Key: key, Operator: r.Operator, Values: r.Values})
		text = append(text, fmt.Sprintf("%s %s %v", r.Key, r.Operator, r.Values))
	}
	sel.Text = "{" + strings.Join(text, ", ") + "}"
	return sel
}

// ciliumKey splits a selector key into its label source and key, as the
// agent does: "$host" is reserved:host, "k8s:app" has source k8s, and a key
// without a source matches any.
func ciliumKey(k string) (source, key string) {
	if strings.HasPrefix(k, "$") {
		return "reserved", k[1:]
	}
	if src, rest, ok := strings.Cut(k, ":"); ok {
		return src, rest
	}
	return "any", k
}

// ciliumEgress reads one egress or egressDeny rule.
func (o *object) ciliumEgress(n *yaml.Node, path string, deny bool, next *int) model.CiliumEgressRule {
	w := o.w
	r := model.CiliumEgressRule{Index: *next, Path: path, Deny: deny, Source: w.d.source(n)}
	*next++
	m := w.requiredMapping(n, path)
	if m == nil {
		return r
	}
	if deny {
		w.strict(m, ciliumFields.egressDeny...)
	} else {
		w.strict(m, ciliumFields.egress...)
	}
	var peers []string
	for _, f := range m.fields {
		if isNull(w.resolve(f.v)) {
			continue
		}
		fp := join(path, f.key)
		// peerList reads a list peer field: an empty one selects nothing.
		peerList := func(read func(n *yaml.Node, path string)) {
			peers = append(peers, f.key)
			items := w.seq(f.v, fp)
			r.EmptyPeer = r.EmptyPeer || len(items) == 0
			for i, it := range items {
				read(it, index(fp, i))
			}
		}
		switch f.key {
		case model.CiliumToCIDR:
			peerList(func(n *yaml.Node, p string) { o.ciliumCIDR(&r, n, p) })
		case model.CiliumToCIDRSet:
			peerList(func(n *yaml.Node, p string) { o.ciliumCIDRRule(&r, n, p) })
		case model.CiliumToEntities:
			peerList(func(n *yaml.Node, p string) {
				e, ok := w.itemStr(n, p)
				switch {
				case !ok:
				case !slices.Contains(ciliumEntities, e):
					w.failf(n, p, "unsupported entity %q (want one of %s)", e, strings.Join(ciliumEntities, ", "))
				default:
					r.Entities = append(r.Entities, e)
				}
			})
		case model.CiliumToEndpoints, model.CiliumToNodes:
			peerList(func(n *yaml.Node, p string) {
				if isNull(w.resolve(n)) {
					w.failf(n, p, "expected a mapping, got null")
					return
				}
				sel := o.ciliumSelector(&field{key: f.key, k: n, v: n}, p)
				if f.key == model.CiliumToEndpoints {
					r.Endpoints = append(r.Endpoints, *sel)
				}
			})
		case model.CiliumToServices, model.CiliumToGroups, model.CiliumToFQDNs:
			// The addresses these stand for (a Service's endpoints, a cloud
			// security group's members, what a name resolves to) are not in
			// the input.
			peers = append(peers, f.key)
			items := w.seq(f.v, fp)
			r.EmptyPeer = r.EmptyPeer || (len(items) == 0 && f.key != model.CiliumToFQDNs)
			if len(items) > 0 {
				r.Unmodelled = append(r.Unmodelled, f.key)
			}
		case "toRequires":
			if len(w.strings(f.v, fp)) > 0 {
				r.Unmodelled = append(r.Unmodelled, f.key)
			}
		case "authentication":
			if a := w.mapping(f.v, fp); a != nil {
				r.Unmodelled = append(r.Unmodelled, f.key)
			}
		case "icmps":
			r.ICMP = len(w.seq(f.v, fp)) > 0
		case "toPorts":
			r.HasToPorts = true
			for i, it := range w.seq(f.v, fp) {
				r.ToPorts = append(r.ToPorts, o.ciliumPortRule(it, index(fp, i), deny))
			}
		}
	}
	if len(peers) > 1 {
		w.failf(m.node, path, "combining %s is not supported by Cilium: use one peer field per rule", strings.Join(peers, " and "))
	} else if len(peers) == 1 {
		r.Peer = peers[0]
	}
	if r.ICMP && r.HasToPorts {
		w.failf(m.node, path, "icmps and toPorts cannot be in one rule")
	}
	return r
}

// ciliumCIDR reads a toCIDR entry: a CIDR, or a single address, which
// the agent takes as a CIDR of one address.
func (o *object) ciliumCIDR(r *model.CiliumEgressRule, n *yaml.Node, path string) {
	w := o.w
	raw, ok := w.itemStr(n, path)
	if !ok {
		return
	}
	b := model.IPBlock{Source: w.d.source(n)}
	cidr := raw
	if a, err := netip.ParseAddr(raw); err == nil && !strings.Contains(raw, "/") {
		cidr = netip.PrefixFrom(a, a.BitLen()).String()
	}
	if problem := b.SetCIDR(cidr); problem != "" {
		w.failf(n, path, "%s", strings.Replace(problem, strconv.Quote(cidr), strconv.Quote(raw), 1))
		return
	}
	b.RawCIDR = raw
	r.CIDRs = append(r.CIDRs, b)
}

// ciliumCIDRRule reads a toCIDRSet entry: exactly one of cidr,
// cidrGroupRef and cidrGroupSelector, and for a cidr its except list.
func (o *object) ciliumCIDRRule(r *model.CiliumEgressRule, n *yaml.Node, path string) {
	w := o.w
	m := w.requiredMapping(n, path)
	if m == nil {
		return
	}
	w.strict(m, ciliumFields.cidrRule...)
	set := 0
	if s, ok := w.str(m.value("cidrGroupRef"), join(path, "cidrGroupRef")); ok && s != "" {
		set++
		r.Unmodelled = append(r.Unmodelled, "toCIDRSet cidrGroupRef")
	}
	if f := m.get("cidrGroupSelector"); f != nil && !isNull(w.resolve(f.v)) {
		set++
		o.ciliumSelector(f, join(path, "cidrGroupSelector"))
		r.Unmodelled = append(r.Unmodelled, "toCIDRSet cidrGroupSelector")
	}
	raw, hasCIDR := w.str(m.value("cidr"), join(path, "cidr"))
	if hasCIDR && raw != "" {
		set++
	}
	if set != 1 {
		w.failf(m.node, path, "exactly one of cidr, cidrGroupRef and cidrGroupSelector must be set, got %d", set)
		return
	}
	if !hasCIDR || raw == "" {
		if len(w.seq(m.value("except"), join(path, "except"))) > 0 {
			w.failf(m.node, join(path, "except"), "only allowed with cidr")
		}
		return
	}
	b := model.IPBlock{Source: w.d.source(n)}
	if problem := b.SetCIDR(raw); problem != "" {
		w.failf(m.value("cidr"), join(path, "cidr"), "%s", problem)
		return
	}
	// The agent accepts an except of the same family inside the cidr, the
	// cidr itself included (ipBlock wants a strict subset).
	for i, en := range w.seq(m.value("except"), join(path, "except")) {
		ip := index(join(path, "except"), i)
		raw, ok := w.itemStr(en, ip)
		if !ok {
			continue
		}
		ex, err := netip.ParsePrefix(raw)
		switch {
		case err != nil:
			w.failf(en, ip, "invalid cidr %q", raw)
		case ex.Addr().Is4() != b.CIDR.Addr().Is4() || ex.Bits() < b.CIDR.Bits() || !b.CIDR.Contains(ex.Addr()):
			w.failf(en, ip, "%q is not inside cidr %q", raw, b.RawCIDR)
		default:
			b.Except = append(b.Except, ex.Masked())
			b.RawExcept = append(b.RawExcept, raw)
			if ex.Addr().Is4In6() {
				b.Ambiguous = model.MappedReason
			}
		}
	}
	r.CIDRs = append(r.CIDRs, b)
}

// ciliumPortRule reads a toPorts entry. A deny rule's entries have only
// ports; an allow rule's may add layer 7 parts, which are named, not read.
func (o *object) ciliumPortRule(n *yaml.Node, path string, deny bool) model.CiliumPortRule {
	w := o.w
	pr := model.CiliumPortRule{Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return pr
	}
	if deny {
		w.strict(m, ciliumFields.portDenyRule...)
	} else {
		w.strict(m, ciliumFields.portRule...)
	}
	ports := w.seq(m.value("ports"), join(path, "ports"))
	if len(ports) > maxCiliumPorts {
		w.failf(m.value("ports"), join(path, "ports"), "at most %d ports allowed, got %d", maxCiliumPorts, len(ports))
	}
	for i, pn := range ports {
		pr.Ports = append(pr.Ports, o.ciliumPort(pn, index(join(path, "ports"), i)))
	}
	var l7 []string
	for _, key := range []string{"rules", "serverNames", "listener", "terminatingTLS", "originatingTLS"} {
		f := m.get(key)
		if f == nil || isNull(w.resolve(f.v)) {
			continue
		}
		if key == "rules" {
			rm := w.mapping(f.v, join(path, "rules"))
			for _, rf := range rm.fields {
				if isNull(w.resolve(rf.v)) {
					continue
				}
				if rf.key != "http" && rf.key != "dns" {
					w.failf(rf.k, join(path, "rules."+rf.key), "unknown field")
					continue
				}
				if len(w.seq(rf.v, join(path, "rules."+rf.key))) > 0 {
					l7 = append(l7, "rules."+rf.key)
				}
			}
			continue
		}
		l7 = append(l7, key)
	}
	pr.L7 = strings.Join(l7, ", ")
	return pr
}

// ciliumPort reads a PortProtocol. The port is a string: a number (0 for
// every port) or a port name.
func (o *object) ciliumPort(n *yaml.Node, path string) model.Port {
	w := o.w
	p := model.Port{Protocol: model.CiliumAnyProtocol, Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return p
	}
	w.strict(m, ciliumFields.port...)
	if proto, ok := w.str(m.value("protocol"), join(path, "protocol")); ok {
		if !slices.Contains(ciliumProtocols, proto) {
			w.failf(m.value("protocol"), join(path, "protocol"), "unsupported protocol %q (want one of %s)", proto, strings.Join(ciliumProtocols, ", "))
		}
		p.Protocol = model.Protocol(proto)
	}
	pv := w.resolve(m.value("port"))
	switch {
	case isNull(pv):
		if !ciliumPortless(p.Protocol) {
			w.failf(m.node, join(path, "port"), "required field missing")
		}
	case !isString(pv):
		w.failf(pv, join(path, "port"), "expected a string, got %s (quote the port number)", typeName(pv))
	case isDigits(pv.Value):
		v, err := strconv.ParseUint(pv.Value, 10, 16)
		switch {
		case err != nil:
			w.failf(pv, join(path, "port"), "port %s is out of range 0-65535", pv.Value)
		case len(pv.Value) > 1 && pv.Value[0] == '0':
			w.failf(pv, join(path, "port"), "port %q has a leading zero, which the agent reads as octal; write it without", pv.Value)
		case v != 0 && ciliumPortless(p.Protocol):
			w.failf(pv, join(path, "port"), "protocol %s has no ports: the port must be empty or 0", p.Protocol)
		default:
			p.Number = int32(v)
		}
	default:
		name := strings.ToLower(pv.Value)
		if errs := validation.IsValidPortName(name); len(errs) > 0 {
			w.failf(pv, join(path, "port"), "invalid port %q: %s", pv.Value, strings.Join(errs, "; "))
		}
		p.Name = w.d.strs.intern(name)
	}
	if f := m.get("endPort"); f != nil && !isNull(w.resolve(f.v)) {
		if v, ok := w.integer(f.v, join(path, "endPort")); ok {
			switch {
			case v < 0 || v > 65535:
				w.failf(f.v, join(path, "endPort"), "%d is out of range 0-65535", v)
			case p.Number != 0 && int32(v) > p.Number:
				// The agent makes a range only above a non-zero port;
				// otherwise endPort is ignored.
				p.EndPort = int32(v)
			}
		}
	}
	return p
}

// ciliumPortless reports whether a protocol has no transport ports.
func ciliumPortless(p model.Protocol) bool {
	switch p {
	case "TCP", "UDP", "SCTP", model.CiliumAnyProtocol:
		return false
	}
	return true
}
