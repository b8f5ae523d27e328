package generate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestBuildDryRunExamples: everything Build generates for the examples,
// every group and every form, including the per-namespace policies (the
// complement selectors, the carve-outs) and the patched policies, is
// accepted by a strict server-side dry-run on a real API server.
func TestBuildDryRunExamples(t *testing.T) {
	env := testenv.Get(t)
	InstallCRDs(t, env)
	// Selective policies make complement selectors with every operator.
	selective := filepath.Join(t.TempDir(), "selective.yaml")
	if err := os.WriteFile(selective, []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: selective}
spec:
  podSelector: {matchLabels: {app: web}, matchExpressions: [{key: tier, operator: Exists}]}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: '::ffff:0.0.0.0/96'}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: selective}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [db, cache]}, {key: legacy, operator: DoesNotExist}]}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 169.254.169.254/32}}]}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cloud := range []string{"auto", "all"} {
		t.Run(cloud, func(t *testing.T) {
			res, err := scan.Run(context.Background(), scan.Options{Paths: []string{"../../examples", selective}, Cloud: cloud})
			if err != nil {
				t.Fatal(err)
			}
			in := Input{Inventory: res.Inventory, Analysis: res.Analysis, KeepOpen: res.KeepOpen, Originals: &FileOriginals{}}
			include := map[Group]bool{}
			for _, g := range Groups {
				if g != GroupNode {
					include[g] = true
				}
			}
			set, err := Build(in, Options{ClusterKinds: ClusterKinds, ExemptNamespaces: []string{"kube-system"}}, include)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[Group]int{}
			for _, a := range set.Artifacts {
				seen[a.Group]++
			}
			for g := range include {
				if seen[g] == 0 {
					t.Errorf("no %s artifact", g)
				}
			}
			complements := 0
			for _, a := range set.Artifacts {
				if a.Group == GroupNamespace && a.Object.GetNamespace() == "selective" {
					complements++
				}
			}
			if complements != 4 {
				t.Errorf("namespace selective: %d generated policies, want 4 (2 terms x 2 terms)", complements)
			}
			DryRun(t, env.Config, set.Artifacts)
		})
	}
}
