package model

import (
	"fmt"
	"net/netip"
	"strings"
)

// MappedReason says why an IPv4-mapped IPv6 block is ambiguous.
const MappedReason = "IPv4-mapped IPv6 CIDR: CNIs differ on whether it matches IPv4 traffic"

// SetCIDR sets the block's cidr from its text, as the API server reads it,
// and returns what is wrong with it, or "". The prefix is masked to its
// network, so 10.1.2.3/8 means 10.0.0.0/8.
func (b *IPBlock) SetCIDR(raw string) string {
	b.RawCIDR = raw
	p, err := parseCIDR(raw)
	if err != "" {
		return fmt.Sprintf("invalid cidr %q: %s", raw, err)
	}
	b.CIDR = p
	if p.Addr().Is4In6() {
		b.Ambiguous = MappedReason
	}
	return ""
}

// AddExcept adds one except entry of a block whose cidr is set, and returns
// what is wrong with it, or "". Each except must be a strict subset of the
// cidr, in the same IP family, as the API server requires.
func (b *IPBlock) AddExcept(raw string) string {
	b.RawExcept = append(b.RawExcept, raw)
	ex, err := parseCIDR(raw)
	switch {
	case err != "":
		return fmt.Sprintf("invalid cidr %q: %s", raw, err)
	case ex.Addr().Is4() != b.CIDR.Addr().Is4():
		return fmt.Sprintf("%q is not in the IP family of cidr %q", raw, b.RawCIDR)
	case ex.Bits() <= b.CIDR.Bits() || !b.CIDR.Contains(ex.Addr()):
		return fmt.Sprintf("%q must be a strict subset of cidr %q", raw, b.RawCIDR)
	}
	b.Except = append(b.Except, ex)
	if ex.Addr().Is4In6() {
		b.Ambiguous = MappedReason
	}
	return ""
}

// parseCIDR parses and masks a CIDR. IPv4 octets with leading zeros are
// rejected (netip's rule): parsers disagree on whether they are octal.
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
