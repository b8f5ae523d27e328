package manifest

import (
	"net/netip"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/calicosel"
	"github.com/imdsguard/imdsguard/internal/model"
)

// The Calico versions read: the aggregated API (projectcalico.org/v3) and
// the CRDs behind it (crd.projectcalico.org/v1). Other versions stay stubs.
var calicoVersions = map[string]bool{"projectcalico.org/v3": true, "crd.projectcalico.org/v1": true}

// calicoFields are the fields the loader accepts, after the Calico
// NetworkPolicy, GlobalNetworkPolicy and Tier references.
var calicoFields = struct {
	npSpec, gnpSpec, rule, entity, serviceAccounts, services, icmp, http, ruleMeta, tierSpec []string
}{
	npSpec:          []string{"order", "tier", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints"},
	gnpSpec:         []string{"order", "tier", "selector", "types", "ingress", "egress", "serviceAccountSelector", "performanceHints", "namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward"},
	rule:            []string{"action", "protocol", "notProtocol", "icmp", "notICMP", "ipVersion", "source", "destination", "http", "metadata"},
	entity:          []string{"nets", "notNets", "selector", "notSelector", "namespaceSelector", "ports", "notPorts", "serviceAccounts", "services", "domains"},
	serviceAccounts: []string{"names", "selector"},
	services:        []string{"name", "namespace"},
	icmp:            []string{"type", "code"},
	http:            []string{"methods", "paths"},
	ruleMeta:        []string{"annotations"},
	tierSpec:        []string{"order", "defaultAction"},
}

// calicoClass classifies Calico kinds of the versions read.
func calicoClass(apiVersion, kind string) (class, bool) {
	if !calicoVersions[apiVersion] {
		return classUnknown, false
	}
	switch kind {
	case "NetworkPolicy", "GlobalNetworkPolicy":
		return classCalicoPolicy, true
	case "Tier":
		return classCalicoTier, true
	}
	return classUnknown, false
}

// calicoPolicy reads a Calico NetworkPolicy or GlobalNetworkPolicy
// strictly: an unknown field, a bad selector, CIDR, port or action is an
// input error at its line.
func (o *object) calicoPolicy() *model.CalicoPolicy {
	w := o.w
	global := o.ref.Kind == "GlobalNetworkPolicy"
	p := &model.CalicoPolicy{Ref: o.ref, Global: global, Tier: model.CalicoDefaultTier, Source: o.src}
	w.strict(o.m, "apiVersion", "kind", "metadata", "spec")
	spec := w.mapping(o.m.value("spec"), "spec")
	if spec == nil {
		// No spec: every default, which for an egress policy is none.
		return p
	}
	if global {
		w.strict(spec, calicoFields.gnpSpec...)
	} else {
		w.strict(spec, calicoFields.npSpec...)
	}
	p.Order = o.calicoOrder(spec)
	if t, ok := w.str(spec.value("tier"), "spec.tier"); ok && t != "" {
		p.Tier = t
	}
	p.Selector = o.calicoSelector(spec, "spec", "selector")
	p.ServiceAccountSelector = o.calicoSelector(spec, "spec", "serviceAccountSelector")
	if global {
		p.NamespaceSelector = o.calicoSelector(spec, "spec", "namespaceSelector")
		for _, k := range []string{"doNotTrack", "preDNAT", "applyOnForward"} {
			if w.boolean(spec.value(k), join("spec", k)) && p.HostOnly == "" {
				p.HostOnly = k
			}
		}
	}
	for i, h := range w.strings(spec.value("performanceHints"), "spec.performanceHints") {
		if h != "AssumeNeededOnEveryNode" {
			w.failf(spec.value("performanceHints"), index("spec.performanceHints", i), "unsupported value %q (want AssumeNeededOnEveryNode)", h)
		}
	}
	egress := w.seq(spec.value("egress"), "spec.egress")
	ingress := w.seq(spec.value("ingress"), "spec.ingress")
	p.Egress = o.calicoTypes(spec, len(ingress) > 0, len(egress) > 0)
	for i, n := range egress {
		p.EgressRules = append(p.EgressRules, o.calicoRule(n, index("spec.egress", i), i, true))
	}
	for i, n := range ingress {
		o.calicoRule(n, index("spec.ingress", i), i, false)
	}
	return p
}

// calicoTypes reads spec.types and reports whether the policy governs
// egress. Unset, it does when it has egress rules (the reference's table).
func (o *object) calicoTypes(spec *mapping, ingress, egress bool) bool {
	w := o.w
	f := spec.get("types")
	if f == nil || isNull(w.resolve(f.v)) {
		return egress
	}
	out := false
	for i, t := range w.strings(f.v, "spec.types") {
		switch t {
		case "Egress":
			out = true
		case "Ingress":
		default:
			w.failf(f.v, index("spec.types", i), "unsupported value %q (want Ingress or Egress)", t)
		}
	}
	return out
}

// calicoOrder reads an optional order, a number.
func (o *object) calicoOrder(spec *mapping) *float64 {
	w := o.w
	n := w.resolve(spec.value("order"))
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		w.failf(n, "spec.order", "expected a number, got %s", typeName(n))
		return nil
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil || v != v {
		w.failf(n, "spec.order", "invalid number %q", n.Value)
		return nil
	}
	return &v
}

// calicoSelector reads an optional selector expression; nil when unset.
func (o *object) calicoSelector(m *mapping, path, key string) *calicosel.Selector {
	w := o.w
	s, ok := w.str(m.value(key), join(path, key))
	if !ok {
		return nil
	}
	sel, err := calicosel.Parse(s)
	if err != nil {
		w.failf(m.value(key), join(path, key), "%v in %q", err, s)
		return nil
	}
	return sel
}

// calicoRule reads one rule (an ingress rule only for its errors).
func (o *object) calicoRule(n *yaml.Node, path string, i int, egress bool) model.CalicoRule {
	w := o.w
	r := model.CalicoRule{Index: i, Src: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return r
	}
	w.strict(m, calicoFields.rule...)
	switch a := model.CalicoAction(w.requiredStr(m, path, "action")); a {
	case model.CalicoAllow, model.CalicoDeny, model.CalicoPass, model.CalicoLog:
		r.Action = a
	case "":
	default:
		w.failf(m.value("action"), join(path, "action"), "unsupported value %q (want Allow, Deny, Pass or Log)", a)
	}
	r.Protocol = o.calicoProtocol(m, path, "protocol")
	r.NotProtocol = o.calicoProtocol(m, path, "notProtocol")
	if v, ok := w.integer(m.value("ipVersion"), join(path, "ipVersion")); ok {
		if v != 4 && v != 6 {
			w.failf(m.value("ipVersion"), join(path, "ipVersion"), "unsupported value %d (want 4 or 6)", v)
		}
		r.IPVersion = int(v)
	}
	for _, k := range []string{"icmp", "notICMP"} {
		im := w.mapping(m.value(k), join(path, k))
		if im == nil {
			continue
		}
		w.strict(im, calicoFields.icmp...)
		w.integer(im.value("type"), join2(path, k, "type"))
		w.integer(im.value("code"), join2(path, k, "code"))
		if r.Protocol != "ICMP" && r.Protocol != "ICMPv6" {
			w.failf(m.value(k), join(path, k), "needs protocol ICMP or ICMPv6")
		}
	}
	if hm := w.mapping(m.value("http"), join(path, "http")); hm != nil {
		w.strict(hm, calicoFields.http...)
		if egress {
			w.failf(m.value("http"), join(path, "http"), "application layer (http) match is for ingress rules only")
		}
	}
	if mm := w.mapping(m.value("metadata"), join(path, "metadata")); mm != nil {
		w.strict(mm, calicoFields.ruleMeta...)
		w.annotations(mm.value("annotations"), join(path, "metadata.annotations"), func(string) bool { return false })
	}
	r.Source = o.calicoEntity(m, path, "source", r.Protocol)
	r.Destination = o.calicoEntity(m, path, "destination", r.Protocol)
	return r
}

// join2 is join for a nested key.
func join2(path, a, b string) string { return join(join(path, a), b) }

// calicoProtocols are the protocol names Calico accepts, by upper case.
var calicoProtocols = map[string]string{"TCP": "TCP", "UDP": "UDP", "ICMP": "ICMP", "ICMPV6": "ICMPv6", "SCTP": "SCTP", "UDPLITE": "UDPLite"}

// calicoProtocol reads a protocol: a name, or a number from 1 to 255
// (kept as its decimal text).
func (o *object) calicoProtocol(m *mapping, path, key string) string {
	w := o.w
	n := w.resolve(m.value(key))
	if isNull(n) {
		return ""
	}
	p := join(path, key)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		v, ok := w.integer(n, p)
		if ok && (v < 1 || v > 255) {
			w.failf(n, p, "protocol number %d is out of range 1-255", v)
		}
		return protocolByNumber(strconv.FormatInt(v, 10))
	}
	s, ok := w.str(n, p)
	if !ok {
		return ""
	}
	if name, ok := calicoProtocols[strings.ToUpper(s)]; ok {
		return name
	}
	if v, err := strconv.Atoi(s); err == nil && v >= 1 && v <= 255 {
		return protocolByNumber(s)
	}
	w.failf(n, p, "unsupported protocol %q (want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)", s)
	return ""
}

// protocolByNumber names the protocols that have a name, so that 6 and
// TCP are one protocol.
func protocolByNumber(n string) string {
	if name, ok := map[string]string{"1": "ICMP", "6": "TCP", "17": "UDP", "58": "ICMPv6", "132": "SCTP", "136": "UDPLite"}[n]; ok {
		return name
	}
	return n
}

// calicoEntity reads a rule's source or destination.
func (o *object) calicoEntity(rule *mapping, path, key, protocol string) model.CalicoEntity {
	w := o.w
	var e model.CalicoEntity
	path = join(path, key)
	m := w.mapping(rule.value(key), path)
	if m == nil {
		return e
	}
	w.strict(m, calicoFields.entity...)
	e.Nets = o.calicoNets(m, path, "nets")
	e.NotNets = o.calicoNets(m, path, "notNets")
	e.Selector = o.calicoSelector(m, path, "selector")
	e.NotSelector = o.calicoSelector(m, path, "notSelector")
	e.NamespaceSelector = o.calicoSelector(m, path, "namespaceSelector")
	e.Ports = o.calicoPorts(m, path, "ports", protocol)
	e.NotPorts = o.calicoPorts(m, path, "notPorts", protocol)
	if sa := w.mapping(m.value("serviceAccounts"), join(path, "serviceAccounts")); sa != nil {
		w.strict(sa, calicoFields.serviceAccounts...)
		w.strings(sa.value("names"), join2(path, "serviceAccounts", "names"))
		o.calicoSelector(sa, join(path, "serviceAccounts"), "selector")
		e.ServiceAccounts = true
	}
	if svc := w.mapping(m.value("services"), join(path, "services")); svc != nil {
		w.strict(svc, calicoFields.services...)
		name := w.requiredStr(svc, join(path, "services"), "name")
		ns, _ := w.str(svc.value("namespace"), join2(path, "services", "namespace"))
		e.Services = ns + "/" + name
	}
	e.Domains = w.strings(m.value("domains"), join(path, "domains"))
	return e
}

// calicoNets reads a list of CIDRs (a bare address is a /32 or /128),
// each masked to its network.
func (o *object) calicoNets(m *mapping, path, key string) []netip.Prefix {
	w := o.w
	path = join(path, key)
	var out []netip.Prefix
	for i, n := range w.seq(m.value(key), path) {
		ip := index(path, i)
		s, ok := w.itemStr(n, ip)
		if !ok {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				w.failf(n, ip, "invalid cidr %q", s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// calicoPorts reads a ports list: numbers, "first:last" ranges and named
// ports. Ports need protocol TCP, UDP, SCTP or UDPLite.
func (o *object) calicoPorts(m *mapping, path, key, protocol string) []model.CalicoPort {
	w := o.w
	path = join(path, key)
	items := w.seq(m.value(key), path)
	if len(items) > 0 {
		switch protocol {
		case "TCP", "UDP", "SCTP", "UDPLite":
		default:
			w.failf(m.value(key), path, "ports need protocol TCP, UDP, SCTP or UDPLite")
		}
	}
	var out []model.CalicoPort
	for i, n := range items {
		ip := index(path, i)
		n = w.resolve(n)
		if isNull(n) {
			w.failf(n, ip, "expected a port, got null")
			continue
		}
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
			v, ok := w.integer(n, ip)
			if ok && (v < 0 || v > 65535) {
				w.failf(n, ip, "port %d is out of range 0-65535", v)
				continue
			}
			out = append(out, model.CalicoPort{First: uint16(v), Last: uint16(v)})
			continue
		}
		s, ok := w.str(n, ip)
		if !ok {
			continue
		}
		if p, problem := parseCalicoPort(s); problem != "" {
			w.failf(n, ip, "%s", problem)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// parseCalicoPort reads "80", "6040:6050" or a port name.
func parseCalicoPort(s string) (model.CalicoPort, string) {
	first, last, isRange := strings.Cut(s, ":")
	num := func(t string) (uint16, bool) {
		v, err := strconv.ParseUint(t, 10, 16)
		return uint16(v), err == nil
	}
	if isRange {
		a, ok1 := num(first)
		b, ok2 := num(last)
		switch {
		case !ok1 || !ok2:
			return model.CalicoPort{}, "invalid port range " + strconv.Quote(s)
		case a > b:
			return model.CalicoPort{}, "port range " + strconv.Quote(s) + " ends before it starts"
		}
		return model.CalicoPort{First: a, Last: b}, ""
	}
	if v, ok := num(s); ok {
		return model.CalicoPort{First: v, Last: v}, ""
	}
	if s == "" || strings.ContainsAny(s, " \t") || s[0] >= '0' && s[0] <= '9' {
		return model.CalicoPort{}, "invalid port " + strconv.Quote(s)
	}
	return model.CalicoPort{Name: s}, ""
}

// calicoTier reads a Tier object.
func (o *object) calicoTier() *model.CalicoTier {
	w := o.w
	t := &model.CalicoTier{Ref: o.ref, DefaultAction: model.CalicoDeny, Source: o.src}
	w.strict(o.m, "apiVersion", "kind", "metadata", "spec")
	spec := w.mapping(o.m.value("spec"), "spec")
	if spec == nil {
		return t
	}
	w.strict(spec, calicoFields.tierSpec...)
	t.Order = o.calicoOrder(spec)
	if a, ok := w.str(spec.value("defaultAction"), "spec.defaultAction"); ok {
		switch model.CalicoAction(a) {
		case model.CalicoDeny, model.CalicoPass:
			t.DefaultAction = model.CalicoAction(a)
		default:
			w.failf(spec.value("defaultAction"), "spec.defaultAction", "unsupported value %q (want Deny or Pass)", a)
		}
	}
	return t
}
