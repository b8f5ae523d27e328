package manifest

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/imdsguard/imdsguard/internal/model"
)

// ports reads the `ports` list of a rule.
func (o *object) ports(rule *mapping, path string) []model.Port {
	path = join(path, "ports")
	var out []model.Port
	for i, n := range o.w.seq(rule.value("ports"), path) {
		out = append(out, o.port(n, index(path, i)))
	}
	return out
}

// port reads one port entry: a protocol (TCP by default), and a port that
// is a number, a named port, or absent for every port.
func (o *object) port(n *yaml.Node, path string) model.Port {
	w := o.w
	p := model.Port{Protocol: model.TCP, Source: w.d.source(n)}
	m := w.mapping(n, path)
	w.strict(m, "protocol", "port", "endPort")
	if proto, ok := w.str(m.value("protocol"), join(path, "protocol")); ok {
		switch model.Protocol(proto) {
		case model.TCP, model.UDP, model.SCTP:
			p.Protocol = model.Protocol(proto)
		default:
			w.failf(m.value("protocol"), join(path, "protocol"), "unsupported protocol %q (want TCP, UDP or SCTP)", proto)
		}
	}
	o.portValue(&p, m.value("port"), join(path, "port"))
	o.endPort(&p, m, path)
	return p
}

// portValue reads `port`, an integer or a string (a named port). A string
// of digits is a name to the API server, and an invalid one.
func (o *object) portValue(p *model.Port, n *yaml.Node, path string) {
	w := o.w
	n = w.resolve(n)
	switch {
	case isNull(n):
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		v, ok := w.integer(n, path)
		if ok && (v < 1 || v > 65535) {
			w.failf(n, path, "port %d is out of range 1-65535", v)
		}
		p.Number = int32(max(min(v, 65535), 0))
	case isString(n) && isDigits(n.Value):
		w.failf(n, path, "port %q is a quoted number, which the API reads as a port name; write %s without quotes", n.Value, n.Value)
	case isString(n):
		if errs := validation.IsValidPortName(n.Value); len(errs) > 0 {
			w.failf(n, path, "invalid port name %q: %s", n.Value, strings.Join(errs, "; "))
			return
		}
		p.Name = w.d.strs.intern(n.Value)
	default:
		w.failf(n, path, "expected an integer or a string, got %s", typeName(n))
	}
}

// endPort reads `endPort`, which needs a numeric port no larger than it.
func (o *object) endPort(p *model.Port, m *mapping, path string) {
	w := o.w
	f := m.get("endPort")
	if f == nil {
		return
	}
	v, ok := w.integer(f.v, join(path, "endPort"))
	switch {
	case !ok:
	case p.Name != "":
		w.failf(f.v, join(path, "endPort"), "not allowed with a named port")
	case p.Number == 0:
		w.failf(f.v, join(path, "endPort"), "requires a numeric port")
	case v > 65535:
		w.failf(f.v, join(path, "endPort"), "%d is out of range 1-65535", v)
	case v < int64(p.Number):
		w.failf(f.v, join(path, "endPort"), "%d must be greater than or equal to port %d", v, p.Number)
	default:
		p.EndPort = int32(v)
	}
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
