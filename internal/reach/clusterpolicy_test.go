package reach_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/reach"
)

// cnp writes a ClusterNetworkPolicy on every namespace in a tier, with the
// given priority and egress rules (YAML flow sequence items).
func cnp(name, tier string, priority int, rules ...string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n  tier: " + tier +
		"\n  priority: " + strconv.Itoa(priority) + "\n  subject: {namespaces: {}}\n  egress: [" + strings.Join(rules, ", ") + "]\n"
}

const (
	acceptIMDS4 = "{action: Accept, to: [{networks: [169.254.169.254/32]}]}"
	allowIMDS4  = "{action: Allow, to: [{networks: [169.254.169.254/32]}]}"
	denyIMDS4   = "{action: Deny, to: [{networks: [169.254.169.254/32]}]}"
	// storyDNS is the egress rule of the API's user story 2: Accept to the
	// kube-dns pods.
	storyDNS = "{name: allow-kube-dns-egress, action: Accept, to: [{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {app: kube-dns}}}}]}"
	// storyPass is the egress rule of user story 3: Pass to a service's
	// pods, by port number and by named port.
	storyPass = "{action: Pass, to: [{pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: bar-ns-1}}, podSelector: {matchLabels: {app: svc-pub}}}}], " +
		"protocols: [{tcp: {destinationPort: {number: 8080}}}, {destinationNamedPort: web-alt}, {udp: {destinationPort: {number: 53}}}]}"
)

// TestClusterNetworkPolicies walks the v1alpha2 ClusterNetworkPolicy
// egress semantics for the metadata targets: the Admin tier before
// NetworkPolicy and the Baseline tier after it, Accept, Deny and Pass in
// both, protocols, the API reference's user stories, and the order (none)
// between the Admin tier and AdminNetworkPolicy. want names verdicts;
// layers the steps of the IPv4 IMDS trace.
func TestClusterNetworkPolicies(t *testing.T) {
	tests := []struct {
		name   string
		docs   []string
		want   map[string]reach.Verdict
		layers string
	}{
		{
			name:   "user story 2: an Accept to the DNS pods does not match the metadata address",
			docs:   []string{cnp("cluster-wide-allow-example", "Admin", 30, storyDNS), npDeny},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:no-opinion > NetworkPolicy:deny",
		},
		{
			name:   "user story 3: a Pass to pods, by port and named port, does not match either",
			docs:   []string{cnp("pub-svc-delegate-example", "Admin", 20, storyPass), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "AdminNetworkPolicy:no-opinion > NetworkPolicy:allow",
		},
		{
			name:   "user story 5: a Baseline tier default deny, which a NetworkPolicy overrides",
			docs:   []string{cnp("default", "Baseline", 10, "{action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}"), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Reachable},
			layers: "NetworkPolicy:allow",
		},
		{
			name:   "user story 5 on a pod no NetworkPolicy isolates",
			docs:   []string{cnp("default", "Baseline", 10, "{action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked},
			layers: "NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:deny",
		},
		{
			name:   "an Admin tier Deny wins over a NetworkPolicy that allows everything",
			docs:   []string{cnp("deny", "Admin", 10, denyIMDS), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "an Admin tier Accept wins over a NetworkPolicy that denies everything",
			docs:   []string{cnp("accept", "Admin", 10, acceptIMDS4), npDeny},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:allow",
		},
		{
			name:   "an Admin tier Pass goes to NetworkPolicy, then to the Baseline tier",
			docs:   []string{cnp("pass", "Admin", 1, "{action: Pass, to: [{networks: [169.254.0.0/16]}]}", denyIMDS), cnp("base", "Baseline", 1, denyIMDS4)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:no-opinion > NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:deny",
		},
		{
			name: "a Baseline tier Pass skips the tier's later rules and policies: the traffic is allowed",
			docs: []string{
				cnp("pass", "Baseline", 1, "{action: Pass, to: [{networks: [169.254.169.254/32]}], protocols: [{tcp: {destinationPort: {range: {start: 79, end: 81}}}}]}",
					"{action: Deny, to: [{networks: [169.254.0.0/16]}]}"),
				cnp("later", "Baseline", 2, denyIMDS),
			},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked, podIdent4: reach.Blocked},
			layers: "NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:allow",
		},
		{
			name:   "Baseline tier policies are checked by priority",
			docs:   []string{cnp("deny-later", "Baseline", 20, denyIMDS4), cnp("accept-first", "Baseline", 5, acceptIMDS4)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:allow",
		},
		{
			name:   "two Baseline tier policies of one priority that disagree",
			docs:   []string{cnp("a", "Baseline", 5, denyIMDS4), cnp("b", "Baseline", 5, acceptIMDS4)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown},
			layers: "NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:unknown",
		},
		{
			name:   "protocols: a range, and a protocol that is not the target's",
			docs:   []string{cnp("ports", "Admin", 1, "{action: Deny, to: [{networks: [169.254.0.0/16]}], protocols: [{udp: {destinationPort: {range: {start: 1, end: 1024}}}}, {tcp: {destinationPort: {number: 80}}}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Blocked, dnsTCP: reach.Reachable, wireHost: reach.Reachable},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "a domain name Accept may resolve to the metadata address",
			docs:   []string{cnp("gcp", "Admin", 1, "{action: Accept, to: [{domainNames: [metadata.google.internal]}]}", denyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Unknown},
			layers: "AdminNetworkPolicy:unknown",
		},
		{
			name:   "no order between an AdminNetworkPolicy and an Admin tier ClusterNetworkPolicy that disagree",
			docs:   []string{anp("anp-allow", 50, allowIMDS4), cnp("cnp-deny", "Admin", 1, denyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:unknown",
		},
		{
			name:   "an AdminNetworkPolicy and an Admin tier ClusterNetworkPolicy that agree",
			docs:   []string{anp("anp-deny", 50, denyIMDS4), cnp("cnp-deny", "Admin", 1, denyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "a Pass of one kind does not stop a Deny of the other, which may come first",
			docs:   []string{anp("anp-pass", 1, "{action: Pass, to: [{networks: [169.254.169.254/32]}]}"), cnp("cnp-deny", "Admin", 50, denyIMDS), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:unknown > NetworkPolicy:allow",
		},
		{
			name:   "no order between the BaselineAdminNetworkPolicy and the Baseline tier",
			docs:   []string{banp(denyIMDS4), cnp("base", "Baseline", 1, acceptIMDS4)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown},
			layers: "NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:unknown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkVerdicts(t, append(tt.docs, adminPod), tt.want, tt.layers) })
	}
}

// TestClusterNetworkPolicyTrace checks that the admin layer names the
// ClusterNetworkPolicy, its tier and priority, and the rule that decided,
// and says why when the two admin kinds disagree.
func TestClusterNetworkPolicyTrace(t *testing.T) {
	a := evaluateYAML(t, cnp("deny-imds", "Admin", 10, "{name: pass-dns, action: Pass, to: [{networks: [169.254.20.10/32]}]}", denyIMDS), adminPod)
	got := a.Workloads[0].Results[targetIndex(t, imds4)]
	want := reach.Result{Verdict: reach.Blocked, Trace: []reach.Step{{
		Layer: reach.LayerAdmin, Decision: reach.Deny,
		Reason: "selected by ClusterNetworkPolicy deny-imds (Admin tier, priority 10); denied by deny-imds egress rule 1 (Deny)",
		Rules: []reach.RuleRef{{Policy: got.Trace[0].Rules[0].Policy, Rule: 1, Source: got.Trace[0].Rules[0].Source,
			Why: "network 169.254.169.254/32 contains 169.254.169.254, no `ports` (every port)"}},
	}}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("result (-got +want):\n%s", diff)
	}
	if k := got.Trace[0].Rules[0].Policy.Kind; k != "ClusterNetworkPolicy" {
		t.Errorf("rule's policy kind %q", k)
	}

	a = evaluateYAML(t, anp("anp-allow", 50, allowIMDS4), cnp("cnp-deny", "Admin", 1, denyIMDS), adminPod)
	step := a.Workloads[0].Results[targetIndex(t, imds4)].Trace[0]
	if !strings.Contains(step.Reason, "anp-allow egress rule 0 (Allow), cnp-deny egress rule 0 (Deny)") ||
		!strings.Contains(step.Reason, "have no order between them") {
		t.Errorf("reason %q: want both rules and why either may decide", step.Reason)
	}
}
