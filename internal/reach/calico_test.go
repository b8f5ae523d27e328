package reach_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

const (
	gnpHead      = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\n"
	calicoNPHead = "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\n"
	tierHead     = "apiVersion: projectcalico.org/v3\nkind: Tier\n"

	// Calico egress rules, as YAML flow items.
	cDenyIMDS  = "{action: Deny, destination: {nets: [169.254.169.254/32, 'fd00:ec2::254/128']}}"
	cAllowIMDS = "{action: Allow, destination: {nets: [169.254.169.254/32]}}"
	cPass      = "{action: Pass}"
	cAllow     = "{action: Allow}"
)

// gnp writes a GlobalNetworkPolicy; spec holds extra spec fields as a flow
// mapping's inside ("order: 10, tier: security").
func gnp(name, spec string, rules ...string) string {
	if spec != "" {
		spec += ", "
	}
	return gnpHead + "metadata: {name: " + name + "}\nspec: {" + spec + "egress: [" + strings.Join(rules, ", ") + "]}\n"
}

// cnp writes a Calico NetworkPolicy in namespace web.
func calicoNP(name, spec string, rules ...string) string {
	if spec != "" {
		spec += ", "
	}
	return calicoNPHead + "metadata: {name: " + name + ", namespace: web}\nspec: {" + spec + "egress: [" + strings.Join(rules, ", ") + "]}\n"
}

func tier(name, spec string) string {
	return tierHead + "metadata: {name: " + name + "}\nspec: {" + spec + "}\n"
}

// TestCalicoPolicies walks Calico's egress semantics, after the examples of
// the NetworkPolicy, GlobalNetworkPolicy and Tier references and the
// policy tiers guide: rule order and actions, policy order, tiers and the
// end-of-tier deny, Kubernetes NetworkPolicy at order 1000 of the default
// tier, the admin tiers, selectors and rule criteria. want names the
// verdicts; layers the steps of the IPv4 metadata trace.
func TestCalicoPolicies(t *testing.T) {
	tests := []struct {
		name   string
		docs   []string
		pod    string // defaults to adminPod
		want   map[string]reach.Verdict
		layers string
	}{
		{
			name:   "a policy that selects the pod denies what no rule decides (end of tier)",
			docs:   []string{gnp("deny-imds", "", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Blocked},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "a last Pass rule hands the rest to the profile, which allows",
			docs:   []string{gnp("deny-imds", "", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "a tier with defaultAction Pass passes what no rule decides",
			docs:   []string{tier("security", "order: 300, defaultAction: Pass"), gnp("security.deny-imds", "tier: security", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "lower order first: the Allow at 10 wins",
			docs:   []string{gnp("b-deny", "order: 20", cDenyIMDS, cPass), gnp("a-allow", "order: 10", cAllowIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:allow",
		},
		{
			name:   "lower order first: the Deny at 5 wins",
			docs:   []string{gnp("b-deny", "order: 5", cDenyIMDS, cPass), gnp("a-allow", "order: 10", cAllowIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "a policy with no order comes after every ordered one",
			docs:   []string{gnp("a-allow-all", "", cAllow), gnp("z-deny", "order: 100", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "equal orders go by name",
			docs:   []string{gnp("b-deny", "order: 10", cDenyIMDS), gnp("a-allow", "order: 10", cAllowIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked},
			layers: "CalicoPolicy:allow",
		},
		{
			name:   "Log goes on to the next rule",
			docs:   []string{gnp("log", "", "{action: Log}", cDenyIMDS, cAllow)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name: "a lower-order tier decides first",
			docs: []string{tier("security", "order: 100"), gnp("security.deny-imds", "tier: security", cDenyIMDS, cPass),
				gnp("allow-all", "", cAllow)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name: "Pass skips to the next tier, where the default tier allows",
			docs: []string{tier("security", "order: 100"), gnp("security.pass", "tier: security", cPass),
				gnp("allow-imds", "", cAllowIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, dnsUDP: reach.Blocked},
			layers: "CalicoPolicy:no-opinion > CalicoPolicy:allow",
		},
		{
			name:   "a Calico policy at order 500 comes before Kubernetes NetworkPolicy (order 1000)",
			docs:   []string{calicoNP("deny-imds", "order: 500", cDenyIMDS), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "a Calico policy at order 2000 comes after Kubernetes NetworkPolicy",
			docs:   []string{calicoNP("deny-imds", "order: 2000", cDenyIMDS), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "CalicoPolicy:allow",
		},
		{
			name:   "a NetworkPolicy with no rule for the target leaves it to the next policy",
			docs:   []string{calicoNP("allow-dns", "order: 2000", "{action: Allow, protocol: UDP, destination: {ports: [53]}}"), npDeny},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "the adminnetworkpolicy tier (order 1000) comes after a tier at 100",
			docs:   []string{tier("security", "order: 100"), gnp("security.allow-all", "tier: security", cAllow), anp("deny-imds", 10, denyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "CalicoPolicy:allow",
		},
		{
			name:   "an admin Pass goes on to a tier at 2000, before the default tier",
			docs:   []string{tier("late", "order: 2000"), gnp("late.deny-imds", "tier: late", cDenyIMDS, cPass), anp("pass", 10, "{action: Pass, to: [{networks: [0.0.0.0/0]}]}"), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "AdminNetworkPolicy:no-opinion > CalicoPolicy:deny",
		},
		{
			name:   "the baseline tier comes after the default tier passes",
			docs:   []string{gnp("pass-all", "", cPass), banp(denyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:no-opinion > BaselineAdminNetworkPolicy:deny",
		},
		{
			name:   "namespaceSelector on projectcalico.org/name",
			docs:   []string{gnp("deny", "namespaceSelector: \"projectcalico.org/name == 'web'\"", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "namespaceSelector that selects another namespace",
			docs:   []string{gnp("deny", "namespaceSelector: \"projectcalico.org/name == 'other'\"", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "namespaceSelector on a namespace label",
			docs:   []string{gnp("deny", "namespaceSelector: \"env in {'prod', 'stage'}\"", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "the labels Calico adds: projectcalico.org/namespace and pcns.",
			docs:   []string{gnp("deny", "selector: \"projectcalico.org/namespace == 'web' && pcns.env == 'prod' && projectcalico.org/orchestrator == 'k8s'\"", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "a selector on the pod's labels that does not match",
			docs:   []string{gnp("deny", "selector: \"app != 'web'\"", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "serviceAccountSelector by name",
			docs:   []string{calicoNP("deny", "serviceAccountSelector: \"projectcalico.org/name == 'default'\"", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "serviceAccountSelector on a label imdsguard does not read",
			docs:   []string{calicoNP("deny", "serviceAccountSelector: \"role == 'x'\"", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:unknown > CalicoPolicy:allow",
		},
		{
			name:   "a Calico NetworkPolicy of another namespace",
			docs:   []string{strings.Replace(calicoNP("deny", "", cDenyIMDS), "namespace: web", "namespace: other", 1)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "an ingress-only policy does not govern egress",
			docs:   []string{gnp("ingress", "types: [Ingress]", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "a destination selector may select a network set holding the address",
			docs:   []string{gnp("dns", "", "{action: Allow, destination: {selector: \"k8s-app == 'kube-dns'\"}}", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown},
			layers: "CalicoPolicy:unknown",
		},
		{
			name:   "destination services are not evaluated",
			docs:   []string{gnp("svc", "", "{action: Allow, destination: {services: {name: x, namespace: other}}}", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown},
			layers: "CalicoPolicy:unknown",
		},
		{
			name:   "ports, protocol and a range",
			docs:   []string{gnp("ports", "", "{action: Deny, protocol: TCP, destination: {nets: [169.254.169.254/32], ports: ['1:100']}}", cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "another protocol, notPorts and a named port do not match",
			docs:   []string{gnp("ports", "", "{action: Deny, protocol: UDP, destination: {nets: [169.254.169.254/32]}}", "{action: Deny, protocol: TCP, destination: {notPorts: [80]}}", "{action: Deny, protocol: TCP, destination: {ports: [http]}}", cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Reachable},
			layers: "CalicoPolicy:no-opinion > CalicoPolicy:allow",
		},
		{
			name:   "notNets and notProtocol",
			docs:   []string{gnp("not", "", "{action: Allow, notProtocol: UDP, destination: {notNets: [169.254.0.0/16]}}", cDenyIMDS, cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, "10.0.0.1:80/TCP": reach.Reachable},
			layers: "CalicoPolicy:deny",
		},
		{
			name:   "ipVersion 6 leaves IPv4 alone",
			docs:   []string{gnp("v6", "", "{action: Deny, ipVersion: 6}", cPass)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked},
			layers: "CalicoPolicy:no-opinion > CalicoPolicy:allow",
		},
		{
			name:   "a tier the input does not declare has an unknown order",
			docs:   []string{gnp("ghost.deny", "tier: ghost", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, dnsUDP: reach.Unknown},
			layers: "CalicoPolicy:unknown",
		},
		{
			name:   "applyOnForward acts on forwarded traffic through host endpoints",
			docs:   []string{gnp("fwd", "applyOnForward: true, selector: \"has(node)\"", cDenyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, dnsUDP: reach.Unknown},
			layers: "NetworkPolicy:no-opinion > CalicoPolicy:unknown",
		},
		{
			name:   "a GlobalNetworkPolicy may apply to host endpoints, so to host-network pods",
			docs:   []string{gnp("deny-imds", "", cDenyIMDS)},
			pod:    strings.Replace(adminPod, "spec: {containers:", "spec: {hostNetwork: true, containers:", 1),
			want:   map[string]reach.Verdict{imds4: reach.Unknown},
			layers: "hostNetwork:allow > CalicoPolicy:unknown",
		},
		{
			name:   "a namespaced Calico policy leaves host-network pods alone",
			docs:   []string{calicoNP("deny-imds", "", cDenyIMDS)},
			pod:    strings.Replace(adminPod, "spec: {containers:", "spec: {hostNetwork: true, containers:", 1),
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "hostNetwork:allow",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			if pod == "" {
				pod = adminPod
			}
			a := evaluateYAMLTargets(t, append(tt.docs, pod)...)
			res := a.Workloads[0].Results
			got := map[string]reach.Verdict{}
			for name := range tt.want {
				got[name] = res[targetIndexIn(t, a.Targets, name)].Verdict
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("verdicts (-got +want):\n%s", diff)
			}
			var layers []string
			for _, s := range res[targetIndexIn(t, a.Targets, imds4)].Trace {
				layers = append(layers, string(s.Layer)+":"+string(s.Decision))
			}
			if got := strings.Join(layers, " > "); got != tt.layers {
				t.Errorf("trace layers for %s:\n got %s\nwant %s", imds4, got, tt.layers)
			}
		})
	}
}

// TestCalicoTrace checks that the Calico step names the tier, the
// policies and the rule that decided, with the rule's line.
func TestCalicoTrace(t *testing.T) {
	a := evaluateYAMLTargets(t, tier("security", "order: 100"), gnp("security.deny-imds", "tier: security, order: 10", "{action: Log}", cDenyIMDS, cPass), adminPod)
	got := a.Workloads[0].Results[targetIndexIn(t, a.Targets, imds4)]
	if got.Verdict != reach.Blocked || len(got.Trace) != 1 {
		t.Fatalf("got %s %+v, want Blocked in one step", got.Verdict, got.Trace)
	}
	s := got.Trace[0]
	want := "tier security: selected by security.deny-imds (order 10); denied by security.deny-imds egress rule 1 (Deny)"
	if s.Layer != reach.LayerCalico || s.Decision != reach.Deny || s.Reason != want {
		t.Errorf("step %s %s %q, want CalicoPolicy deny %q", s.Layer, s.Decision, s.Reason, want)
	}
	if len(s.Rules) != 1 || s.Rules[0].Rule != 1 || !strings.HasSuffix(s.Rules[0].Source.String(), ".yaml:10") {
		t.Errorf("rules %+v, want rule 1 at line 10, where the rules are", s.Rules)
	}
}

// calicoTargets are the catalogue's targets and one ordinary address, to
// show what a rule does to other traffic.
var calicoTargets = append(append([]reach.Target{}, allTargets...),
	reach.Target{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Protocol: model.TCP})

// evaluateYAMLTargets is evaluateYAML over calicoTargets.
func evaluateYAMLTargets(t *testing.T, docs ...string) *reach.Analysis {
	t.Helper()
	return evaluateYAMLOn(t, calicoTargets, docs...)
}

// TestGeneratedCalicoPolicy evaluates the Calico Tier and
// GlobalNetworkPolicy that `generate` writes (its golden file): they block
// the metadata addresses against a NetworkPolicy that allows everything,
// pass the rest on, and leave exempt namespaces alone.
func TestGeneratedCalicoPolicy(t *testing.T) {
	b, err := os.ReadFile("../generate/testdata/cluster.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, d := range strings.Split(string(b), "\n---\n") {
		if strings.Contains(d, "apiVersion: projectcalico.org/v3") {
			docs = append(docs, d)
		}
	}
	if len(docs) != 2 {
		t.Fatalf("found %d Calico documents in the golden file, want the Tier and the GlobalNetworkPolicy", len(docs))
	}
	a := evaluateYAMLTargets(t, append(docs, npAll, adminPod)...)
	got := map[string]reach.Verdict{}
	want := map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Reachable}
	for name := range want {
		got[name] = a.Workloads[0].Results[targetIndexIn(t, a.Targets, name)].Verdict
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("verdicts (-got +want):\n%s", diff)
	}
	exempt := strings.ReplaceAll(adminPod, "web", "monitoring")
	a = evaluateYAMLTargets(t, append(docs, exempt)...)
	if v := a.Workloads[0].Results[targetIndexIn(t, a.Targets, imds4)].Verdict; v != reach.Reachable {
		t.Errorf("a pod of an exempt namespace: %s, want Reachable", v)
	}
}
