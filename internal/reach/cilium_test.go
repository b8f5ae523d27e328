package reach_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/reach"
)

const (
	ciliumNPHead   = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\n"
	ciliumCCNPHead = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
)

// cnp writes a CiliumNetworkPolicy in namespace "web" whose spec is the
// given YAML flow mapping body (without braces).
func ciliumNP(name, spec string) string {
	return ciliumNPHead + "metadata: {name: " + name + ", namespace: web}\nspec: {" + spec + "}\n"
}

func ciliumCCNP(name, spec string) string {
	return ciliumCCNPHead + "metadata: {name: " + name + "}\nspec: {" + spec + "}\n"
}

// TestCiliumPolicies walks the Cilium policy semantics with examples in the
// spirit of Cilium's policy documentation (layer 3 entities and CIDRs,
// layer 4 ports, deny policies, default deny), for the pod app=web in
// namespace web. want names verdicts; layers the steps of the IPv4 trace.
func TestCiliumPolicies(t *testing.T) {
	tests := []struct {
		name   string
		docs   []string
		want   map[string]reach.Verdict
		layers string
	}{
		{
			name:   "an egress section puts the pod in default deny",
			docs:   []string{ciliumNP("to-db", `endpointSelector: {matchLabels: {app: web}}, egress: [{toEndpoints: [{matchLabels: {app: db}}]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, dnsUDP: reach.Blocked},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "toEntities world allows everything outside the cluster",
			docs:   []string{ciliumNP("world", `endpointSelector: {}, egress: [{toEntities: [world]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Reachable},
			layers: "CiliumNetworkPolicy:allow",
		},
		{
			name:   "cluster, host and kube-apiserver do not include a metadata address",
			docs:   []string{ciliumNP("in-cluster", `endpointSelector: {}, egress: [{toEntities: [cluster, host, remote-node, kube-apiserver, health]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "toCIDRSet with an except carves the metadata address out",
			docs:   []string{ciliumNP("cidrset", `endpointSelector: {}, egress: [{toCIDRSet: [{cidr: 0.0.0.0/0, except: [169.254.169.254/32]}, {cidr: "::/0"}]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, podIdent4: reach.Reachable, imds6: reach.Reachable},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "toCIDR with a bare address and a port",
			docs:   []string{ciliumNP("imds", `endpointSelector: {}, egress: [{toCIDR: [169.254.169.254], toPorts: [{ports: [{port: "80", protocol: TCP}]}]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, podIdent4: reach.Blocked, imds6: reach.Blocked},
			layers: "CiliumNetworkPolicy:allow",
		},
		{
			name:   "a port range with endPort, and protocol ANY",
			docs:   []string{ciliumNP("range", `endpointSelector: {}, egress: [{toPorts: [{ports: [{port: "50", endPort: 100}]}]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, dnsUDP: reach.Reachable, wireHost: reach.Blocked},
			layers: "CiliumNetworkPolicy:allow",
		},
		{
			name:   "an empty egress rule allows nothing but isolates",
			docs:   []string{ciliumNP("deny-all", `endpointSelector: {}, egress: [{}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, dnsUDP: reach.Blocked},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "egressDeny wins over an allow of every destination",
			docs:   []string{ciliumNP("deny-imds", `endpointSelector: {}, egressDeny: [{toCIDR: [169.254.169.254/32, fd00:ec2::254/128]}], egress: [{toEntities: [all]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Blocked, podIdent4: reach.Reachable},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "egressDeny wins over a NetworkPolicy allow too",
			docs:   []string{ciliumNP("deny-imds", `endpointSelector: {}, egressDeny: [{toCIDR: [169.254.169.254/32]}]`), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, podIdent4: reach.Reachable},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "a deny-only policy is default deny as well",
			docs:   []string{ciliumNP("deny-imds", `endpointSelector: {}, egressDeny: [{toCIDR: [169.254.169.254/32]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, podIdent4: reach.Blocked},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "enableDefaultDeny egress false: the deny alone closes the target",
			docs:   []string{ciliumNP("deny-imds", `endpointSelector: {}, enableDefaultDeny: {egress: false}, egressDeny: [{toCIDR: [169.254.169.254/32]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, podIdent4: reach.Reachable},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "a Cilium allow and a NetworkPolicy isolation are unioned",
			docs:   []string{ciliumNP("allow-imds", `endpointSelector: {}, enableDefaultDeny: {egress: false}, egress: [{toCIDR: [169.254.169.254/32]}]`), npDeny},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, podIdent4: reach.Blocked},
			layers: "CiliumNetworkPolicy:allow",
		},
		{
			name:   "a NetworkPolicy allow re-opens what a Cilium default deny closes",
			docs:   []string{ciliumNP("to-db", `endpointSelector: {}, egress: [{toEndpoints: [{matchLabels: {app: db}}]}]`), npAll},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "CiliumNetworkPolicy:allow",
		},
		{
			name:   "a layer 7 http rule decides request by request",
			docs:   []string{ciliumNP("l7", `endpointSelector: {}, egress: [{toCIDR: [169.254.169.254/32], toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET, path: "/latest/meta-data/placement/.*"}]}}]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, podIdent4: reach.Blocked},
			layers: "CiliumNetworkPolicy:unknown",
		},
		{
			name:   "toFQDNs may resolve to a metadata address",
			docs:   []string{ciliumNP("fqdn", `endpointSelector: {}, egress: [{toFQDNs: [{matchName: metadata.google.internal}]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown, imds6: reach.Unknown},
			layers: "CiliumNetworkPolicy:unknown",
		},
		{
			name:   "a selector that does not select the pod leaves it alone",
			docs:   []string{ciliumNP("db-only", `endpointSelector: {matchLabels: {app: db}}, egress: [{}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "a k8s: source prefix on a selector key",
			docs:   []string{ciliumNP("prefixed", `endpointSelector: {matchLabels: {"k8s:app": web}}, egress: [{}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "a CiliumNetworkPolicy selects only in its own namespace",
			docs:   []string{ciliumNPHead + "metadata: {name: other, namespace: other}\nspec: {endpointSelector: {}, egress: [{}]}\n"},
			want:   map[string]reach.Verdict{imds4: reach.Reachable},
			layers: "NetworkPolicy:no-opinion",
		},
		{
			name:   "a clusterwide policy selects namespaces by the namespace label",
			docs:   []string{ciliumCCNP("deny-imds", `endpointSelector: {matchExpressions: [{key: "k8s:io.kubernetes.pod.namespace", operator: NotIn, values: [kube-system]}]}, egressDeny: [{toCIDR: [169.254.169.254/32]}], egress: [{toEntities: [all]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, podIdent4: reach.Reachable},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "a clusterwide policy on namespace labels",
			docs:   []string{ciliumCCNP("prod", `endpointSelector: {matchLabels: {io.cilium.k8s.namespace.labels.env: prod}}, egressDeny: [{toEntities: [world]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked},
			layers: "CiliumNetworkPolicy:deny",
		},
		{
			name:   "specs: every rule applies",
			docs:   []string{ciliumNPHead + "metadata: {name: two, namespace: web}\nspecs:\n- {endpointSelector: {}, egress: [{toEntities: [cluster]}]}\n- {endpointSelector: {}, egress: [{toCIDR: [169.254.169.254/32]}]}\n"},
			want:   map[string]reach.Verdict{imds4: reach.Reachable, podIdent4: reach.Blocked},
			layers: "CiliumNetworkPolicy:allow",
		},
		{
			name:   "an AdminNetworkPolicy Deny comes before Cilium",
			docs:   []string{anp("deny-imds", 10, denyIMDS), ciliumNP("world", `endpointSelector: {}, egress: [{toEntities: [world]}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Blocked, podIdent4: reach.Reachable},
			layers: "AdminNetworkPolicy:deny",
		},
		{
			name:   "a selector on a label Cilium leaves out of identities may not select",
			docs:   []string{ciliumNP("hash", `endpointSelector: {matchLabels: {pod-template-hash: abc}}, egress: [{}]`)},
			want:   map[string]reach.Verdict{imds4: reach.Unknown},
			layers: "CiliumNetworkPolicy:unknown",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLayers(t, evaluateYAML(t, append(tt.docs, adminPod)...).Workloads[0].Results, tt.want, tt.layers)
		})
	}
}

// checkLayers compares the verdicts of a pod shape with want, and the
// layers and decisions of its IPv4 IMDS trace with layers,
// "AdminNetworkPolicy:deny > NetworkPolicy:allow".
func checkLayers(t *testing.T, res []reach.Result, want map[string]reach.Verdict, layers string) {
	t.Helper()
	if diff := cmp.Diff(verdicts(res, want), want); diff != "" {
		t.Errorf("verdicts (-got +want):\n%s", diff)
	}
	trace := res[targetIndex(t, imds4)].Trace
	var got []string
	for _, s := range trace {
		got = append(got, string(s.Layer)+":"+string(s.Decision))
	}
	if g := strings.Join(got, " > "); g != layers {
		t.Errorf("trace layers for %s:\n got %s\nwant %s\ntrace:\n%s", imds4, g, layers, formatTrace(trace))
	}
}

// TestCiliumTrace checks that the Cilium step names the rule that decided,
// by its path in the object and its line.
func TestCiliumTrace(t *testing.T) {
	doc := ciliumNPHead + "metadata: {name: deny-imds, namespace: web}\nspecs:\n- endpointSelector: {}\n  egress: [{toEntities: [all]}]\n  egressDeny:\n  - toCIDRSet: [{cidr: 169.254.0.0/16}]\n"
	a := evaluateYAML(t, doc, adminPod)
	got := a.Workloads[0].Results[targetIndex(t, imds4)]
	if got.Verdict != reach.Blocked || len(got.Trace) != 1 {
		t.Fatalf("got %s with trace:\n%s", got.Verdict, formatTrace(got.Trace))
	}
	s := got.Trace[0]
	wantReason := "selected by CiliumNetworkPolicy deny-imds specs[0]; denied by deny-imds specs[0].egressDeny[0] (egressDeny takes precedence over every allow)"
	if s.Layer != reach.LayerCilium || s.Decision != reach.Deny || s.Reason != wantReason {
		t.Errorf("step %s %s: %q, want %q", s.Layer, s.Decision, s.Reason, wantReason)
	}
	if len(s.Rules) != 1 || s.Rules[0].Rule != 1 || !strings.HasSuffix(s.Rules[0].Source.String(), ".yaml:8") ||
		s.Rules[0].Why != "specs[0].egressDeny[0]: toCIDRSet 169.254.0.0/16 contains 169.254.169.254, no toPorts (every port)" {
		t.Errorf("rules %+v, want egressDeny[0] (rule 1) at line 8", s.Rules)
	}
}

// TestCiliumHostNetwork checks that only a host policy (nodeSelector)
// leaves host-network pods open to question.
func TestCiliumHostNetwork(t *testing.T) {
	pod := strings.Replace(adminPod, "spec: {containers:", "spec: {hostNetwork: true, containers:", 1)
	a := evaluateYAML(t, ciliumCCNP("pods", `endpointSelector: {}, egressDeny: [{toEntities: [world]}]`), pod)
	if got := a.Workloads[0].Results[targetIndex(t, imds4)]; got.Verdict != reach.Reachable {
		t.Errorf("endpointSelector only: %s, want Reachable (host-network pods are not endpoints)", got.Verdict)
	}
	a = evaluateYAML(t, ciliumCCNP("host", `nodeSelector: {}, egressDeny: [{toEntities: [world]}]`), pod)
	got := a.Workloads[0].Results[targetIndex(t, imds4)]
	if got.Verdict != reach.Unknown || len(got.Trace) != 2 || got.Trace[1].Layer != reach.LayerCilium {
		t.Errorf("host policy: %s\n%s, want Unknown with a Cilium step", got.Verdict, formatTrace(got.Trace))
	}
}

// TestCiliumIncomplete checks that a Cilium policy that could not be read
// keeps Blocked verdicts from being trusted in its namespace.
func TestCiliumIncomplete(t *testing.T) {
	broken := ciliumNPHead + "metadata: {name: broken, namespace: web}\nspec: {endpointSelector: {}, egress: [{toCIDR: [nope]}]}\n"
	a := evaluateYAML(t, ciliumNP("deny-imds", `endpointSelector: {}, egressDeny: [{toCIDR: [169.254.169.254/32]}]`), broken, adminPod)
	if got := a.Workloads[0].Results[targetIndex(t, imds4)]; got.Verdict != reach.Unknown {
		t.Errorf("verdict %s, want Unknown", got.Verdict)
	}
}

// TestCalicoAndCiliumTogether: a pod that both Calico and Cilium policies
// select is Unknown, whatever either says.
func TestCalicoAndCiliumTogether(t *testing.T) {
	a := evaluateYAML(t, `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: apps, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}`, `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-imds, namespace: apps}
spec:
  selector: all()
  types: [Egress]
  egress: [{action: Deny, destination: {nets: [169.254.169.254/32, "fd00:ec2::254/128"]}}, {action: Allow}]`, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-all, namespace: apps}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]`)
	for _, r := range a.Workloads[0].Results {
		if r.Verdict != reach.Unknown || r.Trace[len(r.Trace)-1].Layer != reach.LayerCilium {
			t.Fatalf("got %s, trace %+v; want Unknown from the Cilium layer", r.Verdict, r.Trace)
		}
	}
}
