package deploy_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func fmtSet(set []string) string {
	if len(set) == 0 {
		return "defaults"
	}
	return strings.ReplaceAll(strings.Join(set, ","), "/", "_")
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func container(t *testing.T, dep *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

func containerArgs(t *testing.T, dep *unstructured.Unstructured) []string {
	t.Helper()
	args, _, _ := unstructured.NestedStringSlice(container(t, dep), "args")
	return args
}

func containerImage(t *testing.T, dep *unstructured.Unstructured) string {
	t.Helper()
	img, _, _ := unstructured.NestedString(container(t, dep), "image")
	return img
}

// grant is one verb on one resource, as an RBAC rule gives it.
type grant struct {
	scope    string // "cluster" or the Role's namespace
	group    string
	resource string
	names    string // resourceNames, joined; "" for every object
	verb     string
}

func (g grant) String() string {
	s := fmt.Sprintf("%s %s/%s %s", g.scope, g.group, g.resource, g.verb)
	if g.names != "" {
		s += " [" + g.names + "]"
	}
	return s
}

// rbacRules flattens the ClusterRoles and Roles rendered into grants.
func rbacRules(t *testing.T, objs []*unstructured.Unstructured) []grant {
	t.Helper()
	var out []grant
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
			t.Fatal(err)
		}
		scope := "cluster"
		if o.GetKind() == "Role" {
			scope = o.GetNamespace()
		}
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, grant{scope, g, res, strings.Join(r.ResourceNames, ","), v})
					}
				}
			}
		}
	}
	return out
}

// TestRBACIsLeastPrivilege pins every permission the chart grants: no
// wildcard, no Secret but the certificate's, nothing beyond what the
// controller uses. A new permission has to be added here on purpose.
func TestRBACIsLeastPrivilege(t *testing.T) {
	grants := rbacRules(t, decode(t, renderChart(t)))
	var got []string
	for _, g := range grants {
		if g.group == "*" || g.resource == "*" || g.verb == "*" {
			t.Errorf("wildcard grant %s", g)
		}
		if g.resource == "secrets" && g.names == "" {
			t.Errorf("grant on every Secret: %s", g)
		}
		got = append(got, g.String())
	}
	sort.Strings(got)
	want := []string{
		"cluster /namespaces get", "cluster /namespaces list", "cluster /namespaces watch",
		"cluster /pods get", "cluster /pods list", "cluster /pods watch",
		"cluster admissionregistration.k8s.io/validatingwebhookconfigurations get [imdsguard]",
		"cluster admissionregistration.k8s.io/validatingwebhookconfigurations update [imdsguard]",
		"cluster events.k8s.io/events create", "cluster events.k8s.io/events patch", "cluster events.k8s.io/events update",
		"cluster policy.networking.k8s.io/adminnetworkpolicies get", "cluster policy.networking.k8s.io/adminnetworkpolicies list",
		"cluster policy.networking.k8s.io/adminnetworkpolicies watch", "cluster policy.networking.k8s.io/clusternetworkpolicies get",
		"cluster policy.networking.k8s.io/clusternetworkpolicies list", "cluster policy.networking.k8s.io/clusternetworkpolicies watch",
		"cluster networking.k8s.io/networkpolicies create", "cluster networking.k8s.io/networkpolicies delete",
		"cluster networking.k8s.io/networkpolicies get", "cluster networking.k8s.io/networkpolicies list",
		"cluster networking.k8s.io/networkpolicies update", "cluster networking.k8s.io/networkpolicies watch",
		"imdsguard-system /events create", "imdsguard-system /events patch",
		"imdsguard-system /secrets get [imdsguard-webhook-cert]", "imdsguard-system /secrets update [imdsguard-webhook-cert]",
		"imdsguard-system coordination.k8s.io/leases create",
		"imdsguard-system coordination.k8s.io/leases get [imdsguard-controller]",
		"imdsguard-system coordination.k8s.io/leases update [imdsguard-controller]",
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("grants:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
