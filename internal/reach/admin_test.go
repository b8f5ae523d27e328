package reach_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// The pod every admin table test asks about: app=web in namespace "web".
const adminPod = `
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {env: prod}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
`

const (
	anpHead  = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
	banpHead = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n"
	npDeny   = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: web}\nspec: {podSelector: {}, policyTypes: [Egress]}\n"
	npAll    = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all, namespace: web}\nspec: {podSelector: {}, egress: [{}]}\n"
)

// anp writes an AdminNetworkPolicy on every namespace with the given
// priority and egress rules (YAML flow sequence items).
func anp(name string, priority int, rules ...string) string {
	return anpHead + "metadata: {name: " + name + "}\nspec:\n  priority: " + strconv.Itoa(priority) +
		"\n  subject: {namespaces: {}}\n  egress: [" + strings.Join(rules, ", ") + "]\n"
}

func banp(rules ...string) string {
	return banpHead + "spec:\n  subject: {namespaces: {}}\n  egress: [" + strings.Join(rules, ", ") + "]\n"
}

const denyIMDS = "{action: Deny, to: [{networks: [169.254.169.254/32, fd00:ec2::254/128]}]}"

// TestAdminPolicies walks the AdminNetworkPolicy and
// BaselineAdminNetworkPolicy egress semantics of the v1alpha1 API
// (priority, rule order, Allow, Deny and Pass, the baseline after
// NetworkPolicy, subjects and peers) for the metadata targets. want names
// the verdict for IPv4 and IPv6 IMDS; layers the steps of the IPv4 trace.
func TestAdminPolicies(t *testing.T) {
	tests := []struct {
		name   string
		docs   []string
		want   map[string]reach.Verdict
		layers string
	}{
		{
			name:   "an admin Deny wins over a NetworkPolicy that allows everything",
			docs:   []string{anp("deny-imds", 10, denyIMDS), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Reachable},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "an admin Allow wins over a NetworkPolicy that denies everything",
			docs:   []string{anp("allow-imds", 10, "{action: Allow, to: [{networks: [169.254.169.254/32]}], ports: [{portNumber: {protocol: TCP, port: 80}}]}"), npDeny},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:allow",
		},
		{
			name:   "Pass hands the decision to NetworkPolicy",
			docs:   []string{anp("pass", 10, "{action: Pass, to: [{networks: [0.0.0.0/0]}]}", denyIMDS), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:no-opinion > NetworkPolicy:allow",
		},
		{
			name:   "Pass to a pod no NetworkPolicy isolates goes to the baseline",
			docs:   []string{anp("pass", 10, "{action: Pass, to: [{networks: [169.254.0.0/16]}]}"), banp("{action: Deny, to: [{networks: [169.254.169.254/32]}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Reachable},
			layers: "AdminNetworkPolicy:no-opinion > NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:deny",
		},
		{
			name:   "the baseline does not apply to a pod a NetworkPolicy isolates",
			docs:   []string{npAll, banp("{action: Deny, to: [{networks: [169.254.169.254/32]}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:allow",
		},
		{
			name:   "the baseline allows what none of its rules matches",
			docs:   []string{banp("{action: Deny, to: [{networks: [10.0.0.0/8]}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion > BaselineAdminNetworkPolicy:no-opinion",
		},
		{
			name:   "the lower priority value is checked first",
			docs:   []string{anp("deny-later", 20, denyIMDS), anp("allow-first", 5, "{action: Allow, to: [{networks: [169.254.169.254/32]}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:allow",
		},
		{
			name:   "within a policy the first matching rule decides",
			docs:   []string{anp("ordered", 1, "{action: Allow, to: [{networks: [169.254.169.254/32]}], ports: [{portNumber: {port: 80}}]}", "{action: Deny, to: [{networks: [169.254.0.0/16]}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, podIdent4: reach.Blocked, dnsUDP: reach.Blocked},
			layers: "AdminNetworkPolicy:allow",
		},
		{
			name:   "two policies of one priority that disagree: either may apply",
			docs:   []string{anp("a", 7, denyIMDS), anp("b", 7, "{action: Allow, to: [{networks: [169.254.169.254/32]}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Blocked},
			layers: "AdminNetworkPolicy:unknown",
		},
		{
			name:   "two policies of one priority whose outcomes end the same",
			docs:   []string{anp("a", 7, denyIMDS), anp("b", 7, "{action: Pass, to: [{networks: [169.254.169.254/32]}]}"), npDeny},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "AdminNetworkPolicy:unknown > NetworkPolicy:deny",
		},
		{
			name:   "a domain name may resolve to the metadata address",
			docs:   []string{anp("gcp", 1, "{action: Allow, to: [{domainNames: [metadata.google.internal]}]}", denyIMDS)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Unknown},
			layers: "AdminNetworkPolicy:unknown",
		},
		{
			name:   "namespaces, pods and nodes peers never match a metadata address",
			docs:   []string{anp("peers", 1, "{action: Deny, to: [{namespaces: {}}, {pods: {namespaceSelector: {}, podSelector: {}}}, {nodes: {}}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "AdminNetworkPolicy:no-opinion > NetworkPolicy:no-opinion",
		},
		{
			name:   "a named port never matches a metadata address",
			docs:   []string{anp("named", 1, "{action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {}}}], ports: [{namedPort: http}]}", "{action: Deny, to: [{networks: [169.254.0.0/16]}], ports: [{portRange: {start: 1, end: 1024}}]}")},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Reachable, dnsTCP: reach.Blocked, wireHost: reach.Reachable},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "a subject on pods that the pod does not meet",
			docs:   []string{anpHead + "metadata: {name: db-only}\nspec:\n  priority: 1\n  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}\n  egress: [" + denyIMDS + "]\n"},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "a subject on namespace labels the namespace has",
			docs:   []string{anpHead + "metadata: {name: prod}\nspec:\n  priority: 1\n  subject: {namespaces: {matchLabels: {env: prod}}}\n  egress: [" + denyIMDS + "]\n"},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "the input leaves a namespace's labels unknown",
			docs:   []string{anpHead + "metadata: {name: team}\nspec:\n  priority: 1\n  subject: {namespaces: {matchLabels: {team: a}}}\n  egress: [" + denyIMDS + "]\n"},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "AdminNetworkPolicy:deny",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := tt.docs
			if tt.name == "the input leaves a namespace's labels unknown" {
				// The Namespace object is left out, so its labels are not known.
				docs = append(docs, strings.SplitN(adminPod, "---", 2)[1])
				tt.want = map[string]reach.Verdict{imds4: reach.Unknown}
				tt.layers = "AdminNetworkPolicy:unknown > NetworkPolicy:no-opinion"
			} else {
				docs = append(docs, adminPod)
			}
			checkVerdicts(t, docs, tt.want, tt.layers)
		})
	}
}

// checkVerdicts evaluates YAML documents holding one workload and checks
// its verdicts for the targets in want, and the layers and decisions of
// its IPv4 IMDS trace ("AdminNetworkPolicy:deny > ...").
func checkVerdicts(t *testing.T, docs []string, want map[string]reach.Verdict, layers string) {
	t.Helper()
	res := evaluateYAML(t, docs...).Workloads[0].Results
	if diff := cmp.Diff(verdicts(res, want), want); diff != "" {
		t.Errorf("verdicts (-got +want):\n%s", diff)
	}
	var got []string
	for _, s := range res[targetIndex(t, imds4)].Trace {
		got = append(got, string(s.Layer)+":"+string(s.Decision))
	}
	if g := strings.Join(got, " > "); g != layers {
		t.Errorf("trace layers for %s:\n got %s\nwant %s", imds4, g, layers)
	}
}

// TestAdminTrace checks that the admin layers name the policy and rule
// that decided.
func TestAdminTrace(t *testing.T) {
	a := evaluateYAML(t, anp("deny-imds", 10, "{name: pass-dns, action: Pass, to: [{networks: [169.254.20.10/32]}]}", denyIMDS), adminPod)
	got := a.Workloads[0].Results[targetIndex(t, imds4)]
	want := reach.Result{Verdict: reach.Blocked, Trace: []reach.Step{{
		Layer: reach.LayerAdmin, Decision: reach.Deny,
		Reason: "selected by deny-imds (priority 10); denied by deny-imds egress rule 1 (Deny)",
		Rules: []reach.RuleRef{{Policy: got.Trace[0].Rules[0].Policy, Rule: 1, Source: got.Trace[0].Rules[0].Source,
			Why: "network 169.254.169.254/32 contains 169.254.169.254, no `ports` (every port)"}},
	}}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("result (-got +want):\n%s", diff)
	}
	if src := got.Trace[0].Rules[0].Source.String(); !strings.HasSuffix(src, ".yaml:7") {
		t.Errorf("rule source %s, want line 7, where the egress rules are", src)
	}
}

// TestAdminHostNetwork checks that admin policies leave host-network pods
// alone: the API's subjects never select them.
func TestAdminHostNetwork(t *testing.T) {
	pod := strings.Replace(adminPod, "spec: {containers:", "spec: {hostNetwork: true, containers:", 1)
	a := evaluateYAML(t, anp("deny-imds", 10, denyIMDS), banp(denyIMDS), pod)
	got := a.Workloads[0].Results[targetIndex(t, imds4)]
	if got.Verdict != reach.Reachable || len(got.Trace) != 1 || got.Trace[0].Layer != reach.LayerHostNetwork {
		t.Errorf("host-network pod: %s %+v, want Reachable by the hostNetwork layer alone", got.Verdict, got.Trace)
	}
}

// TestAdminIncomplete checks that an admin Deny is not trusted when some
// input could not be read: a policy not read may have allowed it first.
func TestAdminIncomplete(t *testing.T) {
	broken := anpHead + "metadata: {name: broken}\nspec: {priority: 1, subject: {namespaces: {}}, egress: [{action: Allow, to: [{networks: [nope]}]}]}\n"
	a := evaluateYAML(t, anp("deny-imds", 10, denyIMDS), broken, adminPod)
	if got := a.Workloads[0].Results[targetIndex(t, imds4)]; got.Verdict != reach.Unknown {
		t.Errorf("verdict %s, want Unknown", got.Verdict)
	}
}

// evaluateYAML loads YAML documents through the manifest loader and
// evaluates them; only the documents that are meant to be broken may fail.
func evaluateYAML(t *testing.T, docs ...string) *reach.Analysis {
	t.Helper()
	return evaluateYAMLOn(t, allTargets, docs...)
}

// evaluateYAMLOn is evaluateYAML for other targets.
func evaluateYAMLOn(t *testing.T, targets []reach.Target, docs ...string) *reach.Analysis {
	t.Helper()
	return reach.Evaluate(loadYAML(t, docs...), targets)
}

// loadYAML loads YAML documents through the manifest loader; only the
// documents that are meant to be broken may fail.
func loadYAML(t *testing.T, docs ...string) *model.Inventory {
	t.Helper()
	file := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(docs, "\n---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	res := manifest.Load(context.Background(), []string{file}, manifest.Options{})
	for _, e := range res.Errors {
		if !strings.Contains(e.Error(), "broken") {
			t.Fatalf("loading: %s", e)
		}
	}
	return res.Inventory
}
