package manifest

import (
	"regexp"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/imdsguard/imdsguard/internal/model"
)

// adminAPIVersion is the only version of AdminNetworkPolicy and
// BaselineAdminNetworkPolicy the engine evaluates, cnpAPIVersion the only
// version of ClusterNetworkPolicy; others stay stubs.
const (
	adminAPIVersion = "policy.networking.k8s.io/v1alpha1"
	cnpAPIVersion   = "policy.networking.k8s.io/v1alpha2"
)

// Limits of the v1alpha1 CRDs (sigs.k8s.io/network-policy-api
// apis/v1alpha1): the API server rejects objects beyond them.
const (
	maxAdminPriority = 1000
	maxAdminRules    = 100 // egress rules, peers of a rule, ports of a rule
	maxAdminNetworks = 25  // networks or domainNames of a peer
	maxAdminRuleName = 100
	// The v1alpha2 CRD allows fewer: 25 rules, peers of a rule and
	// protocols of a rule.
	maxCNPItems = 25
)

// adminFields are the fields of each object of the v1alpha1 types that
// the loader accepts; TestAdminFieldsMatchUpstream holds them to the JSON
// names of the upstream Go types.
var adminFields = struct {
	anpSpec, banpSpec, subject, namespacedPod  []string
	egressRule, ingressRule                    []string
	anpEgressPeer, banpEgressPeer, ingressPeer []string
	port, portNumber, portRange                []string
	// v1alpha2 ClusterNetworkPolicy: its subject, peers and portRange
	// have the fields of v1alpha1's; cnpRule is a rule's fields besides
	// "to" or "from".
	cnpSpec, cnpRule, cnpProtocol, cnpL4, cnpPort, cnpRange []string
}{
	anpSpec:        []string{"priority", "subject", "ingress", "egress"},
	banpSpec:       []string{"subject", "ingress", "egress"},
	subject:        []string{"namespaces", "pods"},
	namespacedPod:  []string{"namespaceSelector", "podSelector"},
	egressRule:     []string{"name", "action", "to", "ports"},
	ingressRule:    []string{"name", "action", "from", "ports"},
	anpEgressPeer:  []string{"namespaces", "pods", "nodes", "networks", "domainNames"},
	cnpSpec:        []string{"tier", "priority", "subject", "ingress", "egress"},
	cnpRule:        []string{"name", "action", "protocols"},
	cnpProtocol:    []string{"tcp", "udp", "sctp", "destinationNamedPort"},
	cnpL4:          []string{"destinationPort"},
	cnpPort:        []string{"number", "range"},
	cnpRange:       []string{"start", "end"},
	banpEgressPeer: []string{"namespaces", "pods", "nodes", "networks"},
	ingressPeer:    []string{"namespaces", "pods"},
	port:           []string{"portNumber", "portRange", "namedPort"},
	portNumber:     []string{"protocol", "port"},
	portRange:      []string{"protocol", "start", "end"},
}

// adminPolicy reads an AdminNetworkPolicy, BaselineAdminNetworkPolicy or
// ClusterNetworkPolicy strictly, field by field as the v1alpha1 and
// v1alpha2 Go types define them (a test holds the field lists to the
// upstream types).
func (o *object) adminPolicy() *model.AdminPolicy {
	w := o.w
	cnp := o.cnp()
	banp := o.ref.Kind == "BaselineAdminNetworkPolicy"
	w.strict(o.m, "apiVersion", "kind", "metadata", "spec", "status")
	p := &model.AdminPolicy{Ref: o.ref, Baseline: banp, Source: o.src}
	if banp && o.ref.Name != "default" {
		w.failf(o.m.node, "metadata.name", "must be \"default\": the API allows only one BaselineAdminNetworkPolicy")
	}
	f := o.m.get("spec")
	if f == nil || isNull(w.resolve(f.v)) {
		w.failf(o.m.node, "spec", "required field missing")
		return p
	}
	spec := w.mapping(f.v, "spec")
	if spec == nil {
		return p
	}
	switch {
	case cnp:
		w.strict(spec, adminFields.cnpSpec...)
		p.Baseline = o.cnpTier(spec)
		p.Priority = o.adminPriority(spec)
	case banp:
		w.strict(spec, adminFields.banpSpec...)
	default:
		w.strict(spec, adminFields.anpSpec...)
		p.Priority = o.adminPriority(spec)
	}
	if sf := spec.get("subject"); sf != nil && !isNull(w.resolve(sf.v)) {
		p.Subject = o.adminSubject(sf)
	} else {
		w.failf(spec.node, "spec.subject", "required field missing")
	}
	maxRules := o.adminMaxItems()
	egress := w.seq(spec.value("egress"), "spec.egress")
	if len(egress) > maxRules {
		w.failf(spec.value("egress"), "spec.egress", "at most %d rules allowed, got %d", maxRules, len(egress))
	}
	for i, r := range egress {
		p.Egress = append(p.Egress, o.adminRule(r, index("spec.egress", i), i, banp, true))
	}
	ingress := w.seq(spec.value("ingress"), "spec.ingress")
	if len(ingress) > maxRules {
		w.failf(spec.value("ingress"), "spec.ingress", "at most %d rules allowed, got %d", maxRules, len(ingress))
	}
	for i, r := range ingress {
		o.adminRule(r, index("spec.ingress", i), i, banp, false)
	}
	return p
}

// adminPriority reads spec.priority, required and from 0 to 1000.
func (o *object) adminPriority(spec *mapping) int32 {
	w := o.w
	f := spec.get("priority")
	if f == nil || isNull(w.resolve(f.v)) {
		w.failf(spec.node, "spec.priority", "required field missing")
		return 0
	}
	v, ok := w.integer(f.v, "spec.priority")
	if ok && (v < 0 || v > maxAdminPriority) {
		w.failf(f.v, "spec.priority", "%d is out of range 0-%d", v, maxAdminPriority)
	}
	return int32(max(min(v, maxAdminPriority), 0))
}

// adminSubject reads spec.subject: exactly one of namespaces and pods.
func (o *object) adminSubject(f *field) model.AdminSubject {
	w := o.w
	s := model.AdminSubject{Source: w.d.source(f.k)}
	m := w.mapping(f.v, "spec.subject")
	w.strict(m, adminFields.subject...)
	set := 0
	if nf := m.get("namespaces"); nf != nil && !isNull(w.resolve(nf.v)) {
		s.Namespaces = w.selector(nf, "spec.subject.namespaces")
		set++
	}
	if pf := m.get("pods"); pf != nil && !isNull(w.resolve(pf.v)) {
		s.Pods = o.namespacedPods(pf, "spec.subject.pods")
		set++
	}
	if set != 1 && m != nil {
		w.failf(f.k, "spec.subject", "exactly one of namespaces and pods must be set, got %d", set)
	}
	return s
}

// namespacedPods reads a {namespaceSelector, podSelector} pair; both are
// required (empty selects everything), except a ClusterNetworkPolicy's
// namespaceSelector, whose absence selects every namespace.
func (o *object) namespacedPods(f *field, path string) *model.NamespacedPods {
	w := o.w
	np := &model.NamespacedPods{}
	m := w.mapping(f.v, path)
	if m == nil {
		return np
	}
	w.strict(m, adminFields.namespacedPod...)
	for _, key := range []string{"namespaceSelector", "podSelector"} {
		sf := m.get(key)
		if (sf == nil || isNull(w.resolve(sf.v))) && key == "namespaceSelector" && o.cnp() {
			np.NamespaceSelector = model.Selector{Compiled: labels.Everything(), Source: w.d.source(m.node)}
			continue
		}
		if sf == nil || isNull(w.resolve(sf.v)) {
			w.failf(m.node, join(path, key), "required field missing (use {} to select everything)")
			continue
		}
		sel := w.selector(sf, join(path, key))
		if key == "namespaceSelector" {
			np.NamespaceSelector = *sel
		} else {
			np.PodSelector = *sel
		}
	}
	return np
}

// adminRule reads one egress rule (or checks one ingress rule: ingress does
// not decide metadata reachability, but a broken rule is a broken policy).
// baseline is set for a BaselineAdminNetworkPolicy.
func (o *object) adminRule(n *yaml.Node, path string, i int, baseline, egress bool) model.AdminRule {
	w := o.w
	r := model.AdminRule{Index: i, Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return r
	}
	peers, fields := "to", adminFields.egressRule
	if !egress {
		peers, fields = "from", adminFields.ingressRule
	}
	if o.cnp() {
		fields = append([]string{peers}, adminFields.cnpRule...)
	}
	w.strict(m, fields...)
	if name, ok := w.str(m.value("name"), join(path, "name")); ok {
		if len(name) > maxAdminRuleName {
			w.failf(m.value("name"), join(path, "name"), "longer than %d characters", maxAdminRuleName)
		}
		r.Name = name
	}
	r.Action = o.adminAction(m, path, baseline)
	list := w.seq(m.value(peers), join(path, peers))
	switch {
	case len(list) == 0:
		at := m.node
		if pf := m.get(peers); pf != nil {
			at = pf.k
		}
		w.failf(at, join(path, peers), "required: at least one peer")
	case len(list) > o.adminMaxItems():
		w.failf(m.value(peers), join(path, peers), "at most %d peers allowed, got %d", o.adminMaxItems(), len(list))
	}
	for j, pn := range list {
		p := o.adminPeer(pn, index(join(path, peers), j), baseline, egress)
		if egress {
			r.To = append(r.To, p)
		}
	}
	r.Ports = o.adminPorts(m, path)
	o.checkNamedPorts(&r, m, path)
	return r
}

// adminAction reads a rule's action: Allow, Deny, and for an
// AdminNetworkPolicy Pass; Accept, Deny and Pass for a
// ClusterNetworkPolicy.
func (o *object) adminAction(m *mapping, path string, baseline bool) model.AdminAction {
	w := o.w
	a := w.requiredStr(m, path, "action")
	if o.cnp() {
		switch model.AdminAction(a) {
		case model.AdminAccept, model.AdminDeny, model.AdminPass, "":
			return model.AdminAction(a)
		}
		w.failf(m.value("action"), join(path, "action"), "unsupported value %q (want \"Accept\", \"Deny\" or \"Pass\")", a)
		return ""
	}
	switch model.AdminAction(a) {
	case model.AdminAllow, model.AdminDeny:
		return model.AdminAction(a)
	case model.AdminPass:
		if !baseline {
			return model.AdminPass
		}
	case "":
		return ""
	}
	want := `"Allow", "Deny" or "Pass"`
	if baseline {
		want = `"Allow" or "Deny"`
	}
	w.failf(m.value("action"), join(path, "action"), "unsupported value %q (want %s)", a, want)
	return ""
}

// adminPeer reads one peer: exactly one of its fields is set. An ingress
// peer has only namespaces and pods; a baseline egress peer has no
// domainNames.
func (o *object) adminPeer(n *yaml.Node, path string, baseline, egress bool) model.AdminPeer {
	w := o.w
	p := model.AdminPeer{Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return p
	}
	switch {
	case !egress:
		w.strict(m, adminFields.ingressPeer...)
	case baseline:
		w.strict(m, adminFields.banpEgressPeer...)
	default:
		w.strict(m, adminFields.anpEgressPeer...)
	}
	set := 0
	for _, f := range m.fields {
		if isNull(w.resolve(f.v)) || !adminPeerField(f.key, baseline, egress) {
			continue
		}
		fp := join(path, f.key)
		switch f.key {
		case "namespaces":
			p.Namespaces = w.selector(&f, fp)
		case "pods":
			p.Pods = o.namespacedPods(&f, fp)
		case "nodes":
			p.Nodes = w.selector(&f, fp)
		case "networks":
			p.Networks = o.adminNetworks(&f, fp)
		case "domainNames":
			p.DomainNames = o.domainNames(&f, fp)
		}
		set++
	}
	if set != 1 {
		w.failf(n, path, "exactly one peer field must be set, got %d", set)
	}
	return p
}

// adminPeerField reports whether a peer of this kind of rule has the field.
func adminPeerField(key string, baseline, egress bool) bool {
	switch key {
	case "namespaces", "pods":
		return true
	case "nodes", "networks":
		return egress
	case "domainNames":
		return egress && !baseline
	}
	return false
}

// adminNetworks reads a networks list: 1 to 25 distinct CIDRs.
func (o *object) adminNetworks(f *field, path string) []model.IPBlock {
	w := o.w
	items := w.seq(f.v, path)
	o.checkListSize(f, path, len(items))
	var out []model.IPBlock
	seen := map[string]bool{}
	for i, n := range items {
		ip := index(path, i)
		raw, ok := w.itemStr(n, ip)
		if !ok {
			continue
		}
		if seen[raw] {
			w.failf(n, ip, "duplicate value %q", raw)
			continue
		}
		seen[raw] = true
		b := model.IPBlock{Source: w.d.source(n)}
		if problem := b.SetCIDR(raw); problem != "" {
			w.failf(n, ip, "%s", problem)
			continue
		}
		out = append(out, b)
	}
	return out
}

// domainNames reads a domainNames list: 1 to 25 distinct names in the
// CRD's pattern (an optional "*." prefix, then dot-separated labels).
func (o *object) domainNames(f *field, path string) []string {
	w := o.w
	items := w.seq(f.v, path)
	o.checkListSize(f, path, len(items))
	var out []string
	for i, n := range items {
		ip := index(path, i)
		s, ok := w.itemStr(n, ip)
		switch {
		case !ok:
		case !validDomainName(s):
			w.failf(n, ip, "invalid domain name %q", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

// checkListSize checks a networks or domainNames list has 1 to 25 items.
func (o *object) checkListSize(f *field, path string, n int) {
	switch {
	case n == 0:
		o.w.failf(f.k, path, "must have at least one item")
	case n > maxAdminNetworks:
		o.w.failf(f.k, path, "at most %d items allowed, got %d", maxAdminNetworks, n)
	}
}

// adminPorts reads a rule's ports (protocols in v1alpha2): absent means
// every port; when present it has 1 to 100 (v1alpha2: 25) entries.
func (o *object) adminPorts(rule *mapping, path string) []model.Port {
	w := o.w
	key, item := "ports", o.adminPort
	if o.cnp() {
		key, item = "protocols", o.cnpProtocol
	}
	path = join(path, key)
	f := rule.get(key)
	if f == nil || isNull(w.resolve(f.v)) {
		return nil
	}
	items := w.seq(f.v, path)
	switch limit := o.adminMaxItems(); {
	case len(items) == 0:
		w.failf(f.k, path, "must have at least one item (leave %s out for every port)", key)
	case len(items) > limit:
		w.failf(f.k, path, "at most %d items allowed, got %d", limit, len(items))
	}
	out := make([]model.Port, 0, len(items))
	for i, n := range items {
		out = append(out, item(n, index(path, i)))
	}
	return out
}

// adminPort reads one port entry: exactly one of portNumber, portRange and
// namedPort.
func (o *object) adminPort(n *yaml.Node, path string) model.Port {
	w := o.w
	p := model.Port{Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return p
	}
	w.strict(m, adminFields.port...)
	set := 0
	if f := m.get("portNumber"); f != nil && !isNull(w.resolve(f.v)) {
		set++
		pm := w.mapping(f.v, join(path, "portNumber"))
		w.strict(pm, adminFields.portNumber...)
		p.Protocol = o.adminProtocol(pm, join(path, "portNumber"))
		p.Number = o.adminPortNumber(pm, join(path, "portNumber"), "port")
	}
	if f := m.get("portRange"); f != nil && !isNull(w.resolve(f.v)) {
		set++
		pm := w.mapping(f.v, join(path, "portRange"))
		w.strict(pm, adminFields.portRange...)
		p.Protocol = o.adminProtocol(pm, join(path, "portRange"))
		p.Number = o.adminPortNumber(pm, join(path, "portRange"), "start")
		p.EndPort = o.adminPortNumber(pm, join(path, "portRange"), "end")
		if p.Number != 0 && p.EndPort != 0 && p.Number >= p.EndPort {
			w.failf(pm.node, join(path, "portRange"), "start %d must be less than end %d", p.Number, p.EndPort)
		}
	}
	if f := m.get("namedPort"); f != nil && !isNull(w.resolve(f.v)) {
		set++
		if s, ok := w.str(f.v, join(path, "namedPort")); ok {
			p.Name = s
		}
	}
	if set != 1 {
		w.failf(n, path, "exactly one of portNumber, portRange and namedPort must be set, got %d", set)
	}
	return p
}

// adminProtocol reads a protocol, TCP when absent.
func (o *object) adminProtocol(m *mapping, path string) model.Protocol {
	proto, ok := o.w.str(m.value("protocol"), join(path, "protocol"))
	if !ok {
		return model.TCP
	}
	switch model.Protocol(proto) {
	case model.TCP, model.UDP, model.SCTP:
		return model.Protocol(proto)
	}
	o.w.failf(m.value("protocol"), join(path, "protocol"), "unsupported protocol %q (want TCP, UDP or SCTP)", proto)
	return model.TCP
}

// adminPortNumber reads a required port number from 1 to 65535.
func (o *object) adminPortNumber(m *mapping, path, key string) int32 {
	w := o.w
	f := m.get(key)
	if m == nil {
		return 0
	}
	if f == nil || isNull(w.resolve(f.v)) {
		w.failf(m.node, join(path, key), "required field missing")
		return 0
	}
	v, ok := w.integer(f.v, join(path, key))
	if !ok {
		return 0
	}
	if v < 1 || v > 65535 {
		w.failf(f.v, join(path, key), "port %d is out of range 1-65535", v)
		return 0
	}
	return int32(v)
}

// checkNamedPorts applies the CRD's rule that a named port cannot go with
// a networks, nodes or domainNames peer: those have no named ports.
func (o *object) checkNamedPorts(r *model.AdminRule, m *mapping, path string) {
	named := false
	for _, p := range r.Ports {
		named = named || p.Name != ""
	}
	if !named {
		return
	}
	field, name := "ports", "namedPort"
	if o.cnp() {
		field, name = "protocols", "destinationNamedPort"
	}
	for _, p := range r.To {
		if p.Networks != nil || p.Nodes != nil || p.DomainNames != nil {
			o.w.failf(m.node, join(path, field), "a %s cannot be used with a networks, nodes or domainNames peer", name)
			return
		}
	}
}

// domainNamePattern is the CRD's pattern for a domainNames entry.
var domainNamePattern = regexp.MustCompile(`^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`)

func validDomainName(s string) bool { return domainNamePattern.MatchString(s) }
