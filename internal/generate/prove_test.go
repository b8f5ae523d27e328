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
