package manifest

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// The v1alpha2 ClusterNetworkPolicy is read by the admin policy reader
// (adminpolicy.go): its subject and peers are v1alpha1's. What differs is
// read here: the tier, the limits, and each port, which v1alpha2 writes as
// a protocols entry.

// cnp reports whether the object is a v1alpha2 ClusterNetworkPolicy.
func (o *object) cnp() bool { return o.ref.Kind == model.KindClusterNetworkPolicy }

// adminMaxItems is the most rules, peers of a rule or ports of a rule the
// object's CRD allows.
func (o *object) adminMaxItems() int {
	if o.cnp() {
		return maxCNPItems
	}
	return maxAdminRules
}

// cnpTier reads spec.tier, required: Admin or Baseline. It reports whether
// the tier is Baseline.
func (o *object) cnpTier(spec *mapping) bool {
	switch t := o.w.requiredStr(spec, "spec", "tier"); t {
	case "Admin", "":
		return false
	case "Baseline":
		return true
	default:
		o.w.failf(spec.value("tier"), "spec.tier", "unsupported value %q (want \"Admin\" or \"Baseline\")", t)
		return false
	}
}

// cnpProtocols maps the protocol fields to the protocol they match.
var cnpProtocols = map[string]model.Protocol{"tcp": model.TCP, "udp": model.UDP, "sctp": model.SCTP}

// cnpProtocol reads one protocols entry.
func (o *object) cnpProtocol(n *yaml.Node, path string) model.Port {
	w := o.w
	p := model.Port{Source: w.d.source(n)}
	m := w.requiredMapping(n, path)
	if m == nil {
		return p
	}
	w.strict(m, adminFields.cnpProtocol...)
	set := 0
	for _, f := range m.fields {
		if isNull(w.resolve(f.v)) {
			continue
		}
		fp := join(path, f.key)
		if f.key == "destinationNamedPort" {
			set++
			if s, ok := w.str(f.v, fp); ok && s == "" {
				w.failf(f.v, fp, "must not be empty")
			} else {
				p.Name = s
			}
			continue
		}
		proto, ok := cnpProtocols[f.key]
		if !ok {
			continue
		}
		set++
		p.Protocol = proto
		o.cnpDestinationPort(&p, &f, fp)
	}
	if set != 1 {
		w.failf(n, path, "exactly one of tcp, udp, sctp and destinationNamedPort must be set, got %d", set)
	}
	return p
}

// cnpDestinationPort reads a tcp, udp or sctp entry: its destinationPort
// is required (the CRD asks for at least one property) and is a number or
// a range.
func (o *object) cnpDestinationPort(p *model.Port, f *field, path string) {
	w := o.w
	m := w.mapping(f.v, path)
	if m == nil {
		return
	}
	w.strict(m, adminFields.cnpL4...)
	df := m.get("destinationPort")
	if df == nil || isNull(w.resolve(df.v)) {
		w.failf(m.node, join(path, "destinationPort"), "required field missing")
		return
	}
	path = join(path, "destinationPort")
	dm := w.mapping(df.v, path)
	if dm == nil {
		return
	}
	w.strict(dm, adminFields.cnpPort...)
	set := 0
	if nf := dm.get("number"); nf != nil && !isNull(w.resolve(nf.v)) {
		set++
		p.Number = o.adminPortNumber(dm, path, "number")
	}
	if rf := dm.get("range"); rf != nil && !isNull(w.resolve(rf.v)) {
		set++
		rp := join(path, "range")
		if rm := w.mapping(rf.v, rp); rm != nil {
			w.strict(rm, adminFields.cnpRange...)
			p.Number = o.adminPortNumber(rm, rp, "start")
			p.EndPort = o.adminPortNumber(rm, rp, "end")
			if p.Number != 0 && p.EndPort != 0 && p.Number >= p.EndPort {
				w.failf(rm.node, rp, "start %d must be less than end %d", p.Number, p.EndPort)
			}
		}
	}
	if set != 1 {
		w.failf(dm.node, path, "exactly one of number and range must be set, got %d", set)
	}
}
