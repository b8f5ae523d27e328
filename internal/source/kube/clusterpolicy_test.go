package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestClusterNetworkPolicyLive reads ClusterNetworkPolicies of both tiers
// from a cluster that serves the upstream v1alpha2 CRD: the Admin tier's
// Deny blocks the IPv4 endpoint, the Baseline tier's the IPv6 one, and the
// traces name each policy and rule. Then an Admin-tier Accept of higher
// precedence lets the IPv4 endpoint out again.
func TestClusterNetworkPolicyLive(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	env.InstallUpstreamCRDs(t, "policy.networking.k8s.io_clusternetworkpolicies.yaml")
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := env.Clientset.Discovery().ServerResourcesForGroupVersion("policy.networking.k8s.io/v1alpha2")
		return err == nil, nil
	})
	if err != nil {
		t.Fatal("CRD not served:", err)
	}
	create(t, env, readObjects(t, "testdata/clusterpolicy/cluster.yaml"))
	res := liveScan(t, env.Config, kube.Options{Cluster: "c"})
	if len(res.InputErrors) > 0 {
		t.Fatalf("input errors: %v", res.InputErrors)
	}
	wr, err := res.FindWorkload("web/Deployment/web")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		layer        reach.Layer
		policy, rule string
	}{
		"169.254.169.254:80/TCP": {reach.LayerAdmin, "deny-metadata", "deny-metadata egress rule 1 (Deny)"},
		"[fd00:ec2::254]:80/TCP": {reach.LayerBaseline, "baseline", "baseline egress rule 0 (Deny)"},
	}
	for i, r := range wr.Results {
		target := res.Analysis.Targets[i].String()
		w, ok := want[target]
		if !ok {
			t.Errorf("unexpected target %s", target)
			continue
		}
		if r.Verdict != reach.Blocked {
			t.Errorf("%s: %s, want Blocked", target, r.Verdict)
			continue
		}
		last := r.Trace[len(r.Trace)-1]
		if last.Layer != w.layer || last.Decision != reach.Deny || len(last.Rules) != 1 ||
			last.Rules[0].Policy.Kind != model.KindClusterNetworkPolicy || last.Rules[0].Policy.Name != w.policy ||
			!strings.Contains(last.Reason, w.rule) || last.Rules[0].Source.Cluster != "c" {
			t.Errorf("%s: last step %+v, want %s deciding by %s", target, last, w.layer, w.rule)
		}
	}

	create(t, env, readObjects(t, "testdata/clusterpolicy/accept.yaml"))
	res = liveScan(t, env.Config, kube.Options{Cluster: "c"})
	wr, err = res.FindWorkload("web/Deployment/web")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range wr.Results {
		target := res.Analysis.Targets[i].String()
		if !strings.HasPrefix(target, "169.254.169.254:") {
			continue
		}
		first := r.Trace[0]
		if r.Verdict != reach.Reachable || first.Layer != reach.LayerAdmin || first.Decision != reach.Allow ||
			!strings.Contains(first.Reason, "allow-agent egress rule 0 (Accept)") {
			t.Errorf("%s: %s, trace %+v; want Reachable, allowed by allow-agent egress rule 0", target, r.Verdict, r.Trace)
		}
	}
}
