package generate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/scan"
)

// Two pods of one ReplicaSet (absent, so folded by ownerReference): one on
// the host network, one not.
const mixedPods = `apiVersion: v1
kind: Pod
metadata:
  name: web-a
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9f8, uid: u1, controller: true}]
spec:
  hostNetwork: true
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-b
  namespace: shop
  labels: {app: web}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9f8, uid: u1, controller: true}]
spec:
  containers: [{name: c, image: i}]
`

// TestProveMixedWorkload: a workload with a hostNetwork pod and a
// pod-network pod is an expected gap only when its pod-network pod is
// closed; when the pod-network pod stays open (its policy cannot be
// patched), the proof fails.
func TestProveMixedWorkload(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		ok          bool
		why         string
	}{
		{"pod-network pod closed", "", true, "uses the host network"},
		{"pod-network pod left open", `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: odd, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: '::/0', except: ['::ffff:0:0/96']}}]}]
`, false, "may allow it, depending on the CNI"},
		{"pod-network pod let out by a ClusterNetworkPolicy", `---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: allow-imds}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  egress: [{action: Accept, to: [{networks: [169.254.169.254/32]}]}]
`, false, "let out by ClusterNetworkPolicy allow-imds egress rule 0, an admin policy rule that is decided before every NetworkPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(f, []byte(mixedPods+tc.extra), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := scan.Run(context.Background(), scan.Options{Paths: []string{f}, Cloud: "aws"})
			if err != nil || len(res.InputErrors) > 0 {
				t.Fatalf("scan: %v %v", err, res.InputErrors)
			}
			if n := len(res.Inventory.Workloads); n != 1 || len(res.Inventory.Workloads[0].Templates) != 2 {
				t.Fatalf("want one folded workload with two pod shapes, got %d", n)
			}
			in := generate.Input{Inventory: res.Inventory, Analysis: res.Analysis, KeepOpen: res.KeepOpen, Originals: &generate.FileOriginals{}}
			include := map[generate.Group]bool{generate.GroupNamespace: true, generate.GroupPatch: true}
			set, err := generate.Build(in, generate.Options{}, include)
			if err != nil {
				t.Fatal(err)
			}
			p, err := generate.Prove(in, set, generate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.OK() != tc.ok || len(p.Open) != 1 || !strings.Contains(p.Open[0].Why, tc.why) {
				t.Errorf("OK %v, want %v; open %+v", p.OK(), tc.ok, p.Open)
			}
		})
	}
}

// TestProveAdminPolicies: the generated AdminNetworkPolicy (and the Admin
// tier ClusterNetworkPolicy) is part of the proof, so on the examples it
// closes every pod-network workload by itself
// (the hostNetwork DaemonSet stays open); the BaselineAdminNetworkPolicy
// alone leaves open the workloads that NetworkPolicies isolate and allow.
func TestProveAdminPolicies(t *testing.T) {
	res, err := scan.Run(context.Background(), scan.Options{Paths: []string{"../../examples"}, Cloud: "auto"})
	if err != nil || len(res.InputErrors) > 0 {
		t.Fatalf("scan: %v %v", err, res.InputErrors)
	}
	in := generate.Input{Inventory: res.Inventory, Analysis: res.Analysis, KeepOpen: res.KeepOpen, Originals: &generate.FileOriginals{}}
	for _, tc := range []struct {
		kind string
		open []string
	}{
		{generate.KindANP, []string{"monitoring/node-exporter"}},
		{generate.KindBANP, []string{"analytics/spark-driver", "monitoring/node-exporter", "storefront/frontend"}},
		{generate.KindCNP, []string{"monitoring/node-exporter"}},
		// A Cilium deny wins over every NetworkPolicy allow.
		{generate.KindCilium, []string{"monitoring/node-exporter"}},
		{generate.KindCalico, []string{"monitoring/node-exporter"}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			o := generate.Options{ClusterKinds: []string{tc.kind}, ExemptNamespaces: []string{"kube-system"}}
			set, err := generate.Build(in, o, map[generate.Group]bool{generate.GroupCluster: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Artifacts) == 0 {
				t.Fatal("nothing generated")
			}
			for i := range set.Artifacts {
				if !generate.InProof(&set.Artifacts[i]) {
					t.Fatalf("artifact %s is not in the proof", set.Artifacts[i].File)
				}
			}
			p, err := generate.Prove(in, set, o)
			if err != nil {
				t.Fatal(err)
			}
			var open []string
			for _, g := range p.Open {
				open = append(open, g.Object.Namespace+"/"+g.Object.Name)
			}
			if strings.Join(open, " ") != strings.Join(tc.open, " ") {
				t.Errorf("open %v, want %v", open, tc.open)
			}
			if p.Closed != p.Workloads-len(tc.open) {
				t.Errorf("closed %d of %d", p.Closed, p.Workloads)
			}
		})
	}
}
