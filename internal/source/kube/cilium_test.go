package kube_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestCiliumPolicyLive installs Cilium's own CRDs (fetched by
// hack/crds.sh; IMDSGUARD_CRDS overrides the directory) in a control plane
// of its own, creates a CiliumNetworkPolicy and a
// CiliumClusterwideNetworkPolicy, and checks the verdicts a live scan
// gives. Then a policy the CRD accepts but the agent refuses is an input
// error, and no verdict in its namespace is Blocked.
func TestCiliumPolicyLive(t *testing.T) {
	dir := os.Getenv("IMDSGUARD_CRDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", ".cache", "crds")
	}
	paths := []string{filepath.Join(dir, "ciliumnetworkpolicies.yaml"), filepath.Join(dir, "ciliumclusterwidenetworkpolicies.yaml")}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v: run hack/crds.sh (or set IMDSGUARD_CRDS)", err)
		}
	}
	env := testenv.Start(t)
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true}); err != nil {
		t.Fatalf("installing the Cilium CRDs: %v", err)
	}
	create(t, env, readObjects(t, "testdata/cilium/cluster.yaml"))
	res := liveScan(t, env.Config, kube.Options{Cluster: "c"})
	if len(res.InputErrors) > 0 {
		t.Fatalf("input errors: %v", res.InputErrors)
	}
	if n := len(res.Inventory.CiliumPolicies); n != 2 {
		t.Fatalf("%d Cilium policies read, want 2", n)
	}
	for _, p := range res.Inventory.CiliumPolicies {
		if p.Source.Cluster != "c" || p.Rules[0].Egress[0].Source.Cluster != "c" {
			t.Errorf("%s: sources %v, %v, want the cluster", p.Ref, p.Source, p.Rules[0].Egress[0].Source)
		}
	}
	isIMDS4 := func(target string) bool { return strings.HasPrefix(target, "169.254.169.254:") }
	for target, v := range verdicts(t, res, "web/Deployment/web") {
		// Default deny with world on 443 only, and the metadata address denied.
		if v != reach.Blocked {
			t.Errorf("web %s: %s, want Blocked", target, v)
		}
	}
	for target, v := range verdicts(t, res, "web/Deployment/batch") {
		want := reach.Reachable
		if isIMDS4(target) {
			want = reach.Blocked // only the clusterwide deny selects batch
		}
		if v != want {
			t.Errorf("batch %s: %s, want %s", target, v, want)
		}
	}

	create(t, env, readObjects(t, "testdata/cilium/refused.yaml"))
	res = liveScan(t, env.Config, kube.Options{Cluster: "c"})
	if len(res.InputErrors) != 1 || !strings.Contains(res.InputErrors[0].Error(), "CiliumNetworkPolicy web/combined: spec.egress[0]: combining toCIDR and toEntities") {
		t.Fatalf("input errors %v, want the refused rule", res.InputErrors)
	}
	for target, v := range verdicts(t, res, "web/Deployment/batch") {
		if v == reach.Blocked {
			t.Errorf("batch %s: Blocked, although a policy in its namespace was not read", target)
		}
	}
}
