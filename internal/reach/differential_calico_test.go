package reach_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/calicosel"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// TestDifferentialCalico runs the engine and the Calico reference
// evaluator (reference_calico_test.go) on random inventories of Calico
// policies, tiers and Kubernetes NetworkPolicies, and fails on any
// disagreement. Case i comes from seed i (replay with
// IMDSGUARD_DIFF_SEED=i); IMDSGUARD_DIFF_CASES sets the number of cases
// (by default a quarter of TestDifferential's).
func TestDifferentialCalico(t *testing.T) {
	first, n := int64(0), diffCases(t)
	if os.Getenv("IMDSGUARD_DIFF_CASES") == "" {
		n /= 4 // each case runs every world of its open choices: slower than the NetworkPolicy cases
	}
	if s := os.Getenv("IMDSGUARD_DIFF_SEED"); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("IMDSGUARD_DIFF_SEED=%q: %v", s, err)
		}
		first, n = seed, seed+1
	}
	runCases(t, first, n, func(seed uint64, tally *[3]int64) string {
		c := genCalicoCase(caseRand(seed))
		diffs := diffCalico(c, tally)
		if len(diffs) == 0 {
			return ""
		}
		return caseReport(seed, diffs, dumpCalicoCase(c))
	})
}

func diffCalico(c *calicoCase, tally *[3]int64) []string {
	got := reach.Evaluate(c.inv, allTargets)
	var diffs []string
	for wi, w := range c.inv.Workloads {
		for i := range w.Templates {
			for ti := range allTargets {
				want := refCalicoPod(c, w.Ref.Namespace, &w.Templates[i], &allTargets[ti])
				tally[want]++
				g := got.Workloads[wi].PerTemplate[i][ti]
				if g.Verdict != want {
					diffs = append(diffs, fmt.Sprintf("%s/%s template[%d] -> %s: engine %s, reference %s\n  engine trace:\n%s",
						w.Ref.Namespace, w.Ref.Name, i, allTargets[ti], g.Verdict, want, formatTrace(g.Trace)))
				}
			}
		}
	}
	return diffs
}

// calicoCase is a random inventory and, for the reference, the selector
// trees its Calico selectors were written from.
type calicoCase struct {
	inv  *model.Inventory
	sels map[*calicosel.Selector]*refSel
}

// refSel is a selector expression tree: an operator over a key and
// values, or over sub-expressions.
type refSel struct {
	op     string // all, global, has, ==, !=, in, not in, contains, starts with, ends with, !, &&, ||
	key    string
	values []string
	kids   []*refSel
}

var (
	calicoKeys   = []string{"app", "tier", "env", "team", "projectcalico.org/namespace", "projectcalico.org/name", "pcns.team", "pcns.env", "projectcalico.org/serviceaccount", "projectcalico.org/orchestrator"}
	calicoValues = []string{"web", "db", "x", "ns0", "ns1", "a", "sa1", "default", "k8s"}
	calicoNets   = []string{"169.254.169.254/32", "169.254.0.0/16", "0.0.0.0/0", "10.0.0.0/8", "fd00:ec2::254/128", "::/0", "100.100.100.200/32", "169.254.170.2/31"}
	tierOrders   = []float64{100, 1000, 2000, 1_000_000, 20_000_000}
)

func genCalicoCase(r *rand.Rand) *calicoCase {
	inv := genInventory(r)
	// Only the kinds the Calico reference models: NetworkPolicy, Calico
	// policies and tiers.
	inv.AdminPolicies, inv.CiliumPolicies, inv.Unsupported, inv.Incomplete = nil, nil, nil, map[string][]string{}
	g := &generator{r: r}
	c := &calicoCase{inv: inv, sels: map[*calicosel.Selector]*refSel{}}
	for _, name := range inv.NamespaceNames() {
		g.nss = append(g.nss, name)
		if ns := inv.Namespaces[name]; ns.Declared && g.chance(50) {
			ns.Labels["team"] = pick(r, []string{"a", "b"})
		}
	}
	for _, w := range inv.Workloads {
		for i := range w.Templates {
			if g.chance(30) {
				w.Templates[i].ServiceAccount = pick(r, []string{"sa1", "default"})
			}
		}
	}
	tiers := []string{model.CalicoDefaultTier}
	for i := range r.IntN(3) {
		name := fmt.Sprintf("t%d", i)
		tiers = append(tiers, name)
		tr := &model.CalicoTier{Ref: model.ObjectRef{Kind: "Tier", Name: name}, DefaultAction: model.CalicoDeny}
		if g.chance(80) {
			o := pick(r, tierOrders)
			tr.Order = &o
		}
		if g.chance(40) {
			tr.DefaultAction = model.CalicoPass
		}
		inv.CalicoTiers = append(inv.CalicoTiers, tr)
	}
	if g.chance(5) {
		// The built-in tiers' orders are fixed: an object saying otherwise
		// changes nothing.
		o := 5.0
		inv.CalicoTiers = append(inv.CalicoTiers, &model.CalicoTier{Ref: model.ObjectRef{Kind: "Tier", Name: "default"}, Order: &o, DefaultAction: model.CalicoPass})
	}
	if g.chance(5) {
		tiers = append(tiers, "ghost") // named by a policy, not declared
	}
	for i := range r.IntN(5) {
		inv.CalicoPolicies = append(inv.CalicoPolicies, c.policy(g, i, tiers))
	}
	return c
}

func (c *calicoCase) policy(g *generator, i int, tiers []string) *model.CalicoPolicy {
	r := g.r
	p := &model.CalicoPolicy{Global: g.chance(50), Tier: pick(r, tiers), Egress: g.chance(90), Source: model.Source{File: "calico.yaml", Line: 100 * i}}
	name := fmt.Sprintf("p%d", i)
	if p.Tier != model.CalicoDefaultTier {
		name = p.Tier + "." + name
	}
	p.Ref = model.ObjectRef{Kind: "NetworkPolicy", Name: name}
	if p.Global {
		p.Ref.Kind = "GlobalNetworkPolicy"
		if g.chance(50) {
			p.NamespaceSelector = c.selector(g, 1)
		}
		if g.chance(3) {
			p.HostOnly = "applyOnForward"
		}
	} else {
		p.Ref.Namespace = pick(r, g.nss)
	}
	if g.chance(70) {
		o := pick(r, []float64{10, 500, 1000, 1000, 1200, 2000})
		p.Order = &o
	}
	if g.chance(60) {
		p.Selector = c.selector(g, 2)
	}
	if g.chance(10) {
		p.ServiceAccountSelector = c.selector(g, 1)
	}
	for ri := range 1 + r.IntN(3) {
		p.EgressRules = append(p.EgressRules, c.rule(g, ri))
	}
	return p
}

func (c *calicoCase) rule(g *generator, i int) model.CalicoRule {
	r := g.r
	rule := model.CalicoRule{Index: i, Action: pick(r, []model.CalicoAction{model.CalicoAllow, model.CalicoDeny, model.CalicoDeny, model.CalicoPass, model.CalicoLog})}
	if g.chance(40) {
		rule.Protocol = pick(r, []string{"TCP", "UDP", "ICMP"})
	}
	if g.chance(10) {
		rule.NotProtocol = pick(r, []string{"TCP", "UDP"})
	}
	if g.chance(10) {
		rule.IPVersion = pick(r, []int{4, 6})
	}
	d := &rule.Destination
	if g.chance(60) {
		for range 1 + r.IntN(2) {
			d.Nets = append(d.Nets, netip.MustParsePrefix(pick(r, calicoNets)))
		}
	}
	if g.chance(15) {
		d.NotNets = append(d.NotNets, netip.MustParsePrefix(pick(r, calicoNets)))
	}
	if g.chance(25) {
		d.Ports = append(d.Ports, pick(r, []model.CalicoPort{{First: 80, Last: 80}, {First: 1, Last: 100}, {First: 53, Last: 53}, {Name: "http"}}))
	}
	if g.chance(10) {
		d.NotPorts = append(d.NotPorts, pick(r, []model.CalicoPort{{First: 80, Last: 80}, {First: 443, Last: 443}}))
	}
	if g.chance(8) {
		d.Selector = c.selector(g, 1)
	}
	if g.chance(4) {
		d.ServiceAccounts = true
	}
	if g.chance(3) {
		d.Services = "default/kubernetes"
	}
	if g.chance(5) {
		rule.Source.Selector = c.selector(g, 0)
	}
	return rule
}

// selector writes a random selector expression, parses it as the loader
// does, and remembers the tree for the reference.
func (c *calicoCase) selector(g *generator, depth int) *calicosel.Selector {
	tree := genSel(g, depth)
	s, err := calicosel.Parse(formatSel(tree))
	if err != nil {
		panic(fmt.Sprintf("generated selector %q: %v", formatSel(tree), err))
	}
	c.sels[s] = tree
	return s
}

func genSel(g *generator, depth int) *refSel {
	r := g.r
	if depth > 0 && g.chance(40) {
		switch r.IntN(3) {
		case 0:
			return &refSel{op: "!", kids: []*refSel{genSel(g, depth-1)}}
		case 1:
			return &refSel{op: "&&", kids: []*refSel{genSel(g, depth-1), genSel(g, depth-1)}}
		default:
			return &refSel{op: "||", kids: []*refSel{genSel(g, depth-1), genSel(g, depth-1)}}
		}
	}
	op := pick(r, []string{"all", "global", "has", "==", "==", "!=", "in", "not in", "contains", "starts with", "ends with"})
	s := &refSel{op: op, key: pick(r, calicoKeys)}
	switch op {
	case "all", "global":
	case "has":
	case "in", "not in":
		for range r.IntN(3) {
			s.values = append(s.values, pick(r, calicoValues))
		}
	default:
		v := pick(r, calicoValues)
		if op != "==" && op != "!=" && len(v) > 1 {
			v = v[:1+r.IntN(len(v)-1)]
		}
		s.values = []string{v}
	}
	return s
}

// formatSel writes a tree in Calico's syntax, fully parenthesised.
func formatSel(s *refSel) string {
	q := func(v string) string {
		if len(v)%2 == 0 {
			return "'" + v + "'"
		}
		return `"` + v + `"`
	}
	switch s.op {
	case "all", "global":
		return s.op + "()"
	case "has":
		return "has(" + s.key + ")"
	case "!":
		return "!(" + formatSel(s.kids[0]) + ")"
	case "&&", "||":
		return "(" + formatSel(s.kids[0]) + ") " + s.op + " (" + formatSel(s.kids[1]) + ")"
	case "in", "not in":
		vs := make([]string, len(s.values))
		for i, v := range s.values {
			vs[i] = q(v)
		}
		return s.key + " " + s.op + " {" + strings.Join(vs, ", ") + "}"
	}
	return s.key + " " + s.op + " " + q(s.values[0])
}

func dumpCalicoCase(c *calicoCase) string {
	var b strings.Builder
	b.WriteString(dumpInventory(c.inv))
	for _, t := range c.inv.CalicoTiers {
		o := "none"
		if t.Order != nil {
			o = fmt.Sprint(*t.Order)
		}
		fmt.Fprintf(&b, "tier %s order=%s default=%s\n", t.Ref.Name, o, t.DefaultAction)
	}
	for _, p := range c.inv.CalicoPolicies {
		o := "none"
		if p.Order != nil {
			o = fmt.Sprint(*p.Order)
		}
		fmt.Fprintf(&b, "calico %s tier=%s order=%s egress=%t hostOnly=%q selector=%s ns=%s sa=%s\n", p.Ref, p.Tier, o, p.Egress, p.HostOnly, p.Selector, p.NamespaceSelector, p.ServiceAccountSelector)
		for _, r := range p.EgressRules {
			fmt.Fprintf(&b, "  rule %d %s proto=%q not=%q ipv=%d dst=%+v src.sel=%s\n", r.Index, r.Action, r.Protocol, r.NotProtocol, r.IPVersion, r.Destination, r.Source.Selector)
		}
	}
	for _, w := range c.inv.Workloads {
		for i, t := range w.Templates {
			fmt.Fprintf(&b, "workload %s template[%d] sa=%q\n", w.Ref, i, t.ServiceAccount)
		}
	}
	return b.String()
}
