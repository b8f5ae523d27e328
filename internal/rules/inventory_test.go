package rules_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// This file builds small inventories the way the loaders do: every object
// knows its file and line, selectors are compiled by apimachinery, and every
// namespace a workload lives in exists in the inventory.

// inventory collects objects for one test.
type inventory struct {
	t   *testing.T
	inv *model.Inventory
}

func newInventory(t *testing.T) *inventory {
	t.Helper()
	return &inventory{t: t, inv: model.NewInventory()}
}

// namespace declares a namespace, as a Namespace manifest in ns-NAME.yaml.
func (b *inventory) namespace(name string, annotations map[string]string) *model.Namespace {
	ns := b.inv.Namespace(name)
	ns.Declared = true
	ns.Annotations = annotations
	ns.Source = model.Source{File: "ns-" + name + ".yaml", Line: 1}
	return ns
}

// deployment adds a Deployment NAME in ns, read from NAME.yaml line 1, whose
// pods are labelled app=NAME.
func (b *inventory) deployment(ns, name string) *model.Workload {
	b.inv.Namespace(ns)
	w := &model.Workload{
		Ref:    model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name},
		Source: model.Source{File: name + ".yaml", Line: 1},
		Templates: []model.PodTemplate{{Labels: model.Labels{"app": name},
			Source: model.Source{File: name + ".yaml", Line: 8}}},
	}
	b.inv.Workloads = append(b.inv.Workloads, w)
	return w
}

// hostNetworkDeployment adds a Deployment whose pods use the host network.
func (b *inventory) hostNetworkDeployment(ns, name string) *model.Workload {
	w := b.deployment(ns, name)
	w.Templates[0].HostNetwork = true
	return w
}

// egressPolicy adds an egress NetworkPolicy NAME in ns, read from NAME.yaml,
// selecting the pods labelled app=APP (every pod when app is empty). Egress
// rule i sits on line 10+10*i, and the ipBlock of its peer j on line
// 11+10*i+j.
func (b *inventory) egressPolicy(ns, name, app string, egress ...model.EgressRule) *model.NetworkPolicy {
	b.t.Helper()
	np := &model.NetworkPolicy{
		Ref:         model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: ns, Name: name},
		PodSelector: b.selector(app),
		Egress:      true,
		Source:      model.Source{File: name + ".yaml", Line: 1},
	}
	for i, r := range egress {
		r.Index = i
		r.Source = np.Source.At(10 + 10*i)
		for j := range r.To {
			if r.To[j].IPBlock != nil {
				r.To[j].IPBlock.Source = np.Source.At(11 + 10*i + j)
			}
		}
		np.EgressRules = append(np.EgressRules, r)
	}
	b.inv.Namespace(ns)
	b.inv.NetworkPolicies = append(b.inv.NetworkPolicies, np)
	return np
}

// ingressPolicy adds a NetworkPolicy with policyTypes [Ingress] selecting
// every pod of ns.
func (b *inventory) ingressPolicy(ns, name string) *model.NetworkPolicy {
	np := &model.NetworkPolicy{
		Ref:         model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: ns, Name: name},
		PodSelector: b.selector(""),
		Ingress:     true,
		Source:      model.Source{File: name + ".yaml", Line: 1},
	}
	b.inv.NetworkPolicies = append(b.inv.NetworkPolicies, np)
	return np
}

func (b *inventory) selector(app string) model.Selector {
	b.t.Helper()
	s := model.Selector{}
	if app != "" {
		s.MatchLabels = map[string]string{"app": app}
	}
	c, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: s.MatchLabels})
	if err != nil {
		b.t.Fatal(err)
	}
	s.Compiled = c
	return s
}

// egress returns an egress rule; no peers means every destination.
func egress(to []model.Peer, ports ...model.Port) model.EgressRule {
	return model.EgressRule{To: to, Ports: ports}
}

func to(ps ...model.Peer) []model.Peer { return ps }

// ipBlock returns an ipBlock peer.
func ipBlock(cidr string, except ...string) model.Peer {
	b := &model.IPBlock{CIDR: netip.MustParsePrefix(cidr), RawCIDR: cidr, RawExcept: except}
	for _, e := range except {
		b.Except = append(b.Except, netip.MustParsePrefix(e))
	}
	return model.Peer{IPBlock: b}
}

func tcp(port int32) model.Port { return model.Port{Protocol: model.TCP, Number: port} }

// run evaluates the inventory for the clouds' metadata endpoints, with their
// keep-open services, and runs every built-in rule.
func (b *inventory) run(clouds ...endpoints.Cloud) []rules.Finding {
	b.t.Helper()
	targets := reach.Targets(endpoints.ForClouds(clouds...))
	keepOpen := reach.Targets(endpoints.KeepOpen(clouds...))
	a := reach.Evaluate(b.inv, targets)
	return rules.Default().Run(&rules.Context{Inventory: b.inv, Analysis: a, KeepOpen: keepOpen})
}

// only returns the findings of one rule.
func only(fs []rules.Finding, ruleID string) []rules.Finding {
	var out []rules.Finding
	for _, f := range fs {
		if f.RuleID == ruleID {
			out = append(out, f)
		}
	}
	return out
}

// assertFindings compares findings field by field, leaving out the
// remediation text, which is the rule's documentation.
func assertFindings(t *testing.T, got, want []rules.Finding) {
	t.Helper()
	opts := cmp.Options{cmpopts.IgnoreFields(rules.Finding{}, "Remediation"), cmpopts.EquateEmpty()}
	if diff := cmp.Diff(got, want, opts); diff != "" {
		t.Errorf("findings (-got +want):\n%s", diff)
	}
}

func deploymentRef(ns, name string) model.ObjectRef {
	return model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: name}
}

func policyRef(ns, name string) model.ObjectRef {
	return model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: ns, Name: name}
}

func at(file string, line int) model.Source { return model.Source{File: file, Line: line} }

// The AWS metadata targets as Target.String renders them.
const (
	awsIMDS4 = "169.254.169.254:80/TCP"
	awsIMDS6 = "[fd00:ec2::254]:80/TCP"
)

func udp(port int32) model.Port { return model.Port{Protocol: model.UDP, Number: port} }
