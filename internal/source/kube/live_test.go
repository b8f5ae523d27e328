package kube_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

const examples = "../../../examples/cluster"

// findingKey is a finding apart from where it was read.
func findingKeys(res *scan.Result, namespaces map[string]bool) []string {
	var out []string
	for _, f := range res.Findings {
		if namespaces != nil && !namespaces[f.Namespace] {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %v", f.RuleID, f.Severity, f.Namespace, f.Object, f.Targets))
	}
	sort.Strings(out)
	return out
}

// TestEquivalence creates the objects of examples/cluster in a real API
// server and checks that the live scan finds what the offline scan of the
// same files finds.
func TestEquivalence(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	// The Kubernetes manifests only: a cluster holds no CloudFormation.
	var files []string
	for _, f := range glob(t, examples+"/*") {
		if !strings.HasSuffix(f, ".cfn.yaml") {
			files = append(files, f)
		}
	}
	objs := readObjects(t, files...)
	create(t, env, objs)
	namespaces := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			namespaces[o.GetName()] = true
		} else if o.GetNamespace() != "" {
			namespaces[o.GetNamespace()] = true
		}
	}
	offline, err := scan.Run(ctx, scan.Options{Paths: files})
	if err != nil || len(offline.InputErrors) > 0 {
		t.Fatalf("offline scan: %v %v", err, offline.InputErrors)
	}
	var read atomic.Int64
	live, err := scan.Run(ctx, scan.Options{Live: kube.Loader(env.Config, kube.Options{Cluster: "envtest", Objects: &read})})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range live.InputErrors {
		t.Errorf("live input error: %s", e.Error())
	}
	// The progress counter saw every object created (and the cluster's own).
	if n := read.Load(); n < int64(len(objs)) {
		t.Errorf("the loader counted %d objects read, fewer than the %d created", n, len(objs))
	}
	want := findingKeys(offline, nil)
	if len(want) == 0 {
		t.Fatal("offline scan found nothing")
	}
	if diff := cmp.Diff(findingKeys(live, namespaces), want); diff != "" {
		t.Errorf("live findings differ from offline (-live +offline):\n%s", diff)
	}
	for _, f := range live.Findings {
		if f.Source.Cluster != "envtest" {
			t.Errorf("finding %s %s: source %v, want cluster envtest", f.RuleID, f.Object, f.Source)
		}
	}
}

// applyClusterRole creates a ClusterRole from a file, renamed and with
// the rules that drop returns true removed.
func applyClusterRole(t *testing.T, env *testenv.Env, file, name string, drop func(rbacv1.PolicyRule, string) bool) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(b, &role); err != nil {
		t.Fatal(err)
	}
	role.Name = name
	for i := range role.Rules {
		r := &role.Rules[i]
		r.Resources = slices.DeleteFunc(r.Resources, func(res string) bool { return drop(*r, res) })
	}
	role.Rules = slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return len(r.Resources) == 0 })
	if _, err := env.Clientset.RbacV1().ClusterRoles().Create(context.Background(), &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

const rbacObjects = `
apiVersion: v1
kind: Namespace
metadata: {name: rbac}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-metadata, namespace: rbac}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: rbac}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
`

// verdicts returns the verdicts of a workload, by target.
func verdicts(t *testing.T, res *scan.Result, key string) map[string]reach.Verdict {
	t.Helper()
	wr, err := res.FindWorkload(key)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]reach.Verdict{}
	for i, r := range wr.Results {
		out[res.Analysis.Targets[i].String()] = r.Verdict
	}
	return out
}

func liveScan(t *testing.T, cfg *rest.Config, opts kube.Options) *scan.Result {
	t.Helper()
	res, err := scan.Run(context.Background(), scan.Options{Cloud: "aws", Live: kube.Loader(cfg, opts)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRBAC scans as a token user bound to deploy/rbac/clusterrole.yaml,
// then as one whose role lacks networkpolicies.
func TestRBAC(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/rbac.yaml", []byte(rbacObjects), 0o644); err != nil {
		t.Fatal(err)
	}
	create(t, env, readObjects(t, dir+"/rbac.yaml"))
	const roleFile = "../../../deploy/rbac/clusterrole.yaml"
	applyClusterRole(t, env, roleFile, "scan-full", func(rbacv1.PolicyRule, string) bool { return false })
	applyClusterRole(t, env, roleFile, "scan-no-netpol", func(r rbacv1.PolicyRule, res string) bool {
		return res == "networkpolicies" && slices.Contains(r.APIGroups, "networking.k8s.io")
	})

	t.Run("shipped role", func(t *testing.T) {
		cfg, _ := env.User(t, "scan-full")
		res := liveScan(t, cfg, kube.Options{Cluster: "c"})
		for _, e := range res.InputErrors {
			t.Errorf("input error with the shipped role: %s", e.Error())
		}
		for target, v := range verdicts(t, res, "rbac/Deployment/web") {
			if strings.HasPrefix(target, "169.254.169.254") && v != reach.Blocked {
				t.Errorf("%s: %s, want Blocked", target, v)
			}
		}
	})
	t.Run("without networkpolicies", func(t *testing.T) {
		cfg, _ := env.User(t, "scan-no-netpol")
		for _, ns := range []string{"", "rbac"} {
			res := liveScan(t, cfg, kube.Options{Cluster: "c", Namespace: ns})
			where := "in all namespaces"
			if ns != "" {
				where = "in namespace " + ns
			}
			want := "cluster c: cannot list networkpolicies " + where + ": forbidden"
			if len(res.InputErrors) != 1 || !strings.HasPrefix(res.InputErrors[0].Error(), want) {
				t.Fatalf("input errors %v, want one starting %q", res.InputErrors, want)
			}
			for target, v := range verdicts(t, res, "rbac/Deployment/web") {
				if v != reach.Unknown {
					t.Errorf("namespace %q: %s: %s, want Unknown", ns, target, v)
				}
			}
		}
	})
}
