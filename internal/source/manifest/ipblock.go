package manifest

import (
	"net/netip"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// mappedReason says why an IPv4-mapped IPv6 block is ambiguous.
const mappedReason = "IPv4-mapped IPv6 CIDR: CNIs differ on whether it matches IPv4 traffic"

// ipBlock reads an ipBlock peer. Each except must be a strict subset of the
// cidr, as the API server requires.
func (o *object) ipBlock(f *field, path string) *model.IPBlock {
	w := o.w
	b := &model.IPBlock{Source: w.d.source(f.k)}
	m := w.mapping(f.v, path)
	if m == nil {
		return b
	}
	w.strict(m, "cidr", "except")
	cidrField := m.get("cidr")
	b.RawCIDR = w.requiredStr(m, path, "cidr")
	if b.RawCIDR == "" {
		return b
	}
	cidr, err := parseCIDR(b.RawCIDR)
	if err != "" {
		w.failf(cidrField.v, join(path, "cidr"), "invalid cidr %q: %s", b.RawCIDR, err)
		return b
	}
	b.CIDR = cidr
	if cidr.Addr().Is4In6() {
		b.Ambiguous = mappedReason
	}
	o.excepts(b, m, join(path, "except"))
	return b
}

// excepts reads the except list of an ipBlock whose cidr is valid.
func (o *object) excepts(b *model.IPBlock, m *mapping, path string) {
	w := o.w
	for i, n := range w.seq(m.value("except"), path) {
		p := index(path, i)
		raw, ok := w.str(n, p)
		if !ok {
			if isNull(w.resolve(n)) {
				w.failf(n, p, "expected a string, got null")
			}
			continue
		}
		b.RawExcept = append(b.RawExcept, raw)
		ex, err := parseCIDR(raw)
		switch {
		case err != "":
			w.failf(n, p, "invalid cidr %q: %s", raw, err)
		case ex.Addr().Is4() != b.CIDR.Addr().Is4():
			w.failf(n, p, "%q is not in the IP family of cidr %q", raw, b.RawCIDR)
		case ex.Bits() <= b.CIDR.Bits() || !b.CIDR.Contains(ex.Addr()):
			w.failf(n, p, "%q must be a strict subset of cidr %q", raw, b.RawCIDR)
		default:
			b.Except = append(b.Except, ex)
			if ex.Addr().Is4In6() {
				b.Ambiguous = mappedReason
			}
		}
	}
}

// parseCIDR parses a CIDR and masks it to its network, so 10.1.2.3/8 means
// 10.0.0.0/8. IPv4 octets with leading zeros are rejected: parsers disagree
// on whether they are octal.
func parseCIDR(s string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return netip.Prefix{}, msg
	}
	return p.Masked(), ""
}
