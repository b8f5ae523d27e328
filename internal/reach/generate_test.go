package reach_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// allTargets is every metadata and keep-open destination, the set the
// differential and fuzz tests compare on.
var allTargets = reach.Targets(append(endpoints.ForClouds(), endpoints.KeepOpen()...))

// compileSelector fills s.Compiled the way the loaders do, through
// apimachinery's own conversion.
func compileSelector(s *model.Selector) error {
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values,
		})
	}
	c, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return fmt.Errorf("compiling selector %s: %w", formatSelector(s), err)
	}
	s.Compiled = c
	return nil
}

// The label vocabulary is small so that selectors select often.
var (
	labelKeys   = []string{"app", "tier", "env"}
	labelValues = []string{"web", "db", "x"}
)

// Addresses around the metadata endpoints, from which CIDRs and excepts are
// cut with random prefix lengths.
var (
	v4Bases = mustAddrs("169.254.169.254", "169.254.170.23", "169.254.170.2", "169.254.20.10", "169.254.25.10",
		"168.63.129.16", "100.100.100.200", "0.0.0.0", "10.0.0.0", "169.254.0.0", "169.255.0.0")
	v6Bases = mustAddrs("fd00:ec2::254", "fd00:ec2::23", "fd20:ce::254", "::", "fd00::", "fe80::", "fd00:ec2::")
	// Mapped CIDRs are the classic ambiguous ipBlock: a CNI may read them as
	// IPv4 or as IPv6.
	mappedBases = mustAddrs("::ffff:169.254.169.254", "::ffff:169.254.0.0", "::ffff:0.0.0.0")
)

func mustAddrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// generator builds random inventories. Every choice comes from r, so a case
// is reproduced by its seed (or, for the fuzz target, by its input bytes).
type generator struct {
	r   *rand.Rand
	nss []string
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// chance reports true with probability n/100.
func (g *generator) chance(n int) bool { return g.r.IntN(100) < n }

func genInventory(r *rand.Rand) *model.Inventory {
	g := &generator{r: r}
	inv := model.NewInventory()
	for i := range 1 + r.IntN(3) {
		name := fmt.Sprintf("ns%d", i)
		g.nss = append(g.nss, name)
		ns := inv.Namespace(name)
		// Most namespaces are declared, with labels the admin policies'
		// namespace selectors look at; the others are known only by name.
		ns.Declared = !g.chance(20)
		if ns.Declared {
			for _, k := range labelKeys {
				if g.chance(40) {
					ns.Labels[k] = pick(r, labelValues)
				}
			}
		}
	}
	for _, ns := range g.nss {
		for i := range r.IntN(7) {
			inv.NetworkPolicies = append(inv.NetworkPolicies, g.policy(ns, i))
		}
	}
	for i := range r.IntN(9) {
		inv.Workloads = append(inv.Workloads, g.workload(i))
	}
	g.addCilium(inv) // generate_cilium_test.go
	if g.chance(12) {
		for i := range 1 + r.IntN(2) {
			inv.Unsupported = append(inv.Unsupported, g.stub(i))
		}
	}
	if g.chance(40) {
		for i := range 1 + r.IntN(4) {
			inv.AdminPolicies = append(inv.AdminPolicies, g.adminPolicy(i, false))
		}
	}
	if g.chance(30) {
		// Usually one BaselineAdminNetworkPolicy; two when the input holds
		// the object twice.
		for i := range 1 + r.IntN(2)*r.IntN(2) {
			inv.AdminPolicies = append(inv.AdminPolicies, g.adminPolicy(i, true))
		}
	}
	if g.chance(35) {
		for i := range 1 + r.IntN(3) {
			inv.AdminPolicies = append(inv.AdminPolicies, g.clusterPolicy(i))
		}
	}
	if g.chance(8) {
		scope := ""
		if g.chance(70) {
			scope = pick(r, append(g.nss, "elsewhere"))
		}
		inv.MarkIncomplete(scope, fmt.Sprintf("stub.yaml:%d: cannot parse", r.IntN(50)))
	}
	return inv
}

func (g *generator) policy(ns string, i int) *model.NetworkPolicy {
	np := &model.NetworkPolicy{
		Ref:         model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: ns, Name: fmt.Sprintf("np%d", i)},
		PodSelector: g.selector(),
		Source:      model.Source{File: "policies.yaml", Line: 10 * i},
	}
	for ri := range g.r.IntN(5) {
		np.EgressRules = append(np.EgressRules, g.rule(ri))
	}
	// The loader applies policyTypes defaulting: egress is governed when
	// listed, or when policyTypes is omitted and egress rules exist.
	switch g.r.IntN(4) {
	case 0: // policyTypes omitted
		np.Ingress, np.Egress = true, len(np.EgressRules) > 0
	case 1:
		np.Ingress = true
	case 2:
		np.Egress = true
	default:
		np.Ingress, np.Egress = true, true
	}
	return np
}

func (g *generator) selector() model.Selector {
	var s model.Selector
	if g.chance(30) {
		s.MatchLabels = map[string]string{} // written as `{}`
	}
	for range g.r.IntN(3) {
		if s.MatchLabels == nil {
			s.MatchLabels = map[string]string{}
		}
		s.MatchLabels[pick(g.r, labelKeys)] = pick(g.r, labelValues)
	}
	for range g.r.IntN(3) {
		req := model.Requirement{Key: pick(g.r, labelKeys), Operator: pick(g.r, []string{"In", "NotIn", "Exists", "DoesNotExist"})}
		if req.Operator == "In" || req.Operator == "NotIn" {
			for _, i := range g.r.Perm(len(labelValues))[:1+g.r.IntN(2)] {
				req.Values = append(req.Values, labelValues[i])
			}
		}
		s.MatchExpressions = append(s.MatchExpressions, req)
	}
	if err := compileSelector(&s); err != nil {
		panic(err) // the generator only writes valid selectors
	}
	return s
}

func (g *generator) rule(i int) model.EgressRule {
	r := model.EgressRule{Index: i, Source: model.Source{File: "policies.yaml", Line: 100 + i}}
	if !g.chance(25) {
		for range 1 + g.r.IntN(3) {
			r.To = append(r.To, g.peer())
		}
	}
	if !g.chance(40) {
		for range 1 + g.r.IntN(3) {
			r.Ports = append(r.Ports, g.port())
		}
	}
	return r
}

func (g *generator) peer() model.Peer {
	switch n := g.r.IntN(10); {
	case n < 7:
		return model.Peer{IPBlock: g.ipBlock()}
	case n == 7:
		s := g.selector()
		return model.Peer{PodSelector: &s}
	case n == 8:
		s := g.selector()
		return model.Peer{NamespaceSelector: &s}
	default:
		ps, nss := g.selector(), g.selector()
		return model.Peer{PodSelector: &ps, NamespaceSelector: &nss}
	}
}

func (g *generator) ipBlock() *model.IPBlock {
	var cidr netip.Prefix
	ambiguous := ""
	switch n := g.r.IntN(20); {
	case n == 0:
		cidr = g.prefix(pick(g.r, mappedBases), 96)
		ambiguous = "IPv4-mapped IPv6 CIDR"
	case n < 12:
		cidr = g.prefix(pick(g.r, v4Bases), 0)
	default:
		cidr = g.prefix(pick(g.r, v6Bases), 0)
	}
	if g.chance(5) {
		ambiguous = "leading zeros in an octet"
	}
	b := &model.IPBlock{CIDR: cidr, RawCIDR: cidr.String(), Ambiguous: ambiguous}
	for range g.r.IntN(3) {
		var ex netip.Prefix
		if g.chance(85) {
			// An except of the same family, mostly inside the CIDR as the
			// API server requires.
			bases := v4Bases
			if cidr.Addr().Is6() {
				bases = v6Bases
			}
			base := pick(g.r, bases)
			if g.chance(70) && !cidr.Contains(base) {
				base = cidr.Addr()
			}
			ex = g.prefix(base, cidr.Bits())
		} else {
			// Anything at all, including the other family: the engine must
			// not be confused by input the API server would reject.
			ex = g.prefix(pick(g.r, append(append([]netip.Addr{}, v4Bases...), v6Bases...)), 0)
		}
		b.Except = append(b.Except, ex)
		b.RawExcept = append(b.RawExcept, ex.String())
	}
	return b
}

// prefix cuts a prefix of at least min bits from a, favouring the lengths
// policies use. Now and then the host bits are left set, as a non-canonical
// CIDR would be written.
func (g *generator) prefix(a netip.Addr, min int) netip.Prefix {
	max := a.BitLen()
	var bits int
	if g.chance(60) {
		common := []int{0, 8, 16, 24, 30, 31, 32}
		if max == 128 {
			common = []int{0, 8, 16, 32, 64, 96, 112, 120, 127, 128}
		}
		bits = pick(g.r, common)
	} else {
		bits = g.r.IntN(max + 1)
	}
	if bits < min {
		bits = min + g.r.IntN(max-min+1)
	}
	p := netip.PrefixFrom(a, bits)
	if g.chance(90) {
		p = p.Masked()
	}
	return p
}

func (g *generator) port() model.Port {
	p := model.Port{Protocol: pick(g.r, []model.Protocol{model.TCP, model.TCP, model.UDP, model.SCTP})}
	switch n := g.r.IntN(20); {
	case n < 3: // every port of the protocol
	case n < 5:
		p.Name = pick(g.r, []string{"http", "dns", "metrics"})
	default:
		p.Number = pick(g.r, []int32{80, 80, 53, 53, 32526, 443, 79, 81, 52, 54, 32525, 32527, 1, 65535})
		if g.chance(10) {
			p.Number = 1 + g.r.Int32N(65535)
		}
		if g.chance(30) {
			p.EndPort = p.Number + pick(g.r, []int32{0, 1, 2, 10, 1000, 32526, -1})
			if p.EndPort > 65535 {
				p.EndPort = 65535
			}
		}
	}
	return p
}

func (g *generator) workload(i int) *model.Workload {
	ns := pick(g.r, g.nss)
	w := &model.Workload{
		Ref:    model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("w%d", i)},
		Source: model.Source{File: "workloads.yaml", Line: 10 * i},
	}
	for range 1 + g.r.IntN(2) {
		t := model.PodTemplate{Labels: model.Labels{}, HostNetwork: g.chance(10)}
		for _, k := range labelKeys {
			if g.chance(60) {
				t.Labels[k] = pick(g.r, labelValues)
			}
		}
		w.Templates = append(w.Templates, t)
	}
	return w
}

// stub returns one of the policy kinds the engine does not evaluate, with
// the flags the loaders set for that kind.
func (g *generator) stub(i int) *model.PolicyStub {
	name := fmt.Sprintf("stub%d", i)
	switch g.r.IntN(4) {
	case 0:
		return &model.PolicyStub{Ref: model.ObjectRef{Kind: "CiliumNetworkPolicy", Namespace: pick(g.r, g.nss), Name: name}}
	case 1:
		return &model.PolicyStub{Ref: model.ObjectRef{Kind: "AdminNetworkPolicy", Name: name}, ClusterScoped: true}
	case 2:
		return &model.PolicyStub{Ref: model.ObjectRef{Kind: "BaselineAdminNetworkPolicy", Name: name}, ClusterScoped: true, Baseline: true}
	default:
		return &model.PolicyStub{Ref: model.ObjectRef{Kind: "GlobalNetworkPolicy", Name: name}, ClusterScoped: true, SelectsHostNetwork: true}
	}
}

// dumpInventory renders an inventory as indented text for failure messages.
func dumpInventory(inv *model.Inventory) string {
	var b strings.Builder
	for _, name := range inv.NamespaceNames() {
		ns := inv.Namespaces[name]
		fmt.Fprintf(&b, "namespace %s declared=%t labels=%s\n", name, ns.Declared, formatLabels(ns.Labels))
	}
	for _, np := range inv.NetworkPolicies {
		fmt.Fprintf(&b, "policy %s/%s podSelector=%s ingress=%t egress=%t\n",
			np.Ref.Namespace, np.Ref.Name, formatSelector(&np.PodSelector), np.Ingress, np.Egress)
		for _, r := range np.EgressRules {
			fmt.Fprintf(&b, "  egress[%d]\n", r.Index)
			if len(r.To) == 0 {
				b.WriteString("    to: (any)\n")
			}
			for _, p := range r.To {
				fmt.Fprintf(&b, "    to: %s\n", formatPeer(&p))
			}
			if len(r.Ports) == 0 {
				b.WriteString("    ports: (any)\n")
			}
			for _, p := range r.Ports {
				fmt.Fprintf(&b, "    port: %s\n", formatPort(&p))
			}
		}
	}
	for _, w := range inv.Workloads {
		fmt.Fprintf(&b, "workload %s/%s\n", w.Ref.Namespace, w.Ref.Name)
		for i, t := range w.Templates {
			fmt.Fprintf(&b, "  template[%d] labels=%s hostNetwork=%t sa=%q\n", i, formatLabels(t.Labels), t.HostNetwork, t.ServiceAccount)
		}
	}
	for _, p := range inv.AdminPolicies {
		dumpAdminPolicy(&b, p)
	}
	for _, p := range inv.CiliumPolicies {
		dumpCiliumPolicy(&b, p)
	}
	for _, s := range inv.Unsupported {
		fmt.Fprintf(&b, "stub %s clusterScoped=%t baseline=%t selectsHostNetwork=%t\n", s.Ref, s.ClusterScoped, s.Baseline, s.SelectsHostNetwork)
	}
	scopes := make([]string, 0, len(inv.Incomplete))
	for s := range inv.Incomplete {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	for _, s := range scopes {
		fmt.Fprintf(&b, "incomplete %q: %q\n", s, inv.Incomplete[s])
	}
	return b.String()
}

func formatSelector(s *model.Selector) string {
	var terms []string
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		terms = append(terms, k+"="+s.MatchLabels[k])
	}
	for _, r := range s.MatchExpressions {
		terms = append(terms, fmt.Sprintf("%s %s %v", r.Key, r.Operator, r.Values))
	}
	return "{" + strings.Join(terms, ", ") + "}"
}

func formatLabels(l model.Labels) string {
	return formatSelector(&model.Selector{MatchLabels: l})
}

func formatPeer(p *model.Peer) string {
	if b := p.IPBlock; b != nil {
		s := "ipBlock " + b.CIDR.String()
		if len(b.Except) > 0 {
			s += fmt.Sprintf(" except %v", b.Except)
		}
		if b.Ambiguous != "" {
			s += fmt.Sprintf(" (ambiguous: %s)", b.Ambiguous)
		}
		return s
	}
	var parts []string
	if p.NamespaceSelector != nil {
		parts = append(parts, "namespaceSelector "+formatSelector(p.NamespaceSelector))
	}
	if p.PodSelector != nil {
		parts = append(parts, "podSelector "+formatSelector(p.PodSelector))
	}
	return strings.Join(parts, " ")
}

func formatPort(p *model.Port) string {
	switch {
	case p.Name != "":
		return fmt.Sprintf("%s named %q", p.Protocol, p.Name)
	case p.Number == 0:
		return fmt.Sprintf("%s (every port)", p.Protocol)
	case p.EndPort != 0:
		return fmt.Sprintf("%s %d-%d", p.Protocol, p.Number, p.EndPort)
	}
	return fmt.Sprintf("%s %d", p.Protocol, p.Number)
}
