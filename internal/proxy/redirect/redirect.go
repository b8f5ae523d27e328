package redirect

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// DefaultTable is the nftables table (family inet) the redirector owns.
const DefaultTable = "imdsguard-proxy"

// DefaultTargets are the metadata addresses redirected: the IPv4 address
// every cloud uses, and AWS Nitro's IPv6 one.
var DefaultTargets = []netip.AddrPort{
	netip.MustParseAddrPort("169.254.169.254:80"),
	netip.MustParseAddrPort("[fd00:ec2::254]:80"),
}

// DefaultBlocked are metadata services the proxy does not serve: pods'
// traffic for them is dropped while the table exists. Azure's WireServer
// (the VM agent's channel, which hands out extension settings and, on AKS,
// node bootstrap secrets) on its HTTP port and its host-agent port (its DNS
// on port 53 stays open: pods resolve names through it), and Alibaba Cloud's
// metadata service, whose layout is AWS's but whose answers are not.
var DefaultBlocked = []netip.AddrPort{
	netip.MustParseAddrPort("168.63.129.16:80"),
	netip.MustParseAddrPort("168.63.129.16:32526"),
	netip.MustParseAddrPort("100.100.100.200:80"),
}

// Config says whose traffic to which addresses goes to which port.
type Config struct {
	// PodCIDRs and PodInterfaces say what traffic is a pod's: its source
	// address, or the interface it arrives on (a name ending in "*" is a
	// prefix, as in nft). At least one is required.
	PodCIDRs      []netip.Prefix
	PodInterfaces []string
	// Targets default to DefaultTargets.
	Targets []netip.AddrPort
	// Blocked are dropped in every state; nil means DefaultBlocked, an
	// empty slice none.
	Blocked []netip.AddrPort
	// ProxyPort is the port the proxy listens on, on the node's addresses.
	ProxyPort uint16
	// Table defaults to DefaultTable.
	Table string
	// NetNSFd, when set, programs another network namespace (tests).
	NetNSFd int
}

// Redirector owns one nftables table.
type Redirector struct {
	cfg   Config
	table *nftables.Table
	guard *nftables.Chain
	nat   *nftables.Chain
}

// New checks the config.
func New(c Config) (*Redirector, error) {
	if len(c.PodCIDRs) == 0 && len(c.PodInterfaces) == 0 {
		return nil, errors.New("redirect: give pod CIDRs or pod interfaces; without them host traffic would be caught too")
	}
	if c.ProxyPort == 0 {
		return nil, errors.New("redirect: proxy port is required")
	}
	for _, i := range c.PodInterfaces {
		if n := len(i); n == 0 || n > unix.IFNAMSIZ-1 {
			return nil, fmt.Errorf("redirect: interface name %q", i)
		}
	}
	if len(c.Targets) == 0 {
		c.Targets = DefaultTargets
	}
	if c.Blocked == nil {
		c.Blocked = DefaultBlocked
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	t := &nftables.Table{Name: c.Table, Family: nftables.TableFamilyINet}
	return &Redirector{
		cfg:   c,
		table: t,
		// The guard runs before destination NAT, so it sees the original
		// destination, even of connections NATed earlier.
		guard: &nftables.Chain{Name: "guard", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle},
		nat: &nftables.Chain{Name: "redirect", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
	}, nil
}

func (r *Redirector) conn() (*nftables.Conn, error) {
	if r.cfg.NetNSFd != 0 {
		return nftables.New(nftables.WithNetNSFd(r.cfg.NetNSFd))
	}
	return nftables.New()
}

// Drop makes the table drop pod traffic for the metadata service. It is the
// first and last state: before the proxy listens, and after it stops.
func (r *Redirector) Drop() error { return r.apply(false) }

// Redirect replaces the drop by a redirect to the proxy, in one transaction:
// no packet sees neither.
func (r *Redirector) Redirect() error { return r.apply(true) }

func (r *Redirector) apply(redirect bool) error {
	c, err := r.conn()
	if err != nil {
		return fmt.Errorf("redirect: netlink: %w", err)
	}
	c.AddTable(r.table)
	c.AddChain(r.guard)
	c.AddChain(r.nat)
	c.FlushChain(r.guard)
	c.FlushChain(r.nat)
	for _, t := range r.cfg.Blocked {
		for _, m := range r.matches([]netip.AddrPort{t}) {
			c.AddRule(&nftables.Rule{Table: r.table, Chain: r.guard, UserData: []byte(blockedTag + t.String()),
				Exprs: append(m, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})})
		}
	}
	for _, m := range r.matches(r.cfg.Targets) {
		if redirect {
			c.AddRule(&nftables.Rule{Table: r.table, Chain: r.nat, Exprs: append(m,
				&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(r.cfg.ProxyPort)},
				&expr.Redir{RegisterProtoMin: 1, RegisterProtoMax: 1, Flags: unix.NF_NAT_RANGE_PROTO_SPECIFIED})})
		} else {
			c.AddRule(&nftables.Rule{Table: r.table, Chain: r.guard, Exprs: append(m,
				&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})})
		}
	}
	if err := c.Flush(); err != nil {
		state := "drop"
		if redirect {
			state = "redirect"
		}
		return fmt.Errorf("redirect: installing the %s rules in table inet %s: %w", state, r.cfg.Table, err)
	}
	return nil
}

// blockedTag starts the user data of a blocked service's rule; the
// service's ADDR:PORT follows.
const blockedTag = "imdsguard-blocked "

// Dropped returns the packets dropped so far, by blocked service, as the
// rules' counters say (they restart when the rules are replaced: at the
// redirect, and when the drop comes back).
func (r *Redirector) Dropped() (map[netip.AddrPort]uint64, error) {
	c, err := r.conn()
	if err != nil {
		return nil, fmt.Errorf("redirect: netlink: %w", err)
	}
	rules, err := c.GetRules(r.table, r.guard)
	if err != nil {
		return nil, fmt.Errorf("redirect: reading the rules of table inet %s: %w", r.cfg.Table, err)
	}
	out := map[netip.AddrPort]uint64{}
	for _, rule := range rules {
		s, ok := strings.CutPrefix(string(rule.UserData), blockedTag)
		if !ok {
			continue
		}
		t, err := netip.ParseAddrPort(s)
		if err != nil {
			continue // not a rule this package wrote
		}
		for _, e := range rule.Exprs {
			if ctr, ok := e.(*expr.Counter); ok {
				out[t] += ctr.Packets
			}
		}
	}
	return out, nil
}

// Remove deletes the table: pod traffic for the metadata service then goes
// wherever routing sends it.
func (r *Redirector) Remove() error {
	c, err := r.conn()
	if err != nil {
		return fmt.Errorf("redirect: netlink: %w", err)
	}
	c.DelTable(r.table)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("redirect: deleting table inet %s: %w", r.cfg.Table, err)
	}
	return nil
}

// matches returns one expression list per (source selector, target):
// "this is a pod's TCP packet for this metadata address and port".
func (r *Redirector) matches(targets []netip.AddrPort) [][]expr.Any {
	var out [][]expr.Any
	for _, t := range targets {
		dst := destination(t)
		for _, p := range r.cfg.PodCIDRs {
			if p.Addr().Is4() != t.Addr().Is4() {
				continue
			}
			out = append(out, append(source(p), dst...))
		}
		for _, i := range r.cfg.PodInterfaces {
			out = append(out, append(iface(i, t.Addr().Is4()), dst...))
		}
	}
	return out
}

func nfproto(v4 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV6)
	if v4 {
		p = unix.NFPROTO_IPV4
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func iface(name string, v4 bool) []expr.Any {
	data := []byte(name)
	if n := len(name); name[n-1] == '*' {
		data = data[:n-1] // compare the prefix only
	} else {
		data = append(data, 0)
	}
	return append(nfproto(v4),
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data})
}

func source(p netip.Prefix) []expr.Any {
	p = p.Masked()
	off, n := uint32(12), uint32(4) // IPv4 source address
	if !p.Addr().Is4() {
		off, n = 8, 16
	}
	mask := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return append(nfproto(p.Addr().Is4()),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
}

func destination(t netip.AddrPort) []expr.Any {
	off, n := uint32(16), uint32(4) // IPv4 destination address
	if !t.Addr().Is4() {
		off, n = 24, 16
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: t.Addr().AsSlice()},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(t.Port())},
	}
}
