package reach_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// The targets the table tests name, as Target.String renders them.
const (
	imds4     = "169.254.169.254:80/TCP"
	imds6     = "[fd00:ec2::254]:80/TCP"
	wireHost  = "168.63.129.16:32526/TCP"
	wire80    = "168.63.129.16:80/TCP"
	dnsUDP    = "169.254.20.10:53/UDP"
	dnsTCP    = "169.254.20.10:53/TCP"
	podIdent4 = "169.254.170.23:80/TCP"
)

// TestEngine walks the egress examples of the Kubernetes NetworkPolicy
// documentation, for a pod in namespace "default" labelled app=web.
func TestEngine(t *testing.T) {
	tests := []struct {
		name     string
		policies []*model.NetworkPolicy
		pod      model.PodTemplate
		stubs    []*model.PolicyStub
		want     map[string]reach.Verdict
	}{
		{
			name: "no policy",
			want: every(reach.Reachable),
		},
		{
			name:     "default deny all egress",
			policies: []*model.NetworkPolicy{policy(t, "deny-all", []string{"Egress"})},
			want:     every(reach.Blocked),
		},
		{
			name:     "allow all egress",
			policies: []*model.NetworkPolicy{policy(t, "allow-all", []string{"Egress"}, rule(nil))},
			want:     every(reach.Reachable),
		},
		{
			name: "0.0.0.0/0 except the IMDS address, and ::/0",
			policies: []*model.NetworkPolicy{policy(t, "no-imds", []string{"Egress"},
				rule(peers(block("0.0.0.0/0", "169.254.169.254/32"), block("::/0"))))},
			want: map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Reachable, wire80: reach.Reachable, podIdent4: reach.Reachable},
		},
		{
			name: "0.0.0.0/0 except the IMDS address says nothing about IPv6",
			policies: []*model.NetworkPolicy{policy(t, "no-imds", []string{"Egress"},
				rule(peers(block("0.0.0.0/0", "169.254.169.254/32"))))},
			want: map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, wire80: reach.Reachable},
		},
		{
			name: "policies are additive: a second policy re-opens what the first denies",
			policies: []*model.NetworkPolicy{
				policy(t, "deny-all", []string{"Egress"}),
				policy(t, "allow-link-local", []string{"Egress"}, rule(peers(block("169.254.0.0/16")), tcp(80))),
			},
			want: map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked, dnsUDP: reach.Blocked, wire80: reach.Blocked},
		},
		{
			name: "a policy that does not select the pod neither isolates nor allows",
			policies: []*model.NetworkPolicy{
				policy(t, "deny-all", []string{"Egress"}),
				selecting(policy(t, "allow-db", []string{"Egress"}, rule(nil)), "app", "db"),
			},
			want: every(reach.Blocked),
		},
		{
			name:     "an ingress-only policy does not isolate egress",
			policies: []*model.NetworkPolicy{policy(t, "ingress-only", []string{"Ingress"})},
			want:     every(reach.Reachable),
		},
		{
			name:     "policyTypes omitted without egress rules: ingress only",
			policies: []*model.NetworkPolicy{policy(t, "defaulted", nil)},
			want:     every(reach.Reachable),
		},
		{
			name: "policyTypes omitted with egress rules: egress is isolated",
			policies: []*model.NetworkPolicy{policy(t, "defaulted", nil,
				rule(peers(block("10.0.0.0/8"))))},
			want: every(reach.Blocked),
		},
		{
			name: "a named port never matches an ipBlock destination",
			policies: []*model.NetworkPolicy{policy(t, "named", []string{"Egress"},
				rule(peers(block("0.0.0.0/0")), model.Port{Protocol: model.TCP, Name: "http"}))},
			want: map[string]reach.Verdict{imds4: reach.Blocked, wire80: reach.Blocked, dnsTCP: reach.Blocked},
		},
		{
			name: "endPort makes a range",
			policies: []*model.NetworkPolicy{policy(t, "range", []string{"Egress"},
				rule(peers(block("0.0.0.0/0")), model.Port{Protocol: model.TCP, Number: 32000, EndPort: 32768}))},
			want: map[string]reach.Verdict{wireHost: reach.Reachable, wire80: reach.Blocked, imds4: reach.Blocked},
		},
		{
			name: "a UDP-only rule does not allow TCP",
			policies: []*model.NetworkPolicy{policy(t, "dns", []string{"Egress"},
				rule(peers(block("0.0.0.0/0")), model.Port{Protocol: model.UDP, Number: 80}, model.Port{Protocol: model.UDP, Number: 53}))},
			want: map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable, dnsTCP: reach.Blocked},
		},
		{
			name: "a port entry without a number allows every port of its protocol",
			policies: []*model.NetworkPolicy{policy(t, "tcp", []string{"Egress"},
				rule(nil, model.Port{Protocol: model.TCP}))},
			want: map[string]reach.Verdict{imds4: reach.Reachable, wireHost: reach.Reachable, dnsTCP: reach.Reachable, dnsUDP: reach.Blocked},
		},
		{
			name: "podSelector and namespaceSelector peers never match a metadata address",
			policies: []*model.NetworkPolicy{policy(t, "in-cluster", []string{"Egress"},
				rule([]model.Peer{{PodSelector: sel(t)}, {NamespaceSelector: sel(t)}, {NamespaceSelector: sel(t), PodSelector: sel(t)}}))},
			want: every(reach.Blocked),
		},
		{
			name:     "hostNetwork: NetworkPolicy does not apply",
			policies: []*model.NetworkPolicy{policy(t, "deny-all", []string{"Egress"})},
			pod:      model.PodTemplate{HostNetwork: true},
			want:     every(reach.Reachable),
		},
		{
			name: "an ambiguous ipBlock may allow",
			policies: []*model.NetworkPolicy{policy(t, "mapped", []string{"Egress"},
				rule(peers(ambiguous(block("::ffff:169.254.0.0/112"), "IPv4-mapped IPv6 CIDR"))))},
			want: map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Unknown},
		},
		{
			name: "an ambiguous ipBlock may allow even what its except seems to cover",
			policies: []*model.NetworkPolicy{policy(t, "leading-zeros", []string{"Egress"},
				rule(peers(ambiguous(block("0.0.0.0/0", "169.254.169.254/32"), "leading zeros in an except"))))},
			want: map[string]reach.Verdict{imds4: reach.Unknown, wire80: reach.Unknown},
		},
		{
			name: "a clear rule wins over an ambiguous one",
			policies: []*model.NetworkPolicy{policy(t, "both", []string{"Egress"},
				rule(peers(ambiguous(block("::ffff:169.254.0.0/112"), "IPv4-mapped IPv6 CIDR"))),
				rule(peers(block("169.254.169.254/32"))))},
			want: map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Unknown},
		},
		{
			name:     "an AdminNetworkPolicy may override either answer",
			policies: []*model.NetworkPolicy{policy(t, "deny-all", []string{"Egress"})},
			stubs:    []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "AdminNetworkPolicy", Name: "anp"}, ClusterScoped: true}},
			want:     every(reach.Unknown),
		},
		{
			name:  "a BaselineAdminNetworkPolicy decides for pods no NetworkPolicy isolates",
			stubs: []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "BaselineAdminNetworkPolicy", Name: "default"}, ClusterScoped: true, Baseline: true}},
			want:  every(reach.Unknown),
		},
		{
			name:     "a BaselineAdminNetworkPolicy does not matter to isolated pods",
			policies: []*model.NetworkPolicy{policy(t, "deny-all", []string{"Egress"})},
			stubs:    []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "BaselineAdminNetworkPolicy", Name: "default"}, ClusterScoped: true, Baseline: true}},
			want:     every(reach.Blocked),
		},
		{
			name:     "a cluster policy that selects host endpoints also selects ordinary pods",
			policies: []*model.NetworkPolicy{policy(t, "deny-all", []string{"Egress"})},
			stubs:    []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "GlobalNetworkPolicy", Name: "gnp"}, ClusterScoped: true, SelectsHostNetwork: true}},
			want:     every(reach.Unknown),
		},
		{
			name:  "a cluster policy that selects host endpoints applies to host-network pods",
			pod:   model.PodTemplate{HostNetwork: true},
			stubs: []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "GlobalNetworkPolicy", Name: "gnp"}, ClusterScoped: true, SelectsHostNetwork: true}},
			want:  every(reach.Unknown),
		},
		{
			name:  "a namespaced policy of another kind in the pod's namespace",
			stubs: []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "CiliumNetworkPolicy", Namespace: "default", Name: "cnp"}}},
			want:  every(reach.Unknown),
		},
		{
			name:  "a namespaced policy of another kind elsewhere",
			stubs: []*model.PolicyStub{{Ref: model.ObjectRef{Kind: "CiliumNetworkPolicy", Namespace: "other", Name: "cnp"}}},
			want:  every(reach.Reachable),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := model.NewInventory()
			inv.NetworkPolicies = tt.policies
			inv.Unsupported = tt.stubs
			inv.Workloads = []*model.Workload{workload("app", withDefaultLabels(tt.pod))}
			a := reach.Evaluate(inv, allTargets)
			if diff := cmp.Diff(verdicts(a.Workloads[0].Results, tt.want), tt.want); diff != "" {
				t.Errorf("verdicts (-got +want):\n%s", diff)
			}
		})
	}
}

// TestEngineIncomplete checks that unreadable input turns Blocked into
// Unknown in its scope, and leaves other answers alone.
func TestEngineIncomplete(t *testing.T) {
	tests := []struct {
		name  string
		scope string
		want  map[string]reach.Verdict
	}{
		{name: "whole inventory", scope: "", want: map[string]reach.Verdict{imds4: reach.Unknown, dnsUDP: reach.Reachable}},
		{name: "the pod's namespace", scope: "default", want: map[string]reach.Verdict{imds4: reach.Unknown, dnsUDP: reach.Reachable}},
		{name: "another namespace", scope: "other", want: map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := model.NewInventory()
			inv.NetworkPolicies = []*model.NetworkPolicy{policy(t, "dns-only", []string{"Egress"}, rule(nil, model.Port{Protocol: model.UDP, Number: 53}))}
			inv.Workloads = []*model.Workload{workload("app", withDefaultLabels(model.PodTemplate{}))}
			inv.MarkIncomplete(tt.scope, "policies.yaml:3: cannot parse")
			a := reach.Evaluate(inv, allTargets)
			if diff := cmp.Diff(verdicts(a.Workloads[0].Results, tt.want), tt.want); diff != "" {
				t.Errorf("verdicts (-got +want):\n%s", diff)
			}
		})
	}
}

// TestEngineTrace checks that a verdict says which layer and which rules
// decided it.
func TestEngineTrace(t *testing.T) {
	denyA := policy(t, "deny-a", []string{"Egress"})
	denyB := policy(t, "deny-b", []string{"Egress"})
	allow := policy(t, "allow-imds", []string{"Egress"},
		rule(peers(block("10.0.0.0/8"))),
		rule(peers(block("169.254.0.0/16")), tcp(80)),
		rule(peers(block("0.0.0.0/0", "169.254.0.0/16"), block("169.254.169.254/32"))),
	)
	tests := []struct {
		name     string
		policies []*model.NetworkPolicy
		pod      model.PodTemplate
		want     reach.Result
	}{
		{
			name:     "blocked names the isolating policies",
			policies: []*model.NetworkPolicy{denyA, denyB},
			want: reach.Result{Verdict: reach.Blocked, Trace: []reach.Step{{
				Layer: reach.LayerNetworkPolicy, Decision: reach.Deny,
				Reason: "isolated by deny-a, deny-b; no rule allows it",
				Rules: []reach.RuleRef{
					{Policy: denyA.Ref, Rule: -1, Source: denyA.Source},
					{Policy: denyB.Ref, Rule: -1, Source: denyB.Source},
				},
			}}},
		},
		{
			name:     "reachable lists the allowing rules",
			policies: []*model.NetworkPolicy{denyA, allow},
			want: reach.Result{Verdict: reach.Reachable, Trace: []reach.Step{{
				Layer: reach.LayerNetworkPolicy, Decision: reach.Allow,
				Reason: "isolated by deny-a, allow-imds; allowed by allow-imds egress rule 1, allow-imds egress rule 2",
				Rules: []reach.RuleRef{
					{Policy: allow.Ref, Rule: 1, Source: allow.EgressRules[1].Source, Why: "ipBlock 169.254.0.0/16 contains 169.254.169.254, port 80/TCP"},
					{Policy: allow.Ref, Rule: 2, Source: allow.EgressRules[2].Source, Why: "ipBlock 169.254.169.254/32 contains 169.254.169.254, no `ports` (every port)"},
				},
			}}},
		},
		{
			name: "not isolated",
			want: reach.Result{Verdict: reach.Reachable, Trace: []reach.Step{{
				Layer: reach.LayerNetworkPolicy, Decision: reach.NoOpinion,
				Reason: "no NetworkPolicy selects the pod for egress, so all egress is allowed",
			}}},
		},
		{
			name:     "host network",
			policies: []*model.NetworkPolicy{denyA},
			pod:      model.PodTemplate{HostNetwork: true},
			want: reach.Result{Verdict: reach.Reachable, Trace: []reach.Step{{
				Layer: reach.LayerHostNetwork, Decision: reach.Allow,
				Reason: "the pod uses the host network, so NetworkPolicy does not apply to it",
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := model.NewInventory()
			inv.NetworkPolicies = tt.policies
			inv.Workloads = []*model.Workload{workload("app", withDefaultLabels(tt.pod))}
			a := reach.Evaluate(inv, allTargets)
			got := a.Workloads[0].Results[targetIndex(t, imds4)]
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("result for %s (-got +want):\n%s", imds4, diff)
			}
		})
	}
}

// TestEngineSelection checks which policies select which workloads, across
// templates and namespaces.
func TestEngineSelection(t *testing.T) {
	web := selecting(policy(t, "web", []string{"Egress"}), "app", "web")
	all := policy(t, "all", []string{"Egress"})
	ingress := policy(t, "ingress", []string{"Ingress"})
	other := policy(t, "other-ns", []string{"Egress"})
	other.Ref.Namespace = "other"
	inv := model.NewInventory()
	inv.NetworkPolicies = []*model.NetworkPolicy{web, all, ingress, other}
	a := workload("a", model.PodTemplate{Labels: model.Labels{"app": "web"}})
	b := workload("b", model.PodTemplate{Labels: model.Labels{"app": "db"}}, model.PodTemplate{Labels: model.Labels{"app": "web"}})
	c := workload("c", model.PodTemplate{Labels: model.Labels{"app": "db"}})
	inv.Workloads = []*model.Workload{a, b, c}
	an := reach.Evaluate(inv, allTargets)

	gotPolicies := map[string][]string{}
	for _, wr := range an.Workloads {
		gotPolicies[wr.Workload.Ref.Name] = refNames(wr.Policies)
	}
	wantPolicies := map[string][]string{"a": {"web", "all"}, "b": {"web", "all"}, "c": {"all"}}
	if diff := cmp.Diff(gotPolicies, wantPolicies); diff != "" {
		t.Errorf("Policies (-got +want):\n%s", diff)
	}
	gotSelects := map[string][]string{}
	for np, wrs := range an.Selects {
		for _, wr := range wrs {
			gotSelects[np.Ref.Name] = append(gotSelects[np.Ref.Name], wr.Workload.Ref.Name)
		}
	}
	wantSelects := map[string][]string{"web": {"a", "b"}, "all": {"a", "b", "c"}}
	if diff := cmp.Diff(gotSelects, wantSelects); diff != "" {
		t.Errorf("Selects (-got +want):\n%s", diff)
	}
	// Template 0 of b is not selected by "web", so it alone is isolated by
	// "all" only; the per-template trace says so.
	i := targetIndex(t, imds4)
	if got, want := an.Workloads[1].PerTemplate[0][i].Trace[0].Reason, "isolated by all; no rule allows it"; got != want {
		t.Errorf("template 0 of %s: reason %q, want %q", b.Ref.Name, got, want)
	}
}

// policy builds a NetworkPolicy in namespace "default" selecting every pod,
// applying the API server's policyTypes defaulting: omitted policyTypes
// means Ingress, plus Egress when there are egress rules.
func policy(t *testing.T, name string, policyTypes []string, rules ...model.EgressRule) *model.NetworkPolicy {
	t.Helper()
	np := &model.NetworkPolicy{
		Ref:         model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "default", Name: name},
		PodSelector: *sel(t),
		Source:      model.Source{File: name + ".yaml", Line: 1},
	}
	for i, r := range rules {
		r.Index = i
		r.Source = np.Source.At(10 + i)
		np.EgressRules = append(np.EgressRules, r)
	}
	if policyTypes == nil {
		np.Ingress, np.Egress = true, len(rules) > 0
	}
	for _, pt := range policyTypes {
		switch pt {
		case "Ingress":
			np.Ingress = true
		case "Egress":
			np.Egress = true
		default:
			t.Fatalf("policy %s: unknown policyType %q", name, pt)
		}
	}
	return np
}

// selecting narrows a policy's podSelector to one label.
func selecting(np *model.NetworkPolicy, key, value string) *model.NetworkPolicy {
	np.PodSelector = model.Selector{MatchLabels: map[string]string{key: value}}
	if err := compileSelector(&np.PodSelector); err != nil {
		panic(err)
	}
	return np
}

// sel returns an empty selector, `{}`, which selects everything.
func sel(t *testing.T) *model.Selector {
	t.Helper()
	s := &model.Selector{}
	if err := compileSelector(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func rule(to []model.Peer, ports ...model.Port) model.EgressRule {
	return model.EgressRule{To: to, Ports: ports}
}

func peers(ps ...model.Peer) []model.Peer { return ps }

func block(cidr string, except ...string) model.Peer {
	b := &model.IPBlock{CIDR: netip.MustParsePrefix(cidr), RawCIDR: cidr, RawExcept: except}
	for _, e := range except {
		b.Except = append(b.Except, netip.MustParsePrefix(e))
	}
	return model.Peer{IPBlock: b}
}

func ambiguous(p model.Peer, why string) model.Peer {
	p.IPBlock.Ambiguous = why
	return p
}

func tcp(n int32) model.Port { return model.Port{Protocol: model.TCP, Number: n} }

// workload returns a Deployment in namespace "default" running the given
// pod shapes.
func workload(name string, templates ...model.PodTemplate) *model.Workload {
	return &model.Workload{Ref: model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "default", Name: name}, Templates: templates}
}

// withDefaultLabels labels an unlabelled pod app=web.
func withDefaultLabels(p model.PodTemplate) model.PodTemplate {
	if p.Labels == nil {
		p.Labels = model.Labels{"app": "web"}
	}
	return p
}

// every returns the same verdict for every target.
func every(v reach.Verdict) map[string]reach.Verdict {
	out := map[string]reach.Verdict{}
	for _, tg := range allTargets {
		out[tg.String()] = v
	}
	return out
}

// verdicts picks from results the targets named in want.
func verdicts(results []reach.Result, want map[string]reach.Verdict) map[string]reach.Verdict {
	got := map[string]reach.Verdict{}
	for i, tg := range allTargets {
		if _, ok := want[tg.String()]; ok {
			got[tg.String()] = results[i].Verdict
		}
	}
	return got
}

func targetIndex(t *testing.T, s string) int {
	t.Helper()
	return targetIndexIn(t, allTargets, s)
}

func targetIndexIn(t *testing.T, targets []reach.Target, s string) int {
	t.Helper()
	for i, tg := range targets {
		if tg.String() == s {
			return i
		}
	}
	t.Fatalf("no target %s", s)
	return -1
}

func refNames(ps []*model.NetworkPolicy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Ref.Name)
	}
	return out
}
